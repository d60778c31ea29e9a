"""File integrity and download helpers shared by the loaders: MD5 with a per-file-version stamp, plain downloads."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
from pathlib import Path

from hashlab.config import atomic_write

DOWNLOAD_TIMEOUT_S = 30


def file_md5(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_MD5_MEMO: dict[tuple[str, int, int], str] = {}


def cached_md5(path: Path) -> str:
    """MD5 of ``path``, remembered in a ``.md5ok`` sidecar (or in memory if the folder is read-only).

    The cache key is (size, mtime_ns): a replaced or edited file is hashed again.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _MD5_MEMO:
        return _MD5_MEMO[key]
    stamp = path.with_name(path.name + ".md5ok")
    try:
        info = json.loads(stamp.read_text())
        if info.get("size") == stat.st_size and info.get("mtime_ns") == stat.st_mtime_ns:
            _MD5_MEMO[key] = info["md5"]
            return info["md5"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    md5 = file_md5(path)
    _MD5_MEMO[key] = md5
    if folder_writable(path.parent):  # a read-only folder (shared data) is never written: memo only
        try:
            with atomic_write(stamp) as tmp:
                tmp.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "md5": md5}))
        except OSError:
            pass
    return md5


def folder_writable(folder: Path) -> bool:
    """True if ``folder`` is writable for us *and* its mode has a write bit (root ignores mode bits otherwise)."""
    try:
        return bool(folder.stat().st_mode & 0o222) and os.access(folder, os.W_OK)
    except OSError:
        return False


def download(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` (a temporary path chosen by the caller, renamed after its checksum matched)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)
