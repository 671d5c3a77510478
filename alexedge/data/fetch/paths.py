"""Every file ``data fetch`` creates, opened only after its path is checked to stay in OUT.

Names built from URLs cannot escape (``safe_name``), but OUT itself may hold what a
person or another program planted: a symlinked class folder, ``manifest.jsonl``
pointing at ``~/.bashrc``, a dangling link. So each path is walked component by
component from OUT and refused if any part is a symlink, and files are opened with
``O_NOFOLLOW`` so a link planted after the check is refused too.

Temporary files are named ``.<name>.alexedge-fetch.tmp``: hidden from dataset
readers, and recognisable, so a resume sweeps away what a kill left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote, urlsplit

from alexedge.errors import DataError

__all__ = [
    "TEMP_SUFFIX",
    "checked_path",
    "open_append",
    "open_read",
    "prepare_out",
    "remove_file",
    "safe_name",
    "sweep_temp_files",
    "write_file",
]

TEMP_SUFFIX = ".alexedge-fetch.tmp"
# What alexedge.atomic's mkstemp names looked like for fetched files before
# TEMP_SUFFIX existed (".<stem>.<8 random>.tmp<suffix>"): earlier kills left these.
_LEGACY_TEMP = re.compile(
    r"^\.(?:[A-Za-z0-9_-]+_[0-9a-f]{12}|manifest)\.[a-z0-9_]{8}"
    r"\.tmp\.(?:jpg|png|gif|webp|bmp|tif|jsonl)$"
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# 0o666 and the process umask decide the mode, as for any file a tool creates.
_FILE_MODE = 0o666
_STEM_CHARS = 48
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def prepare_out(out: Path, classes: Iterable[str]) -> Path:
    """Create OUT, resolve it once, and refuse class folders that are symlinks."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise DataError(f"{out}: exists and is not a folder; choose another output folder") from e
    except OSError as e:
        raise DataError(f"{out}: cannot create output folder ({e.strerror})") from e
    out = out.resolve()
    for cls in classes:
        checked_path(out, f"{cls}/x")
    return out


def checked_path(out: Path, relative: str) -> Path:
    """``out/relative`` after checking no component below ``out`` is a symlink.

    Raises:
        DataError: ``relative`` is not a plain relative path, a component is a
            symlink, or a folder component is a file.
    """
    parts = PurePosixPath(relative).parts
    if (
        not parts
        or PurePosixPath(relative).is_absolute()
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise DataError(f"{out / relative}: not a plain path inside the output folder {out}")
    path = out
    for i, part in enumerate(parts):
        path = path / part
        try:
            info = path.lstat()
        except FileNotFoundError:
            return out.joinpath(*parts)
        if stat.S_ISLNK(info.st_mode):
            raise DataError(
                f"{path}: is a symlink; refusing to write through it, since it could lead "
                f"outside the output folder {out}; remove the link or choose another output folder"
            )
        if i < len(parts) - 1 and not stat.S_ISDIR(info.st_mode):
            raise DataError(f"{path}: is a file where a folder belongs; remove it")
    return path


def write_file(out: Path, relative: str, data: bytes) -> Path:
    """Write ``out/relative`` atomically: a recognisable temp file, fsync, rename."""
    target = checked_path(out, relative)
    try:
        target.parent.mkdir(exist_ok=True)
        checked_path(out, relative)  # the folder we may just have created
        tmp = target.with_name(f".{target.name}{TEMP_SUFFIX}")
        tmp.unlink(missing_ok=True)  # a kill's leftover; unlinking a planted link is harmless
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, _FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)  # replaces a link itself, never what it points to
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise DataError(f"{target}: cannot write ({e.strerror}); check the output folder") from e
    return target


def open_append(out: Path, relative: str) -> IO[str]:
    """Open ``out/relative`` for appending text, creating it, never through a link."""
    path = _regular_or_missing(out, relative)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC
    try:
        return os.fdopen(os.open(path, flags, _FILE_MODE), "a", encoding="utf-8")
    except OSError as e:
        raise DataError(f"{path}: cannot open for writing ({e.strerror})") from e


def open_read(out: Path, relative: str) -> IO[str] | None:
    """Open ``out/relative`` as text, or None if it does not exist; never through a link."""
    path = _regular_or_missing(out, relative)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from e
    return os.fdopen(fd, encoding="utf-8", errors="replace")


def remove_file(out: Path, relative: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        checked_path(out, relative).unlink()


def _regular_or_missing(out: Path, relative: str) -> Path:
    # A FIFO or device planted under the name would block or misbehave on open.
    path = checked_path(out, relative)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(path.lstat().st_mode):
            raise DataError(
                f"{path}: not a regular file; remove it or choose another output folder"
            )
    return path


def sweep_temp_files(out: Path, classes: Iterable[str]) -> int:
    """Remove the temp files earlier runs left in OUT and its class folders; return how many.

    Only one file is ever in flight, so this finds at most one per kill; it also
    removes the pile older versions left.
    """
    removed = 0
    for folder in [out, *(out / cls for cls in classes)]:
        try:
            if not stat.S_ISDIR(folder.lstat().st_mode):
                continue
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.endswith(TEMP_SUFFIX) or _LEGACY_TEMP.match(entry.name):
                if entry.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def safe_name(url: str, suffix: str) -> str:
    """``<readable stem>_<url hash><suffix>``: unique per URL and unable to name a path.

    Only ``[A-Za-z0-9_-]`` survive from the URL, so no ``..``, separator, percent
    escape or drive letter can; the hash keeps ``a/1.jpg`` and ``b/1.jpg`` apart.
    """
    path = unquote(urlsplit(url).path).replace("\\", "/")
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = _UNSAFE_CHARS.sub("_", stem).strip("_-")[:_STEM_CHARS] or "image"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return f"{stem}_{digest}{suffix}"
