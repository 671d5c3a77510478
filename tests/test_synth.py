"""The built-in synthetic dataset: deterministic bytes, layout, atomic writes, config checks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alexedge.data import synth
from alexedge.data.dataset import load_dataset
from alexedge.data.synth import CLASS_NAMES, SynthConfig, synthesize_dataset
from alexedge.errors import ConfigError, DataError

TINY = SynthConfig(classes=3, per_class=4, val_per_class=2, size=32, seed=7)


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root``, keyed by its path relative to ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def image_hashes(root: Path) -> dict[str, str]:
    return {k: v for k, v in tree_hashes(root).items() if k.endswith(".jpg")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_dataset(TINY, tmp_path_factory.mktemp("tiny") / "ds", progress=False)


def test_same_config_gives_byte_identical_files(tiny: Path, tmp_path: Path) -> None:
    again = synthesize_dataset(TINY, tmp_path / "again", progress=False)
    assert tree_hashes(again) == tree_hashes(tiny)


def test_other_seed_gives_different_images(tiny: Path, tmp_path: Path) -> None:
    other = SynthConfig(classes=3, per_class=4, val_per_class=2, size=32, seed=8)
    reseeded = image_hashes(synthesize_dataset(other, tmp_path / "other", progress=False))
    original = image_hashes(tiny)
    assert reseeded.keys() == original.keys()
    assert all(reseeded[name] != original[name] for name in original)


def test_every_image_is_distinct(tiny: Path) -> None:
    # Catches an rng key that ignores the split, class or image index.
    hashes = list(image_hashes(tiny).values())
    assert len(set(hashes)) == len(hashes) == 3 * (4 + 2)


def test_layout_counts_and_file_names(tiny: Path) -> None:
    assert sorted(p.name for p in tiny.iterdir()) == ["synth_config.json", "train", "val"]
    for split, count in (("train", 4), ("val", 2)):
        assert sorted(p.name for p in (tiny / split).iterdir()) == list(CLASS_NAMES[:3])
        for name in CLASS_NAMES[:3]:
            files = sorted(p.name for p in (tiny / split / name).iterdir())
            assert files == [f"{name}_{i:05d}.jpg" for i in range(count)]


def test_images_are_rgb_jpegs_of_the_configured_size(tiny: Path) -> None:
    for path in tiny.rglob("*.jpg"):
        with Image.open(path) as img:
            assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (32, 32))


def test_config_record_allows_regeneration(tiny: Path) -> None:
    record = json.loads((tiny / "synth_config.json").read_text())
    assert SynthConfig(**record["config"]) == TINY
    assert record["class_names"] == list(CLASS_NAMES[:3])


def test_load_dataset_reads_it_with_readable_names(tmp_path: Path) -> None:
    config = SynthConfig(classes=4, per_class=3, val_per_class=2, size=32)
    dataset = load_dataset(synthesize_dataset(config, tmp_path / "ds", progress=False))
    assert dataset.class_ids == tuple(sorted(CLASS_NAMES[:4]))
    assert "five point star" in dataset.class_names
    assert all("_" not in name for name in dataset.class_names)
    assert (len(dataset.train), len(dataset.val)) == (4 * 3, 4 * 2)
    assert sorted(s.label for s in dataset.val) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_fewer_classes_is_a_prefix_of_more(tiny: Path, tmp_path: Path) -> None:
    two = SynthConfig(classes=2, per_class=4, val_per_class=2, size=32, seed=7)
    smaller = image_hashes(synthesize_dataset(two, tmp_path / "two", progress=False))
    assert smaller == {k: v for k, v in image_hashes(tiny).items() if CLASS_NAMES[2] not in k}


def test_worker_processes_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    config = SynthConfig(classes=2, per_class=30, val_per_class=5, size=16, seed=3)
    serial = synthesize_dataset(config, tmp_path / "serial", progress=False)
    monkeypatch.setattr(synth, "_worker_count", lambda total: 2)
    pooled = synthesize_dataset(config, tmp_path / "pooled", progress=False)
    assert tree_hashes(pooled) == tree_hashes(serial)


def test_class_names_are_readable_unique_folder_names() -> None:
    assert len(CLASS_NAMES) >= 20
    assert len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in CLASS_NAMES)
    assert {"circle", "five_point_star", "checkerboard", "horizontal_stripes"} <= set(CLASS_NAMES)


def test_default_config_is_the_documented_one() -> None:
    assert SynthConfig() == SynthConfig(classes=20, per_class=400, val_per_class=50, size=64)


@pytest.mark.parametrize(
    "bad",
    [
        {"classes": 1},
        {"classes": len(CLASS_NAMES) + 1},
        {"classes": 2.0},
        {"classes": True},
        {"per_class": 0},
        {"val_per_class": 0},
        {"size": 15},
        {"seed": -1},
    ],
)
def test_bad_config_raises_config_error(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        SynthConfig(**bad)  # type: ignore[arg-type]


def test_numpy_integers_are_stored_as_plain_ints() -> None:
    # The CLI or a sweep may pass numpy integers; the JSON record needs Python ints.
    config = SynthConfig(classes=np.int64(3), seed=np.int32(5))
    assert type(config.classes) is int and type(config.seed) is int
    assert json.loads(json.dumps(dataclasses.asdict(config)))["seed"] == 5


def test_too_many_classes_message_names_the_maximum() -> None:
    with pytest.raises(ConfigError, match=f"has {len(CLASS_NAMES)} classes"):
        SynthConfig(classes=len(CLASS_NAMES) + 1)


def test_non_empty_output_folder_is_refused_and_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    def must_not_draw(job: object) -> list[bytes]:
        raise AssertionError("refused only after drawing everything")

    monkeypatch.setattr(synth, "_render_job", must_not_draw)
    with pytest.raises(DataError, match="not empty"):
        synthesize_dataset(TINY, out, progress=False)
    assert tree_hashes(out) == {"keep.txt": hashlib.sha256(b"mine").hexdigest()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.write_text("a file")
    with pytest.raises(DataError, match="not a folder"):
        synthesize_dataset(TINY, out, progress=False)
    assert out.read_text() == "a file"


def test_empty_output_folder_is_replaced(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    assert synthesize_dataset(TINY, out, progress=False) == out
    assert tree_hashes(out) == tree_hashes(tiny)


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    out = synthesize_dataset(TINY, tmp_path / "a" / "b" / "ds", progress=False)
    assert len(image_hashes(out)) == 3 * (4 + 2)


def test_crash_midway_leaves_no_output_and_no_temp_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    written: list[Path] = []
    real_write = synth._write_image

    def write_then_crash(path: Path, data: bytes) -> None:
        if len(written) == 5:
            raise RuntimeError("disk on fire")
        real_write(path, data)
        written.append(path)

    monkeypatch.setattr(synth, "_write_image", write_then_crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        synthesize_dataset(TINY, tmp_path / "ds", progress=False)
    assert len(written) == 5  # the crash really happened after some files were written
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_reports_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    synthesize_dataset(TINY, tmp_path / "ds", progress=True)
    captured = capsys.readouterr()
    assert "synthetic" in captured.err
    assert captured.out == ""
