"""User errors as one line: the exception types the ``hashlab`` command reports without a traceback, the
one-line text it prints, and option parsers whose errors name the option."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USER_ERROR",
    "USER_ERRORS",
    "UserError",
    "json_option",
    "one_line",
    "run_console",
]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


class UserError(ValueError):
    """Something the user asked for cannot be done as asked; the message says what and names the option or file."""


USER_ERRORS: tuple[type[BaseException], ...] = (UserError, KeyError, ValueError, OSError)
"""Exception types ``run_console`` turns into one ``hashlab: error: ...`` line (exit status 2)."""


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (``KeyError`` unquoted, line breaks joined with '; ')."""
    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    else:
        text = str(err) or type(err).__name__
    parts = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(parts) if parts else type(err).__name__


def json_option(text: str, option: str) -> dict[str, Any]:
    """Parse the JSON object given to ``option``; a ``UserError`` naming the option when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{option}: not valid JSON ({err.msg} at character {err.pos}): {text!r}") from None
    if not isinstance(value, dict):
        raise UserError(f"{option}: expected a JSON object like '{{\"alpha\": 0.1}}', got {text!r}")
    return value


def run_console(main: Callable[[], int | None], prog: str = "hashlab") -> NoReturn:
    """Run ``main`` and exit: its status; 2 with one ``<prog>: error: ...`` line for a user error; 130 with one
    line for Ctrl-C. Other exceptions (bugs) keep their traceback.

    Lightning catches Ctrl-C inside ``Trainer.fit`` and calls ``sys.exit(1)`` without a word; a SIGINT handler
    remembers the interrupt, so that exit is reported as the interrupt it is.
    """
    interrupted = False
    previous = None

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        status = main()
    except KeyboardInterrupt:
        interrupted = True
    except SystemExit:
        if not interrupted:
            raise
    except USER_ERRORS as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(int(status or 0))
