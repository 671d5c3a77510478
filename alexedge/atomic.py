"""Write files so that a crash never leaves a half-written artifact behind.

Every artifact is written to a temporary sibling and renamed into place; rename is
atomic on POSIX within one filesystem, so readers see the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_bytes", "write_json", "write_text"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Use it for writers that insist on a file name (Keras ``save``, ``Image.save``).
    On an exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")
