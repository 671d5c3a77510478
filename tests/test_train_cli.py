"""`alexedge train` / `alexedge evaluate`: the run folder they write, and bad input.

Bad input must give one `error:` line and exit code 2, with nothing written. The
commands are tested on a fresh app with `alexedge.cli.train.register`, and on `alexedge.cli.app`
once that wires them in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import typer
from train_data import assert_one_line_error, train_app, write_colour_dataset
from typer.testing import CliRunner

from alexedge.train.callbacks import read_history

TESTS = Path(__file__).parent
TINY = ["--size", "32", "--width", "0.0625", "--fc-units", "16", "--batch-size", "8"]


def _apps() -> list[typer.Typer]:
    from alexedge.cli import app

    wired = any(c.name == "train" for c in app.registered_commands)
    return [train_app(), app] if wired else [train_app()]


def _invoke(*args: str):
    return CliRunner().invoke(train_app(), list(args))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_colour_dataset(tmp_path_factory.mktemp("data") / "d", per_class=8, val_per_class=3)


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("runs") / "run"
    result = _invoke("train", "--data", str(data), *TINY, "--epochs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_help(command: str) -> None:
    for app in _apps():
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, result.output


def test_train_writes_a_complete_run_folder(run: tuple[Path, str]) -> None:
    out, output = run
    # No --preset/--config: the recipe comes from the data, and the first line says so.
    assert output.splitlines()[0] == (
        "recipe: quick, picked from the data (32px images, 8 per class), with 5 option(s) "
        "changed; --preset NAME or --config FILE chooses another; input 32 px (given; "
        "--size N chooses another)"
    ), output
    for name in [
        "config.toml",
        "config.json",
        "labels.txt",
        "classes.txt",
        "dataset.json",
        "data_stats.json",
        "best.keras",
        "last.keras",
        "history.csv",
        "train_state.json",
        "metrics.json",
    ]:
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert (out / "labels.txt").read_text().splitlines() == ["class 0", "class 1", "class 2"]
    assert [int(r["epoch"]) for r in read_history(out)] == [1, 2]
    metrics = json.loads((out / "metrics.json").read_text())
    for crop in ("centre_crop", "ten_crop"):
        assert 0 <= metrics[crop]["top1"] <= metrics[crop]["top5"] == 1.0  # 3 classes
    assert "centre-crop  top-1" in output and "ten-crop" in output


def test_config_toml_trains_the_same_run_again(run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = run
    again = tmp_path / "again"
    result = _invoke("train", "--config", str(out / "config.toml"), "--out", str(again))
    assert result.exit_code == 0, result.output
    first = tomllib.loads((out / "config.toml").read_text())
    assert tomllib.loads((again / "config.toml").read_text()) == first
    assert first["data"]["layout"] == "folders"  # the detected layout, not "auto"
    # Options given next to --config override it.
    changed = tmp_path / "changed"
    config = str(out / "config.toml")
    result = _invoke(
        "train", "--config", config, "--epochs", "1", "--trivial-augment", "--out", str(changed)
    )
    assert result.exit_code == 0, result.output
    recipe = tomllib.loads((changed / "config.toml").read_text())["train"]
    assert (recipe["epochs"], recipe["augmentation"]["trivial_augment"]) == (1, True)
    assert first["train"]["augmentation"]["trivial_augment"] is False


def test_evaluate_prints_and_records_top1_top5(run: tuple[Path, str]) -> None:
    out, _ = run
    result = _invoke("evaluate", str(out), "--ten-crop")
    assert result.exit_code == 0, result.output
    assert "9 validation images" in result.output and "ten-crop" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 9 and "top5" in metrics["ten_crop"]


def test_evaluate_takes_a_moved_dataset(run: tuple[Path, str], data: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    moved.symlink_to(data, target_is_directory=True)
    result = _invoke("evaluate", str(run[0]), "--data", str(moved))
    assert result.exit_code == 0, result.output


def test_one_class_dataset_is_refused(tmp_path: Path) -> None:
    one = write_colour_dataset(tmp_path / "one", classes=1, per_class=4, val_per_class=1)
    result = _invoke("train", "--data", str(one), "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "need at least 2")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "resnet"], "known models: alexnet, alexnet-reduced, logreg, mlp"),
        (["--classes", "7"], "asked for 7 classes but it has 3"),
        (["--classes", "1"], "--classes must be at least 2"),
        (["--model", "alexnet", "--size", "64"], "alexnet needs input of at least 67x67"),
        (["--size", "8"], "input size must be at least 16"),
        (["--optimizer", "rmsprop"], "--optimizer must be one of sgd, adamw"),
        (["--loss", "hinge", "--label-smoothing", "0.1"], "--label-smoothing 0 with --loss hinge"),
        (["--preset", "imagenet-in-5-min"], "unknown preset"),
        (["--step-epochs", "x"], "--step-epochs takes comma-separated epochs"),
        (["--swa-lr", "0.01"], "--swa-lr is the constant rate of the averaged epochs"),
        (["--model", "alexnet", "--size", "67", "--no-pool2"], "alexnet has no option pool2"),
    ],
)
def test_bad_train_input(data: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    result = _invoke("train", "--data", str(data), "--out", str(tmp_path / "r"), *args)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "r").exists()


def test_bad_train_input_without_a_dataset(tmp_path: Path) -> None:
    assert_one_line_error(_invoke("train"), "--data is required")
    assert_one_line_error(_invoke("train", "--data", str(tmp_path / "nope")), "no such folder")
    assert_one_line_error(
        _invoke("train", "--config", "a.toml", "--preset", "tiny-imagenet"), "either --config"
    )
    assert_one_line_error(_invoke("train", "--config", str(tmp_path / "a.toml")), "no such config")


def test_existing_output_folder_and_resume_with_options(run: tuple[Path, str], data: Path) -> None:
    out, _ = run
    result = _invoke("train", "--data", str(data), "--out", str(out))
    assert_one_line_error(result, f"continue it with --resume {out}")
    result = _invoke("train", "--resume", str(out), "--epochs", "5", "--lr", "0.1")
    assert_one_line_error(result, "drop --epochs, --lr")


def test_evaluate_bad_input(tmp_path: Path) -> None:
    assert_one_line_error(_invoke("evaluate", str(tmp_path)), "no trained model (best.keras)")


def test_errors_reach_the_terminal_as_one_line_without_traceback(data: Path) -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
        "from train_data import train_app; train_app()()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "train", "--data", str(data), "--model", "vgg"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and lines[-1].startswith("error: unknown model 'vgg'"), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_recipe_is_picked_from_image_size_and_images_per_class(tmp_path: Path) -> None:
    from alexedge.data.dataset import load_dataset
    from alexedge.train.presets import PRESETS, DataShape, data_shape, recipe_for_data

    root = write_colour_dataset(tmp_path / "d", classes=2, per_class=5, val_per_class=1, size=64)
    (root / "train" / "class_0" / "broken.png").write_bytes(b"not an image")
    shape = data_shape(load_dataset(root))
    assert shape == DataShape(image_size=64, images_per_class=5)  # the broken file is skipped
    assert recipe_for_data(shape).name == "quick"
    tiny = recipe_for_data(DataShape(64, 500))
    assert (tiny.name, tiny.config) == ("tiny-imagenet", PRESETS["tiny-imagenet"])
    assert tiny.why == "64px images, 500 per class"
    for other in (DataShape(64, 150), DataShape(32, 500), DataShape(224, 1300)):
        assert recipe_for_data(other).name == "quick", other


def test_no_pool2_reaches_the_model_options() -> None:
    from alexedge.train.config import TrainConfig
    from alexedge.train.run_config import train_config_with

    config = train_config_with(TrainConfig(model_options={"width": 0.5}), pool2=False)
    assert config.model_options == {"width": 0.5, "pool2": False}
