"""A dataset as the rest of alexedge sees it: class names plus labelled file lists.

Readers for each on-disk layout produce an ``ImageDataset``; training, compression
and evaluation never look at the layout again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from alexedge.data.files import list_images
from alexedge.errors import DataError

__all__ = ["ImageDataset", "Sample", "load_dataset"]


@dataclass(frozen=True)
class Sample:
    path: str
    label: int


@dataclass(frozen=True)
class ImageDataset:
    """Class ``i`` is ``class_ids[i]`` (folder name or wnid), shown as ``class_names[i]``."""

    root: str
    class_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)


def load_dataset(root: str | os.PathLike[str], classes: int | None = None) -> ImageDataset:
    """Read a folder-per-class dataset: ``root/train/<class>/*`` and ``root/val/<class>/*``.

    ``classes`` keeps the first N classes in sorted folder order. Raises
    ``DataError`` with the reason when the folder cannot be used for training.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    train_dir, val_dir = root / "train", root / "val"
    if not train_dir.is_dir() or not val_dir.is_dir():
        raise DataError(f"{root}: expected sub-folders train/<class>/ and val/<class>/ with images")
    class_ids = sorted(
        d.name for d in train_dir.iterdir() if d.is_dir() and not d.name.startswith(".")
    )
    if classes is not None:
        if classes > len(class_ids):
            raise DataError(f"{root}: asked for {classes} classes but it has {len(class_ids)}")
        class_ids = class_ids[:classes]
    if len(class_ids) < 2:
        raise DataError(f"{train_dir}: found {len(class_ids)} class folder(s); need at least 2")
    train = _samples(train_dir, class_ids)
    val = _samples(val_dir, class_ids)
    for split, samples in (("train", train), ("val", val)):
        if not samples:
            raise DataError(f"{root / split}: no images found")
    return ImageDataset(
        root=str(root),
        class_ids=tuple(class_ids),
        class_names=tuple(c.replace("_", " ") for c in class_ids),
        train=train,
        val=val,
    )


def _samples(split_dir: Path, class_ids: list[str]) -> tuple[Sample, ...]:
    samples: list[Sample] = []
    for label, class_id in enumerate(class_ids):
        samples.extend(Sample(str(p), label) for p in list_images(split_dir / class_id))
    return tuple(samples)
