"""Safe file handling: atomic writes with the umask's mode, hashlab-only temporary names, a lock per output folder,
and checks of output paths before any long work.

Guarantees (``docs/evaluation.md``, "Guarantees"):

- :func:`atomic_write` never leaves a partial file at its target: it writes ``.hashlab-tmp-<pid>-<random>...`` beside
  the target and renames it over the target only when the block succeeds. The finished file gets the mode the umask
  gives (``0o666 & ~umask``, e.g. 0644 under umask 022), like any file a program creates with ``open``.
- :func:`remove_own_temporaries` deletes only files named by :func:`atomic_write` whose process is gone; a user's
  ``.notes.tmp.txt`` and another live run's temporary file are left alone.
- :func:`lock_folder` refuses a second concurrent run on one folder (``fcntl.flock`` on ``.hashlab.lock``, which
  holds the owner's pid); the kernel releases the lock when its process dies, so a stale lock file is taken over.
- :func:`check_output_dir` / :func:`check_output_file` raise one line naming the option before any work.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hashlab.errors import UserError

__all__ = [
    "LOCK_NAME",
    "TMP_PREFIX",
    "FolderLockedError",
    "atomic_write",
    "check_output_dir",
    "check_output_file",
    "file_mode",
    "lock_folder",
    "pid_alive",
    "remove_own_temporaries",
]

TMP_PREFIX = ".hashlab-tmp-"
"""Every temporary file hashlab writes starts with this, then ``<pid>-``: no other program makes such a name."""
LOCK_NAME = ".hashlab.lock"


class FolderLockedError(UserError):
    """Another live hashlab process holds the folder's lock."""


def file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open(path, "w")`` would give a new file in this process."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (``kill(pid, 0)``; a process of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _writable_folder(path: Path, option: str, target: Path) -> None:
    """Raise one line naming ``option`` when ``path`` (or its nearest existing ancestor) cannot hold new files."""
    anc = _nearest_existing(path)
    label = f"{option} {target}" if option else str(target)
    if not anc.is_dir():
        raise NotADirectoryError(f"{label}: {anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise PermissionError(f"{label}: folder {anc} is not writable")


def check_output_dir(path: str | os.PathLike, option: str = "") -> Path:
    """Check, without creating anything, that ``path`` is (or can become) a writable folder.

    Raises ``NotADirectoryError`` when it or an ancestor is a file, ``PermissionError`` when the folder that would
    hold it is not writable; the message names ``option`` (e.g. ``"--out"``). Returns the expanded path.
    """
    target = Path(path).expanduser()
    label = f"{option} {target}" if option else str(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{label}: is a file, not a folder")
    _writable_folder(target, option, target)
    return target


def check_output_file(path: str | os.PathLike, option: str = "") -> Path:
    """Check, without creating anything, that a file can be written at ``path``.

    Raises ``IsADirectoryError`` when ``path`` is a folder, ``NotADirectoryError`` when an ancestor is a file,
    ``PermissionError`` when its folder or an existing file is not writable; the message names ``option``.
    """
    target = Path(path).expanduser()
    label = f"{option} {target}" if option else str(target)
    if target.is_dir():
        raise IsADirectoryError(f"{label}: is a folder; give a file name")
    if target.exists() and not os.access(target, os.W_OK):
        raise PermissionError(f"{label}: the file is not writable")
    _writable_folder(target.parent, option, target)
    return target


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    An interrupted or failing write never leaves a partial file at ``path``: the temporary file is removed. The
    temporary name is ``.hashlab-tmp-<pid>-<random><suffix>``; ``suffix`` (default: the target's extensions) keeps
    an extension on it (``np.savez`` appends ``.npz`` otherwise). The file gets the mode the umask gives. A target
    that is a folder, or lies under a regular file, raises an ``OSError`` naming the target (not the temporary).
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "cannot write a file here: it is a folder", str(target))
    anc = _nearest_existing(target.parent)
    if not anc.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, f"cannot write here: {anc} is a file, not a folder", str(target)
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(target.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, file_mode())  # mkstemp creates 0600; a plain open() would have given 0666 & ~umask
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def remove_own_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files :func:`atomic_write` left in ``folder`` (not recursive) when the process that
    wrote them is gone; return what was deleted. Files of live processes and every other file are kept."""
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        name = entry.name
        if not name.startswith(TMP_PREFIX) or not entry.is_file() or entry.is_symlink():
            continue
        pid_text = name[len(TMP_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


def _lock_holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "unknown"
    return text.splitlines()[0] if text else "unknown"


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike, what: str = "hashlab run") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) for the block; raise :class:`FolderLockedError`
    (one line naming the folder and the holder's pid) when another process holds it.

    The lock is ``fcntl.flock`` on ``folder/.hashlab.lock``, a file that records the holder's pid. The kernel drops
    the lock when the holder exits, however it exits, so a lock file left by a dead process is simply taken over.
    On a system without ``fcntl`` the block runs unlocked.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield path
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderLockedError(
                f"{root} is in use by another {what} (pid {_lock_holder(path)}); wait for it to finish or use "
                "another folder"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file between our open and our lock: try again
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
