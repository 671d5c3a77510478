"""``alexedge train --init-from RUN``: a trained run's layers start a network for new classes.

A tiny backbone learns 3 colour classes; fine-tunes of it learn 2 others. Checked: the
copied layers hold the backbone's weights and the head is new, frozen layers do not move
(batch-norm statistics included), a layer that cannot fit is one error line with nothing
written, a fine-tune stopped in its frozen or its unfrozen epochs resumes to the
uninterrupted run's weights, and compress -> package -> report take the run as any other.
Dropout is off: its masks come from a process-wide random stream.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras
from compress_helpers import write_colour_dataset
from train_data import TINY_REDUCED, assert_one_line_error, train_app
from typer.testing import CliRunner

from alexedge.run import BEST_MODEL, DATA_STATS, LAST_MODEL
from alexedge.train import loop
from alexedge.train.backbone import read_backbone
from alexedge.train.callbacks import read_history, read_state
from alexedge.train.config import TrainConfig
from alexedge.train.models import build_model, list_models
from alexedge.train.run_config import DataConfig, RunConfig
from alexedge.train.session import resume_run, train_run
from alexedge.train.transfer import copy_backbone, plan_copy, start_from_backbone

TINY = ["--size", "32", "--width", "0.0625", "--fc-units", "16", "--dropout", "0"]
TINY += ["--batch-size", "8", "--lr", "0.05"]
HEAD = "fc8"


def _train(*args: str) -> str:
    result = CliRunner().invoke(train_app(), ["train", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("init_from")


@pytest.fixture(scope="module")
def backbone(root: Path) -> Path:
    data = write_colour_dataset(root / "old", 3, 12, 4, 32, seed=0)
    _train("--data", str(data), *TINY, "--epochs", "2", "--out", str(root / "backbone"))
    return root / "backbone"


@pytest.fixture(scope="module")
def new_data(root: Path) -> Path:
    """Two classes the backbone never saw (other colours, other images)."""
    data = write_colour_dataset(root / "new", 4, 12, 4, 32, seed=1)
    for split in ("train", "val"):
        for c in (0, 1):
            for path in (data / split / f"class_{c}").iterdir():
                path.unlink()
            (data / split / f"class_{c}").rmdir()
    return data


def _layer_weights(path: Path) -> dict[str, list[np.ndarray]]:
    model = keras.models.load_model(path, compile=False)
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def _assert_same(a: list[np.ndarray], b: list[np.ndarray], name: str) -> None:
    assert len(a) == len(b), name
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_copied_layers_hold_the_backbones_weights_and_the_head_is_new(backbone: Path) -> None:
    source = _layer_weights(backbone / BEST_MODEL)
    config = read_backbone(backbone).config.replace(init_from=str(backbone))
    stats = read_backbone(backbone).stats
    model = loop.build_network(config, 2, stats)
    plan = start_from_backbone(model, config)
    assert plan.fresh == (HEAD,)
    assert set(plan.copied) == set(source) - {HEAD}
    for name in plan.copied:
        _assert_same(model.get_layer(name).get_weights(), source[name], name)
    assert model.get_layer(HEAD).get_weights()[0].shape == (16, 2)


@pytest.fixture(scope="module")
def probe(backbone: Path, new_data: Path, root: Path) -> tuple[Path, str]:
    """A linear probe of the backbone: --freeze-epochs = --epochs."""
    out = root / "probe"
    output = _train(
        *("--data", str(new_data), "--init-from", str(backbone), "--out", str(out)),
        *("--epochs", "2", "--freeze-epochs", "2", "--batch-size", "8"),
    )
    return out, output


def test_a_linear_probe_trains_the_head_alone(backbone: Path, probe: tuple[Path, str]) -> None:
    """Every copied layer, batch-norm statistics included, ends as the backbone had it;
    the files still say every layer trains (compression fine-tunes them), and the run
    records where its weights came from."""
    out, output = probe
    assert f"input 32 px (the backbone's, {backbone}" in output.splitlines()[0], output
    source = _layer_weights(backbone / BEST_MODEL)
    for file in (BEST_MODEL, LAST_MODEL):
        tuned = _layer_weights(out / file)
        for name in set(source) - {HEAD}:
            _assert_same(tuned[name], source[name], f"{file}: {name}")
        assert tuned[HEAD][0].shape == (16, 2)
        model = keras.models.load_model(out / file, compile=False)
        assert all(layer.trainable for layer in model.layers), file
    config = json.loads((out / "config.json").read_text())
    assert config["init_from"] == str(backbone.resolve()) and config["freeze_epochs"] == 2
    assert config["model_options"]["width"] == 0.0625  # the backbone's, not the default
    record = json.loads((out / "metrics.json").read_text())["init_from"]
    assert record["model"] == "alexnet-reduced" and record["classes"] == 3
    assert record["fresh"] == [HEAD] and "conv1" in record["copied"]
    # The backbone's normalization, not the new images'.
    stats = json.loads((out / DATA_STATS).read_text())
    assert stats["mean"] == json.loads((backbone / DATA_STATS).read_text())["mean"]


class _Stop(Exception):
    pass


def _stop_after(epoch: int):
    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, e: int, logs: dict | None = None) -> None:
            if e + 1 == epoch:  # after the recorder committed the epoch
                raise _Stop

    return lambda epochs, steps: Stop()


def _fine_tune(new_data: Path, backbone: Path) -> RunConfig:
    config = TrainConfig(
        model="alexnet-reduced",
        input_size=32,
        model_options={**TINY_REDUCED, "dropout": 0.0},
        epochs=4,
        batch_size=8,
        learning_rate=0.05,
        init_from=str(backbone),
        freeze_epochs=2,
        finetune_lr_scale=0.1,
    )
    return RunConfig(DataConfig(new_data), config)


@pytest.mark.parametrize("stopped_after", [1, 3])
def test_a_stopped_fine_tune_resumes_to_the_uninterrupted_weights(
    backbone: Path,
    new_data: Path,
    root: Path,
    stopped_after: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped in its frozen epochs (1 of 2) or after them (3): the same weights."""
    straight = root / "straight"
    if not straight.exists():
        train_run(_fine_tune(new_data, backbone), straight)
    run = root / f"stopped{stopped_after}"
    with monkeypatch.context() as patch:
        patch.setattr(loop, "progress_callback", _stop_after(stopped_after))
        with pytest.raises(_Stop):
            train_run(_fine_tune(new_data, backbone), run)
    assert read_state(run).epochs_done == stopped_after
    if stopped_after == 1:  # frozen so far: only the head moved
        source, tuned = _layer_weights(backbone / BEST_MODEL), _layer_weights(run / LAST_MODEL)
        for name in set(source) - {HEAD}:
            _assert_same(tuned[name], source[name], name)
    resume_run(run)
    assert [r["lr"] for r in read_history(run)] == [r["lr"] for r in read_history(straight)]
    want, got = _layer_weights(straight / LAST_MODEL), _layer_weights(run / LAST_MODEL)
    assert set(got) == set(want)
    for name in want:
        for x, y in zip(got[name], want[name], strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=name)
    # The whole network trained after the frozen epochs, at the lower rate.
    rates = [float(r["lr"]) for r in read_history(run)]
    assert rates[2] < 0.2 * rates[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--size", "48"], "--size 48 (the backbone's 32)"),
        (["--fc-units", "32"], "--fc-units 32 (the backbone's 16)"),
        (["--model", "mlp"], "is a alexnet-reduced run; its weights cannot start a mlp"),
    ],
)
def test_a_layer_that_cannot_fit_is_one_error_and_nothing_written(
    backbone: Path, new_data: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        train_app(),
        ["train", "--data", str(new_data), "--init-from", str(backbone), "--out", str(out), *args],
    )
    assert_one_line_error(result, needle)
    assert not out.exists()


