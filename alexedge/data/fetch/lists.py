"""Reading ``LISTS/<class>.txt``: which classes there are and the URLs of each."""

from __future__ import annotations

import re
from pathlib import Path

from alexedge.data.fetch.manifest import MANIFEST_NAME
from alexedge.errors import DataError

__all__ = ["read_lists"]

# A class becomes a folder name and, in load_dataset, a label ("_" shows as a space):
# no separators, no leading dot, nothing a filesystem could read as a path. Matched
# with fullmatch: "$" alone also matches before a final newline ("cat\n").
_CLASS_NAME = re.compile(r"\w[\w.+-]*(?<!\.)")


def read_lists(lists: Path) -> dict[str, list[str]]:
    """Map each class (the list file's stem) to its distinct URLs, in list order."""
    if not lists.exists():
        raise DataError(f"{lists}: no such folder; expected one <class>.txt URL list per class")
    if not lists.is_dir():
        raise DataError(f"{lists}: not a folder; expected one <class>.txt URL list per class")
    files = sorted(p for p in lists.glob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"{lists}: no .txt files; expected one <class>.txt URL list per class")
    classes: dict[str, list[str]] = {}
    folded: dict[str, Path] = {}
    for path in files:
        cls = path.stem
        if not _CLASS_NAME.fullmatch(cls) or cls.casefold() == MANIFEST_NAME:
            raise DataError(
                f"{path}: {cls!r} cannot be a class folder name; rename the file to letters, "
                "digits, '_', '-', '+' or '.' (not first or last), e.g. n01440764.txt"
            )
        # Cat.txt and cat.txt would share one folder on macOS and Windows.
        if cls.casefold() in folded:
            raise DataError(f"{path} and {folded[cls.casefold()]}: class names differ only in case")
        folded[cls.casefold()] = path
        classes[cls] = _read_urls(path)
    return classes


def _read_urls(path: Path) -> list[str]:
    # Old lists mix encodings; a mangled URL simply fails as bad_url or http_404.
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))
