"""A dataset as the rest of alexedge sees it: class names plus labelled file lists.

Readers for each on-disk layout (``alexedge.data.layouts``) say which classes and
files exist; this module picks the classes, makes the splits and assigns labels,
once, so training, compression and evaluation never look at the layout again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from alexedge.data.layouts import SplitFiles, class_names, detect_layout, get_layout
from alexedge.errors import ConfigError, DataError

__all__ = ["ImageDataset", "Sample", "check_root", "load_dataset"]


@dataclass(frozen=True)
class Sample:
    path: str
    label: int


@dataclass(frozen=True)
class ImageDataset:
    """Class ``i`` is ``class_ids[i]`` (folder name or wnid), shown as ``class_names[i]``.

    ``test`` is empty unless the dataset has a test folder or a test fraction was
    asked for; ``layout`` records which reader produced it.
    """

    root: str
    class_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...] = ()
    layout: str = "folders"

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)


def load_dataset(
    root: str | os.PathLike[str],
    classes: int | None = None,
    *,
    layout: str = "auto",
    classes_file: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> ImageDataset:
    """Read a dataset in any known layout (see ``alexedge.data.layouts``).

    Args:
        root: the dataset folder.
        classes: keep the first N classes in sorted id (wnid / folder) order.
        layout: ``"auto"`` or a name from ``alexedge.data.layouts.LAYOUTS``.
        classes_file: keep only the classes named in it, one id a line (``#`` comments
            and blank lines ignored). Labels stay in sorted id order either way.
        val_fraction: share of each class's training images held out for validation
            when the dataset has no validation split of its own.
        test_fraction: share of each class's training images held out as a test
            split (not allowed when the dataset has a ``test/`` folder).
        seed: fixes which files the held-out splits get.

    Raises:
        DataError: the folder, layout, class choice or images cannot be used.
        ConfigError: the fractions are out of range, or both subsets were given.
    """
    root = check_root(Path(root))
    _check_fractions(val_fraction, test_fraction)
    reader = detect_layout(root) if layout == "auto" else get_layout(layout)
    class_ids = _select_classes(root, reader.classes(root), classes, classes_file)
    files = reader.files(root, class_ids)
    _check_train(root, files["train"])
    splits = _make_splits(root, files, val_fraction, test_fraction, seed)
    return ImageDataset(
        root=str(root),
        class_ids=tuple(class_ids),
        class_names=tuple(class_names(root, class_ids)),
        train=_samples(splits["train"], class_ids),
        val=_samples(splits["val"], class_ids),
        test=_samples(splits.get("test", {}), class_ids),
        layout=reader.name,
    )


def check_root(root: Path) -> Path:
    """``root`` if it is a folder; ``DataError`` naming it otherwise (cheap: no scan)."""
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    return root


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction must leave some training images, got "
            f"{val_fraction} + {test_fraction}"
        )


def _select_classes(
    root: Path,
    available: list[str],
    classes: int | None,
    classes_file: str | os.PathLike[str] | None,
) -> list[str]:
    if classes is not None and classes_file is not None:
        raise ConfigError("give either a class count or a classes file, not both")
    chosen = sorted(available)
    if classes_file is not None:
        chosen = _read_classes_file(Path(classes_file), set(available))
    elif classes is not None:
        if classes > len(chosen):
            raise DataError(f"{root}: asked for {classes} classes but it has {len(chosen)}")
        chosen = chosen[: max(classes, 0)]
    if len(chosen) < 2:
        raise DataError(f"{root}: found {len(chosen)} class(es); need at least 2")
    return chosen


def _read_classes_file(path: Path, available: set[str]) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read classes file ({e})") from e
    wanted = {s.strip() for s in lines if s.strip() and not s.strip().startswith("#")}
    unknown = sorted(wanted - available)
    if unknown:
        shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise DataError(
            f"{path}: {len(unknown)} class(es) not in the dataset: {shown}; "
            "use wnids or folder names, one a line"
        )
    return sorted(wanted)


def _check_train(root: Path, train: Mapping[str, list[str]]) -> None:
    empty = [cid for cid, paths in train.items() if not paths]
    if len(empty) == len(train):
        raise DataError(f"{root}: no training images found")
    if empty:
        raise DataError(
            f"{root}: no training images for class(es) {', '.join(empty[:10])}; "
            "add images or leave them out with a classes file"
        )


def _make_splits(
    root: Path, files: SplitFiles, val_fraction: float, test_fraction: float, seed: int
) -> SplitFiles:
    """Use the dataset's own val/test splits; hold out the missing ones from train."""
    has_val = any(files.get("val", {}).values())
    if "val" in files and not has_val:
        raise DataError(f"{root}: the validation split has no images of the chosen classes")
    if "test" in files and test_fraction > 0:
        raise ConfigError(f"{root} has its own test split; drop test_fraction")
    if not has_val and val_fraction == 0:
        raise DataError(f"{root}: no validation split; set val_fraction > 0 or add val/")
    splits: SplitFiles = {"train": {}, "val": {}}
    if "test" in files:
        splits["test"] = files["test"]
    elif test_fraction > 0:
        splits["test"] = {}
    for cid, paths in files["train"].items():
        ordered = sorted(paths, key=lambda p: _split_key(root, p, seed))
        n_test = _held_out(len(ordered), test_fraction) if "test" not in files else 0
        n_val = 0 if has_val else _held_out(len(ordered) - n_test, val_fraction)
        if n_test:
            splits["test"][cid] = sorted(ordered[:n_test])
        if not has_val:
            splits["val"][cid] = sorted(ordered[n_test : n_test + n_val])
        splits["train"][cid] = sorted(ordered[n_test + n_val :])
    if has_val:
        splits["val"] = files["val"]
    return splits


def _split_key(root: Path, path: str, seed: int) -> str:
    # A hash of the path relative to the root, not a shuffled index: the split of a
    # file stays put when files are added to or removed from its class, and when
    # the dataset folder moves.
    rel = os.path.relpath(path, root)
    return hashlib.sha1(f"{seed}\0{rel}".encode()).hexdigest()


def _held_out(n: int, fraction: float) -> int:
    """Per-class count for a held-out split: at least one, never the last image."""
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(n * fraction)))


def _samples(split: Mapping[str, Sequence[str]], class_ids: Sequence[str]) -> tuple[Sample, ...]:
    return tuple(
        Sample(path, label) for label, cid in enumerate(class_ids) for path in split.get(cid, ())
    )