def test_init_from_a_folder_that_is_no_run(new_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        train_app(), ["train", "--data", str(new_data), "--init-from", str(new_data)]
    )
    assert_one_line_error(result, "no trained model")


def test_compress_package_and_report_take_a_fine_tuned_run(
    probe: tuple[Path, str], root: Path
) -> None:
    from alexedge.android_assets.package import PackageConfig, package_run
    from alexedge.compress.config import CompressConfig
    from alexedge.compress.planner import compress_run
    from alexedge.report.writer import write_report

    run, _ = probe
    config = CompressConfig(
        sparsities=(0,), quantize=("float32",), calibration_images=8, layer_errors=False
    )
    compress_run(run, config)
    bundle = package_run(run, PackageConfig(variant="float32", out=root / "bundle"))
    assert (bundle.folder / "model.tflite").is_file()
    report = write_report(run).report.read_text()
    assert "Weights from `" in report and "fc8 started fresh" in report


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ((), "input 64 px (the quick recipe's; --size N chooses another)"),
        (("--size", "40"), "input 40 px (given;"),
    ],
)
def test_the_first_line_names_the_input_size_and_why(
    tmp_path: Path, args: tuple[str, ...], why: str
) -> None:
    """Images of 48 px train at the recipe's 64 unless --size says otherwise."""
    data = write_colour_dataset(tmp_path / "data", 2, 4, 2, 48)
    taken = tmp_path / "taken"
    (taken / "keep").mkdir(parents=True)  # the run stops at its non-empty folder
    result = CliRunner().invoke(
        train_app(), ["train", "--data", str(data), "--out", str(taken), *args]
    )
    first = result.output.splitlines()[0]
    assert "picked from the data (48px images, 4 per class)" in first and why in first, first
    assert_one_line_error(result, "folder exists and is not empty")


def test_a_time_budget_keeps_the_head_alone_epochs_within_its_plan() -> None:
    from alexedge.train.budget import planned_config

    config = TrainConfig(epochs=20, init_from="run", freeze_epochs=3, average_epochs=5)
    planned = planned_config(config, 10)
    assert (planned.freeze_epochs, planned.average_epochs) == (3, 2)
    short = planned_config(config, 2)
    assert (short.freeze_epochs, short.average_epochs) == (2, 0)


@pytest.mark.parametrize("spec", list_models(), ids=lambda s: s.name)
def test_every_family_copies_all_but_its_head(spec) -> None:
    """A 3-class network of each family starts a 2-class one: every layer with weights
    copied but ``fc8``; a wider one cannot start it."""
    options = dict(spec.tiny_options)
    size = spec.tiny_input_size
    keras.utils.set_random_seed(0)
    source = build_model(spec.name, 3, size, **options)
    model = build_model(spec.name, 2, size, **options)
    plan = plan_copy(model, source)
    weighted = {layer.name for layer in model.layers if layer.weights}
    assert plan.fresh == (HEAD,) and set(plan.copied) == weighted - {HEAD}
    assert not plan.mismatched
    copy_backbone(model, source, plan)
    for name in plan.copied:
        _assert_same(
            model.get_layer(name).get_weights(), source.get_layer(name).get_weights(), name
        )
    if "fc_units" in options:
        wider = build_model(spec.name, 2, size, **{**options, "fc_units": 2 * options["fc_units"]})
        assert plan_copy(wider, source).mismatched
