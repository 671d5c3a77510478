"""Streamed splits: the pixels, batches and scores of decoded ones, bad files skipped.

A ``FileSplit`` is the large-dataset twin of a ``DecodedSplit``: every test here
compares the two on the same real files written to ``tmp_path``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
from image_files import write_odd_formats, write_truncated_jpeg
from PIL import Image
from train_data import assert_one_line_error, tiny_config, train_app, write_colour_dataset
from typer.testing import CliRunner

import alexedge.data.decode as decode
from alexedge.data.dataset import Sample, load_dataset
from alexedge.data.decode import DecodedSplit, decode_split
from alexedge.data.stats import channel_stats
from alexedge.data.stream import FileSplit, base_image_chunks, file_split, scan_split
from alexedge.errors import ConfigError, DataError
from alexedge.preprocess import base_size_for
from alexedge.train.config import TrainConfig
from alexedge.train.run_config import DataConfig, RunConfig, read_run_config, to_toml

SIZE = 32
BASE = base_size_for(SIZE)  # 37
CLASSES = 3


def _write_photos(folder: Path) -> list[Path]:
    """Readable files of several shapes and formats (odd modes included)."""
    paths = write_odd_formats(folder)
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(40, 40), (64, 45), (38, 90), (120, 80), (37, 37), (50, 61)]):
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        path = folder / f"photo{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(rgb).save(path)
        paths.append(path)
    return paths


def _samples(paths: list[Path]) -> list[Sample]:
    return [Sample(str(p), i % CLASSES) for i, p in enumerate(paths)]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    return _samples(_write_photos(tmp_path_factory.mktemp("photos")))


@pytest.fixture(scope="module")
def decoded(photos: list[Sample]) -> DecodedSplit:
    return decode_split(photos, BASE)


def _elements(data) -> list[tuple[np.ndarray, ...]]:
    return [tuple(t.numpy() for t in element) for element in data]


# --- decoding ---------------------------------------------------------------------------


def test_streamed_base_images_are_decode_splits(photos, decoded) -> None:
    from alexedge.train.sources import eval_images

    streamed = _elements(eval_images(file_split(photos, BASE)))
    np.testing.assert_array_equal(np.stack([image for image, _ in streamed]), decoded.images)
    np.testing.assert_array_equal([label for _, label in streamed], decoded.labels)
    chunks = list(base_image_chunks(file_split(photos, BASE), 4))
    assert [len(images) for images, _ in chunks] == [4, 4, 2]
    for (a, la), (b, lb) in zip(chunks, base_image_chunks(decoded, 4), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)


def _with_bad_files(photos: list[Sample], folder: Path) -> list[Sample]:
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image")
    bad = [write_truncated_jpeg(folder / "cut.jpg"), folder / "empty.jpg", folder / "notes.png"]
    samples = list(photos)
    for i, path in enumerate(bad):  # among the good ones, not at the end
        samples.insert(2 + 3 * i, Sample(str(path), 1))
    return samples


def test_unreadable_files_are_dropped_from_the_stream_and_named_once(
    photos, decoded, tmp_path: Path, capsys
) -> None:
    from alexedge.train.config import Augmentation
    from alexedge.train.input_pipeline import train_dataset

    split = file_split(_with_bad_files(photos, tmp_path), BASE)
    stats = channel_stats(decoded.images)
    data = train_dataset(split, CLASSES, SIZE, 4, stats, Augmentation(), seed=0).repeat(2)
    assert sum(len(images) for images, _ in data) == 2 * 8  # 10 readable: 2 full batches
    err = capsys.readouterr().err
    for name in ("cut.jpg", "empty.jpg: empty file", "notes.png"):
        assert err.count(name) == 1, err
    chunks = list(base_image_chunks(split, 64))
    np.testing.assert_array_equal(chunks[0][0], decoded.images)


def test_the_statistics_pass_finds_unreadable_files(photos, decoded, tmp_path: Path) -> None:
    split = file_split(_with_bad_files(photos, tmp_path), BASE)
    stats, readable = scan_split(split, "scanning")
    assert stats == channel_stats(decoded.images)
    assert readable.paths == decoded.paths and len(readable.skipped) == 3
    np.testing.assert_array_equal(readable.labels, decoded.labels)
    with pytest.raises(DataError, match="none of the 2 images could be read"):
        scan_split(FileSplit(split.paths[2:3] * 2, split.labels[:2], BASE), "scanning")


# --- training batches and the disk cache ---------------------------------------------------


def _batches(split, stats, seed: int, rrc: bool = False, passes: int = 2):
    from alexedge.train.config import Augmentation
    from alexedge.train.input_pipeline import train_dataset

    data = train_dataset(
        split, CLASSES, SIZE, 4, stats, Augmentation(random_resized_crop=rrc), seed
    )
    return _elements(data.repeat(passes))


@pytest.mark.parametrize("rrc", [False, True])
def test_stream_gives_the_in_memory_batches_for_a_seed(photos, decoded, rrc: bool) -> None:
    stats = channel_stats(decoded.images)
    streamed = _batches(file_split(photos, BASE), stats, seed=3, rrc=rrc)
    in_memory = _batches(decoded, stats, seed=3, rrc=rrc)
    assert len(streamed) == 4  # 2 passes of 2 full batches
    for (x1, y1), (x2, y2) in zip(streamed, in_memory, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(streamed[0][0], streamed[2][0])  # reshuffled every pass
    other_seed = _batches(file_split(photos, BASE), stats, seed=4, passes=1)
    assert not np.array_equal(streamed[0][0], other_seed[0][0])


def _copy_photos(photos: list[Sample], folder: Path) -> list[Sample]:
    folder.mkdir()
    copies = []
    for sample in photos:
        target = folder / Path(sample.path).name
        target.write_bytes(Path(sample.path).read_bytes())
        copies.append(Sample(str(target), sample.label))
    return copies


def _base_images(split: FileSplit, cache: Path, passes: int) -> list[bytes]:
    from alexedge.train.sources import training_images

    data = training_images(split, seed=0, cache_dir=str(cache)).repeat(passes)
    return [image.numpy().tobytes() for image, _ in data]


def test_disk_cache_is_written_on_the_first_pass_and_read_after(
    photos, decoded, tmp_path: Path
) -> None:
    from alexedge.train.sources import cache_prefix

    split = file_split(_copy_photos(photos, tmp_path / "files"), BASE)
    cache = tmp_path / "cache"
    first = _base_images(split, cache, passes=2)
    assert Path(f"{cache_prefix(split, cache, 'train')}.index").is_file()
    expected = sorted(image.tobytes() for image in decoded.images)
    assert sorted(first[:10]) == expected and sorted(first[10:]) == expected
    assert first[:10] != first[10:]  # the cached stream is still reshuffled each pass
    for sample in split.paths:  # later passes, and later runs, never open the files
        os.remove(sample)
    assert sorted(_base_images(split, cache, passes=1)) == expected


def test_a_cache_left_unfinished_by_a_killed_run_is_replaced(
    photos, tmp_path: Path, capsys
) -> None:
    from alexedge.train.sources import cache_prefix

    split = file_split(photos, BASE)
    cache = tmp_path / "cache"
    cache.mkdir()
    prefix = cache_prefix(split, cache, "train")
    Path(f"{prefix}_0.lockfile").write_text("Created at: 0")  # what TensorFlow leaves
    Path(f"{prefix}_0.data-00000-of-00001.tempstate1").write_bytes(b"partial")
    Path(f"{prefix}.writer").write_text("999999999@nowhere-host-gone\n")
    with pytest.raises(DataError, match="another process"):  # another host: cannot tell
        _base_images(split, cache, passes=1)
    Path(f"{prefix}.writer").write_text(f"999999999@{socket.gethostname()}\n")  # died here
    assert len(_base_images(split, cache, passes=1)) == 10
    assert "removing an unfinished cache" in capsys.readouterr().err
    assert not Path(f"{prefix}_0.lockfile").exists()


# --- evaluation ---------------------------------------------------------------------------


def test_evaluation_of_a_stream_equals_the_in_memory_one(photos, decoded, tmp_path) -> None:
    from alexedge.train import loop
    from alexedge.train.evaluate import evaluate_model
    from alexedge.train.input_pipeline import eval_dataset, predict_split, ten_crop_predict

    streamed = file_split(_with_bad_files(photos, tmp_path), BASE)  # drops its 3 bad files
    model = loop.build_network(tiny_config(), CLASSES, channel_stats(decoded.images))

    def predict(x: np.ndarray) -> np.ndarray:
        return model.predict(x, batch_size=8, verbose=0)

    a = predict_split(predict, decoded, SIZE, ten_crop=True, chunk_size=4)
    b = predict_split(predict, streamed, SIZE, ten_crop=True, chunk_size=4)
    for field in ("labels", "centre", "ten_crop"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(a.labels, decoded.labels)
    np.testing.assert_array_equal(
        ten_crop_predict(predict, decoded, SIZE, 4), ten_crop_predict(predict, streamed, SIZE, 4)
    )
    assert evaluate_model(model, decoded, SIZE) == evaluate_model(model, streamed, SIZE)
    for cache in ("", str(tmp_path / "cache")):
        memory = _elements(eval_dataset(decoded, CLASSES, SIZE, 4))
        stream = _elements(eval_dataset(streamed, CLASSES, SIZE, 4, cache_dir=cache))
        for x, y in zip(memory, stream, strict=True):
            np.testing.assert_array_equal(x[0], y[0])
            np.testing.assert_array_equal(x[1], y[1])


# --- choosing the input, configs, CLI ------------------------------------------------------


@pytest.fixture(scope="module")
def color_data(colour_dataset) -> Path:
    return colour_dataset(per_class=8, val_per_class=2)


def test_auto_streams_what_does_not_fit_in_memory(color_data: Path, monkeypatch, capsys) -> None:
    from alexedge.train.prepare import prepare_data

    dataset = load_dataset(color_data)
    in_memory = prepare_data(dataset, SIZE, input_mode="auto")
    assert isinstance(in_memory.train, DecodedSplit) and isinstance(in_memory.val, DecodedSplit)
    capsys.readouterr()
    monkeypatch.setattr(decode, "_available_memory_bytes", lambda: 10_000)
    streamed = prepare_data(dataset, SIZE, input_mode="auto")
    assert isinstance(streamed.train, FileSplit) and isinstance(streamed.val, FileSplit)
    lines = capsys.readouterr().err.splitlines()
    said = [line for line in lines if "streaming them from disk" in line]
    assert [line.split(":")[0] for line in said] == ["[alexedge] train", "[alexedge] val"], lines
    for a, b in zip(
        in_memory.stats.to_dict().values(), streamed.stats.to_dict().values(), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9)
    with pytest.raises(DataError, match="--input stream"):
        prepare_data(dataset, SIZE, input_mode="memory")
    with pytest.raises(ConfigError, match="--input must be one of"):
        prepare_data(dataset, SIZE, input_mode="disk")


def test_streamed_training_runs_end_to_end_with_a_cache(tmp_path: Path) -> None:
    from alexedge.train.callbacks import read_history
    from alexedge.train.session import train_run

    data = write_colour_dataset(tmp_path / "data", per_class=8, val_per_class=2)
    write_truncated_jpeg(data / "train" / "class_0" / "cut.jpg")
    config = tiny_config(epochs=2, input_mode="stream", cache_dir=str(tmp_path / "cache"))
    outcome = train_run(RunConfig(DataConfig(data), config), tmp_path / "run")
    assert outcome.result.epochs_run == 2 and outcome.train_images == 24  # cut.jpg dropped
    assert "cut.jpg" in (tmp_path / "run" / "skipped_files.txt").read_text()
    assert len(read_history(tmp_path / "run")) == 2
    assert {"centre_crop", "ten_crop"} <= set(outcome.metrics)
    assert len(list((tmp_path / "cache").glob("*.index"))) == 2  # train and val
    saved = read_run_config(tmp_path / "run" / "config.toml").train
    assert (saved.input_mode, saved.cache_dir) == ("stream", str(tmp_path / "cache"))


def test_input_options_round_trip_through_the_run_config(tmp_path: Path) -> None:
    config = RunConfig(DataConfig(tmp_path), TrainConfig(input_mode="stream", cache_dir="c/d"))
    (tmp_path / "config.toml").write_text(to_toml(config))
    assert read_run_config(tmp_path / "config.toml") == config
    assert TrainConfig(cache_dir=tmp_path).cache_dir == str(tmp_path)  # paths become text
    with pytest.raises(ConfigError, match="--input must be one of auto, memory, stream"):
        TrainConfig(input_mode="disk")
    with pytest.raises(ConfigError, match="no use with --input memory"):
        TrainConfig(input_mode="memory", cache_dir="c")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--input", "bogus"], "--input must be one of auto, memory, stream, got 'bogus'"),
        (["--cache-dir", "{file}"], "exists and is not a folder"),
        (["--input", "memory", "--cache-dir", "c"], "no use with --input memory"),
    ],
)
def test_bad_input_options(color_data: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "file").write_text("")
    args = [a.replace("{file}", str(tmp_path / "file")) for a in args]
    result = CliRunner().invoke(
        train_app(), ["train", "--data", str(color_data), "--out", str(tmp_path / "r"), *args]
    )
    assert_one_line_error(result, needle)
    assert not (tmp_path / "r").exists()


def test_help_explains_the_input_options() -> None:
    result = CliRunner().invoke(train_app(), ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--input" in result.output and "--cache-dir" in result.output
    assert "larger than memory" in result.output
