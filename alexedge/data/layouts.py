"""What is on disk: recognising dataset layouts and listing their files per class.

Each layout answers two questions in two phases, so a 20-class subset of ImageNet
lists 20 folders instead of walking all 1.28 million files: which classes exist
(``classes``), and which files belong to the chosen ones (``files``). Choosing
classes, splitting and labelling happen once, in ``alexedge.data.dataset``.

Layouts:

* ``folders``: ``ROOT/train/<class>/*`` with ``ROOT/val/<class>/*`` (and optionally
  ``ROOT/test/<class>/*``), or a single ``ROOT/<class>/*`` to be split.
* ``imagenet`` (ILSVRC-2012, also the Kaggle ``ILSVRC/Data/CLS-LOC`` tree):
  ``train/<wnid>/*.JPEG``; validation as ``val/<wnid>/*`` or a flat ``val/`` labelled
  by ``LOC_val_solution.csv``; names from ``LOC_synset_mapping.txt``.
* ``tiny-imagenet``: ``wnids.txt``, ``words.txt``, ``train/<wnid>/images/*``,
  ``val/images/*`` labelled by ``val/val_annotations.txt``. Its ``test/`` has no
  labels and is ignored.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from alexedge.data.files import is_image_file, list_images
from alexedge.errors import DataError

__all__ = ["LAYOUTS", "Layout", "SplitFiles", "class_names", "detect_layout", "get_layout"]

# split name ("train", "val", "test") -> class id -> image paths, sorted.
SplitFiles = dict[str, dict[str, list[str]]]

_NAME_FILES = ("LOC_synset_mapping.txt", "words.txt")
_VAL_SOLUTION = "LOC_val_solution.csv"
_KAGGLE_SUBDIR = Path("ILSVRC") / "Data" / "CLS-LOC"


@dataclass(frozen=True)
class Layout:
    """A dataset layout: how to recognise it, list its classes, and list its files."""

    name: str
    description: str
    detect: Callable[[Path], bool]
    classes: Callable[[Path], list[str]]
    files: Callable[[Path, Sequence[str]], SplitFiles]


# --------------------------------------------------------------------------- helpers


def _subdirs(folder: Path) -> list[str]:
    return sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _per_class(split_dir: Path, class_ids: Sequence[str], inner: str = "") -> dict[str, list[str]]:
    """Images below ``split_dir/<class>/<inner>``; a missing class folder lists as empty."""
    found: dict[str, list[str]] = {}
    for cid in class_ids:
        folder = split_dir / cid / inner if inner else split_dir / cid
        found[cid] = [str(p) for p in list_images(folder)] if folder.is_dir() else []
    return found


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e})") from e
    return [line.strip() for line in text.splitlines() if line.strip()]


def _flat_images(folder: Path) -> dict[str, Path]:
    """File stem -> path for the images directly inside ``folder``."""
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and is_image_file(p)}


def class_names(root: Path, class_ids: Sequence[str]) -> list[str]:
    """Human-readable names: the first synonym in a synset mapping / ``words.txt``.

    Falls back to the folder name with ``_`` shown as a space. Two classes with the
    same first synonym (ImageNet has two "crane"s and two "maillot"s) get their id
    appended, so labels.txt never shows one name for two outputs.
    """
    lookup: dict[str, str] = {}
    for name_file in _NAME_FILES:
        if (root / name_file).is_file():
            lookup = _parse_names(root / name_file)
            break
    names = [lookup.get(cid) or cid.replace("_", " ") for cid in class_ids]
    counts = Counter(names)
    return [
        n if counts[n] == 1 else f"{n} ({cid})" for n, cid in zip(names, class_ids, strict=True)
    ]


def _parse_names(path: Path) -> dict[str, str]:
    # "n01440764 tench, Tinca tinca" (synset mapping) or "n01440764\ttench, ..." (words.txt)
    lookup: dict[str, str] = {}
    for line in _read_lines(path):
        parts = line.split(None, 1)
        if len(parts) == 2:
            lookup[parts[0]] = parts[1].split(",")[0].strip()
    return lookup


# --------------------------------------------------------------------------- folders


def _folders_detect(root: Path) -> bool:
    return (root / "train").is_dir() or bool(_subdirs(root))


def _folders_classes(root: Path) -> list[str]:
    if (root / "train").is_dir():
        return _subdirs(root / "train")
    if (root / "val").is_dir():
        raise DataError(f"{root}: has val/ but no train/; add train/<class>/ folders")
    return _subdirs(root)


def _folders_files(root: Path, class_ids: Sequence[str]) -> SplitFiles:
    if not (root / "train").is_dir():
        return {"train": _per_class(root, class_ids)}
    splits = {"train": _per_class(root / "train", class_ids)}
    for split in ("val", "test"):
        if (root / split).is_dir():
            splits[split] = _per_class(root / split, class_ids)
    return splits


# --------------------------------------------------------------------------- imagenet


def _imagenet_root(root: Path) -> Path:
    return root / _KAGGLE_SUBDIR if (root / _KAGGLE_SUBDIR).is_dir() else root


def _imagenet_detect(root: Path) -> bool:
    return (root / _KAGGLE_SUBDIR).is_dir() or any(
        (root / f).is_file() for f in ("LOC_synset_mapping.txt", _VAL_SOLUTION)
    )


def _imagenet_classes(root: Path) -> list[str]:
    train = _imagenet_root(root) / "train"
    if not train.is_dir():
        raise DataError(f"{root}: ImageNet layout needs train/<wnid>/ folders, found no train/")
    return _subdirs(train)


def _imagenet_files(root: Path, class_ids: Sequence[str]) -> SplitFiles:
    data = _imagenet_root(root)
    splits = {"train": _per_class(data / "train", class_ids)}
    val = data / "val"
    if val.is_dir():
        flat = not _subdirs(val)
        splits["val"] = (
            _imagenet_flat_val(root, val, class_ids) if flat else _per_class(val, class_ids)
        )
    return splits


def _imagenet_flat_val(root: Path, val: Path, class_ids: Sequence[str]) -> dict[str, list[str]]:
    solution = next((d / _VAL_SOLUTION for d in (root, val) if (d / _VAL_SOLUTION).is_file()), None)
    if solution is None:
        raise DataError(
            f"{val}: flat folder of images without {_VAL_SOLUTION}; put that file in "
            f"{root} or sort the images into val/<wnid>/ folders"
        )
    wanted = {cid: [] for cid in class_ids}
    images = _flat_images(val)
    with open(solution, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                image_id, wnid = row["ImageId"], row["PredictionString"].split()[0]
            except (KeyError, IndexError, AttributeError) as e:
                raise DataError(
                    f"{solution}: expected columns ImageId,PredictionString with the wnid first"
                ) from e
            if wnid in wanted and image_id in images:
                wanted[wnid].append(str(images[image_id]))
    return {cid: sorted(paths) for cid, paths in wanted.items()}


# --------------------------------------------------------------------------- tiny imagenet


def _tiny_detect(root: Path) -> bool:
    return (root / "wnids.txt").is_file() and (root / "train").is_dir()


def _tiny_classes(root: Path) -> list[str]:
    if not (root / "wnids.txt").is_file():
        raise DataError(f"{root}: Tiny ImageNet layout needs wnids.txt")
    wnids = sorted(set(_read_lines(root / "wnids.txt")))
    missing = [w for w in wnids if not (root / "train" / w).is_dir()]
    if missing:
        raise DataError(
            f"{root / 'train'}: no folder for {len(missing)} wnid(s) in wnids.txt: "
            + ", ".join(missing[:10])
        )
    return wnids


def _tiny_files(root: Path, class_ids: Sequence[str]) -> SplitFiles:
    # train/<wnid>/images/*.JPEG; the *_boxes.txt beside them is not an image.
    splits = {"train": _per_class(root / "train", class_ids, inner="images")}
    annotations = root / "val" / "val_annotations.txt"
    if annotations.is_file():
        wanted: dict[str, list[str]] = {cid: [] for cid in class_ids}
        images = root / "val" / "images"
        present = {p.name for p in images.iterdir()} if images.is_dir() else set()
        for line in _read_lines(annotations):
            parts = line.split("\t")
            if len(parts) < 2:
                raise DataError(f"{annotations}: expected '<file>\\t<wnid>\\t...' lines")
            if parts[1] in wanted and parts[0] in present:
                wanted[parts[1]].append(str(images / parts[0]))
        splits["val"] = {cid: sorted(p) for cid, p in wanted.items()}
    return splits


# --------------------------------------------------------------------------- registry

_ALL = (
    Layout(
        "tiny-imagenet",
        "wnids.txt, words.txt, train/<wnid>/images/, val/images/ + val/val_annotations.txt",
        _tiny_detect,
        _tiny_classes,
        _tiny_files,
    ),
    Layout(
        "imagenet",
        "ILSVRC-2012: train/<wnid>/, val/<wnid>/ or val/ + LOC_val_solution.csv",
        _imagenet_detect,
        _imagenet_classes,
        _imagenet_files,
    ),
    Layout(
        "folders",
        "train/<class>/ and val/<class>/, or <class>/ folders split by val_fraction",
        _folders_detect,
        _folders_classes,
        _folders_files,
    ),
)
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in _ALL}


def get_layout(name: str) -> Layout:
    """The layout called ``name``; ``DataError`` listing the known ones otherwise."""
    if name not in LAYOUTS:
        known = ", ".join(["auto", *LAYOUTS])
        raise DataError(f"unknown dataset layout {name!r}; choose one of: {known}")
    return LAYOUTS[name]


def detect_layout(root: Path) -> Layout:
    """The most specific layout whose marker files or folders ``root`` has."""
    for layout in _ALL:  # most specific first: marker files beat plain folders
        if layout.detect(root):
            return layout
    raise DataError(
        f"{root}: no dataset layout recognised; expected one of:\n"
        + "\n".join(f"  {lay.name}: {lay.description}" for lay in _ALL)
    )
