"""Which files count as images, and walking folders for them in a stable order."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "is_image_file", "list_images"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def is_image_file(path: str | os.PathLike[str]) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def list_images(root: str | os.PathLike[str]) -> list[Path]:
    """All image files below ``root`` (recursively), sorted so runs are reproducible."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if is_image_file(f))
    return sorted(found)
