"""Every dataset layout read from real files in tmp_path, subsets, splits and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from image_files import write_image, write_odd_formats

from alexedge.data import ImageDataset, load_dataset
from alexedge.errors import ConfigError, DataError
from alexedge.preprocess import load_rgb

WNIDS = ["n01440764", "n01443537", "n01484850"]
SYNSETS = {
    "n01440764": "tench, Tinca tinca",
    "n01443537": "goldfish, Carassius auratus",
    "n01484850": "great white shark, white shark",
}


def _fill(folder: Path, count: int, suffix: str = ".jpg", stem: str = "img") -> list[Path]:
    return [write_image(folder / f"{stem}_{i}{suffix}", seed=i) for i in range(count)]


def _folders(root: Path, classes: list[str], train: int = 3, val: int | None = 2) -> Path:
    for cid in classes:
        _fill(root / "train" / cid, train)
        if val is not None:
            _fill(root / "val" / cid, val)
    return root


def _labels_by_class(ds: ImageDataset, split: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {cid: set() for cid in ds.class_ids}
    for s in getattr(ds, split):
        found[ds.class_ids[s.label]].add(s.path)
    return found


def _assert_labels_match_folders(ds: ImageDataset, split: str) -> None:
    for cid, paths in _labels_by_class(ds, split).items():
        assert all(f"/{cid}/" in p for p in paths), (cid, paths)


# --------------------------------------------------------------------------- folders


def test_train_val_folders_keep_the_original_call_working(tmp_path: Path) -> None:
    _folders(tmp_path, ["zebra", "cat", "tabby_cat"])
    ds = load_dataset(tmp_path)
    assert ds.layout == "folders"
    assert ds.class_ids == ("cat", "tabby_cat", "zebra")
    assert ds.class_names == ("cat", "tabby cat", "zebra")
    assert (len(ds.train), len(ds.val), ds.test) == (9, 6, ())
    _assert_labels_match_folders(ds, "train")
    _assert_labels_match_folders(ds, "val")
    assert load_dataset(tmp_path, 2).class_ids == ("cat", "tabby_cat")


def test_odd_formats_are_listed_and_decode_to_rgb(tmp_path: Path) -> None:
    _folders(tmp_path, ["a"], train=1, val=1)
    write_odd_formats(tmp_path / "train" / "b")
    _fill(tmp_path / "val" / "b", 1, suffix=".bmp")
    ds = load_dataset(tmp_path)
    odd = [s.path for s in ds.train if s.label == 1]
    assert sorted(Path(p).name for p in odd) == ["cmyk.jpg", "deep.png", "gray.jpg", "rgba.png"]
    for path in odd:
        rgb = load_rgb(path)
        assert rgb.dtype == np.uint8 and rgb.shape == (16, 16, 3)


def test_single_folder_is_split_stratified_and_deterministically(tmp_path: Path) -> None:
    for cid in ("a", "b", "c"):
        _fill(tmp_path / cid, 10)
    ds = load_dataset(tmp_path, val_fraction=0.2, test_fraction=0.1, seed=3)
    for split, per_class in (("train", 7), ("val", 2), ("test", 1)):
        assert [len(p) for p in _labels_by_class(ds, split).values()] == [per_class] * 3
        _assert_labels_match_folders(ds, split)
    every = [s.path for split in (ds.train, ds.val, ds.test) for s in split]
    assert len(set(every)) == 30
    assert load_dataset(tmp_path, val_fraction=0.2, test_fraction=0.1, seed=3) == ds
    other = load_dataset(tmp_path, val_fraction=0.2, test_fraction=0.1, seed=4)
    assert other.val != ds.val


def test_split_of_a_file_survives_adding_files(tmp_path: Path) -> None:
    for cid in ("a", "b"):
        _fill(tmp_path / cid, 20)
    before = load_dataset(tmp_path, val_fraction=0.5)
    for cid in ("a", "b"):
        _fill(tmp_path / cid, 4, stem="extra")
    after = load_dataset(tmp_path, val_fraction=0.5)
    # Hash-based assignment: most old files keep their split (an index shuffle would
    # reassign about half of them).
    moved = {s.path for s in before.val} - {s.path for s in after.val}
    assert len(moved) <= 4


def test_train_folder_without_val_is_split(tmp_path: Path) -> None:
    _folders(tmp_path, ["a", "b"], train=10, val=None)
    ds = load_dataset(tmp_path, val_fraction=0.3)
    assert (len(ds.train), len(ds.val)) == (14, 6)


def test_own_test_folder_is_used(tmp_path: Path) -> None:
    _folders(tmp_path, ["a", "b"])
    for cid in ("a", "b"):
        _fill(tmp_path / "test" / cid, 1)
    assert len(load_dataset(tmp_path).test) == 2
    with pytest.raises(ConfigError, match="own test split"):
        load_dataset(tmp_path, test_fraction=0.1)


# --------------------------------------------------------------------------- imagenet


def _imagenet(root: Path) -> Path:
    for cid in WNIDS:
        _fill(root / "train" / cid, 3, suffix=".JPEG", stem=cid)
    lines = [f"{w} {SYNSETS[w]}" for w in WNIDS]
    (root / "LOC_synset_mapping.txt").write_text("\n".join(lines) + "\n")
    return root


def test_imagenet_with_val_folders_and_synset_names(tmp_path: Path) -> None:
    _imagenet(tmp_path)
    for cid in WNIDS:
        _fill(tmp_path / "val" / cid, 2, suffix=".JPEG")
    ds = load_dataset(tmp_path)
    assert ds.layout == "imagenet"
    assert ds.class_names == ("tench", "goldfish", "great white shark")
    assert (len(ds.train), len(ds.val)) == (9, 6)
    _assert_labels_match_folders(ds, "val")


@pytest.mark.parametrize("kaggle", [False, True])
def test_imagenet_flat_val_with_solution_csv(tmp_path: Path, kaggle: bool) -> None:
    data = tmp_path / "ILSVRC" / "Data" / "CLS-LOC" if kaggle else tmp_path
    _imagenet(data)
    if kaggle:
        (data / "LOC_synset_mapping.txt").rename(tmp_path / "LOC_synset_mapping.txt")
    truth = {"ILSVRC2012_val_00000001": WNIDS[2], "ILSVRC2012_val_00000002": WNIDS[0]}
    truth |= {"ILSVRC2012_val_00000003": WNIDS[2], "ILSVRC2012_val_00000009": WNIDS[1]}
    for image_id in list(truth)[:3]:  # the fourth has a row but no file
        write_image(data / "val" / f"{image_id}.JPEG")
    rows = [f"{i},{w} 1 2 30 40 {w} 5 6 7 8" for i, w in truth.items()]
    (tmp_path / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows))
    ds = load_dataset(tmp_path)
    val = {Path(s.path).stem: ds.class_ids[s.label] for s in ds.val}
    assert val == {i: w for i, w in truth.items() if not i.endswith("9")}
    assert ds.class_names[0] == "tench"


def test_imagenet_flat_val_without_csv_says_what_to_add(tmp_path: Path) -> None:
    _imagenet(tmp_path)
    write_image(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(DataError, match=r"LOC_val_solution\.csv"):
        load_dataset(tmp_path)


# --------------------------------------------------------------------------- tiny imagenet


def _tiny(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("\n".join(reversed(WNIDS)) + "\n")
    words = ["n00001740\tentity"] + [f"{w}\t{SYNSETS[w]}" for w in WNIDS]
    (root / "words.txt").write_text("\n".join(words) + "\n")
    annotations = []
    for k, cid in enumerate(WNIDS):
        _fill(root / "train" / cid / "images", 4, suffix=".JPEG", stem=cid)
        (root / "train" / cid / f"{cid}_boxes.txt").write_text(f"{cid}_0.JPEG\t0\t0\t8\t8\n")
        for j in range(2):
            name = f"val_{2 * k + j}.JPEG"
            write_image(root / "val" / "images" / name)
            annotations.append(f"{name}\t{cid}\t0\t0\t8\t8")
    (root / "val" / "val_annotations.txt").write_text("\n".join(annotations) + "\n")
    return root


def test_tiny_imagenet(tmp_path: Path) -> None:
    ds = load_dataset(_tiny(tmp_path))
    assert ds.layout == "tiny-imagenet"
    assert ds.class_ids == tuple(WNIDS)  # sorted, whatever the wnids.txt order
    assert ds.class_names == ("tench", "goldfish", "great white shark")
    assert (len(ds.train), len(ds.val)) == (12, 6)
    assert all(s.path.endswith(".JPEG") for s in ds.train)
    _assert_labels_match_folders(ds, "train")
    val = {Path(s.path).name: s.label for s in ds.val}
    assert val == {f"val_{i}.JPEG": i // 2 for i in range(6)}


# --------------------------------------------------------------------------- subsets


def test_class_count_takes_the_first_sorted_wnids(tmp_path: Path) -> None:
    ds = load_dataset(_tiny(tmp_path), 2)
    assert ds.class_ids == tuple(WNIDS[:2])
    assert {s.label for s in ds.train} == {s.label for s in ds.val} == {0, 1}
    assert len(ds.val) == 4


def test_classes_file_selects_in_class_index_order(tmp_path: Path) -> None:
    _tiny(tmp_path / "data")
    chosen = tmp_path / "classes.txt"
    chosen.write_text(f"# my subset\n{WNIDS[2]}\n\n{WNIDS[0]}\n")
    ds = load_dataset(tmp_path / "data", classes_file=chosen)
    assert ds.class_ids == (WNIDS[0], WNIDS[2])
    assert ds.class_names == ("tench", "great white shark")
    assert len(ds.val) == 4 and {s.label for s in ds.val} == {0, 1}


def test_classes_file_with_unknown_names_lists_them(tmp_path: Path) -> None:
    _folders(tmp_path / "data", ["cat", "dog"])
    chosen = tmp_path / "classes.txt"
    chosen.write_text("cat\nunicorn\ngriffin\n")
    with pytest.raises(DataError, match=r"2 class.*griffin, unicorn"):
        load_dataset(tmp_path / "data", classes_file=chosen)
    with pytest.raises(ConfigError, match="not both"):
        load_dataset(tmp_path / "data", 2, classes_file=chosen)


def test_duplicate_names_are_told_apart(tmp_path: Path) -> None:
    _folders(tmp_path, ["n02012849", "n03126707"])
    (tmp_path / "words.txt").write_text("n02012849\tcrane\nn03126707\tcrane\n")
    assert load_dataset(tmp_path).class_names == ("crane (n02012849)", "crane (n03126707)")


# --------------------------------------------------------------------------- errors


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(tmp_path / "missing")
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "train" / "b").mkdir(parents=True)
    with pytest.raises(DataError, match="no training images"):
        load_dataset(tmp_path / "empty")
    _folders(tmp_path / "one", ["only"])
    with pytest.raises(DataError, match="need at least 2"):
        load_dataset(tmp_path / "one")
    _folders(tmp_path / "two", ["a", "b"])
    with pytest.raises(DataError, match="asked for 5 classes but it has 2"):
        load_dataset(tmp_path / "two", 5)
    with pytest.raises(DataError, match=r"unknown dataset layout 'coco'.*tiny-imagenet"):
        load_dataset(tmp_path / "two", layout="coco")
    with pytest.raises(DataError, match=r"wnids\.txt"):
        load_dataset(tmp_path / "two", layout="tiny-imagenet")


def test_more_errors(tmp_path: Path) -> None:
    _folders(tmp_path / "noval", ["a", "b"], val=None)
    with pytest.raises(DataError, match="val_fraction > 0"):
        load_dataset(tmp_path / "noval", val_fraction=0.0)
    with pytest.raises(ConfigError, match="val_fraction"):
        load_dataset(tmp_path / "noval", val_fraction=1.5)
    _fill(tmp_path / "partial" / "train" / "a", 2)
    (tmp_path / "partial" / "train" / "b").mkdir()
    _fill(tmp_path / "partial" / "val" / "a", 1)
    with pytest.raises(DataError, match=r"no training images for class.* b"):
        load_dataset(tmp_path / "partial")
    (tmp_path / "valonly" / "val" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no train/"):
        load_dataset(tmp_path / "valonly")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="no dataset layout recognised"):
        load_dataset(tmp_path / "nothing")
