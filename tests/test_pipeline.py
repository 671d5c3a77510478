"""End to end: ``alexedge pipeline`` is ``train`` -> ``compress`` -> ``package`` -> ``report``.

On colour classes a tiny net really learns (``train_data.write_colour_dataset``),
so accuracy, agreement and packaging assertions mean something: a chance-level model
would pass agreement floors by luck and hide a broken export.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from train_data import write_colour_dataset

from alexedge.compress.config import CompressConfig
from alexedge.compress.family import variant_name
from alexedge.compress.planner import plan_family
from alexedge.compress.schema import SCHEMA_VERSION, validate_variants_doc
from alexedge.data.synth import SynthConfig
from alexedge.edge_runtime import Classifier
from alexedge.errors import ConfigError
from alexedge.pipeline import (
    FIRST_RUN_COMPRESS,
    FIRST_RUN_TRAIN,
    PipelineConfig,
    PipelineResult,
    run_pipeline,
)
from alexedge.train.config import TrainConfig
from alexedge.train.run_config import DataConfig

CLASSES, SIZE = 3, 32
TRAIN = TrainConfig(
    input_size=SIZE,
    epochs=3,
    batch_size=16,
    learning_rate=0.05,
    model_options={"width": 1 / 16, "fc_units": 16},
)
COMPRESS = CompressConfig(sparsities=(0.5,), finetune_epochs=1, calibration_images=16)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("colours")
    return write_colour_dataset(root / "data", CLASSES, per_class=32, val_per_class=20, size=SIZE)


@pytest.fixture(scope="module")
def tiny_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> PipelineResult:
    out = tmp_path_factory.mktemp("pipeline") / "run"
    return run_pipeline(
        PipelineConfig(out=out, data=DataConfig(data), train=TRAIN, compress=COMPRESS)
    )


@pytest.fixture(scope="module")
def command_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run made by the four commands' library functions, one after the other."""
    from alexedge.android_assets import PackageConfig, package_run
    from alexedge.compress.planner import compress_run
    from alexedge.report import write_report
    from alexedge.train.run_config import DataConfig, RunConfig
    from alexedge.train.session import train_run

    out = tmp_path_factory.mktemp("commands") / "run"
    train_run(RunConfig(DataConfig(data), TRAIN), out)
    compress_run(out, COMPRESS)
    package_run(out, PackageConfig())
    write_report(out)
    return out


def _expected_variants() -> list[str]:
    return [
        variant_name(plan.name, mode, COMPRESS.per_channel)
        for plan in plan_family(COMPRESS)
        for mode in plan.modes
    ]


def _files(run: Path) -> set[str]:
    skip = ("pipeline.json", "data/", "tensorboard/")  # tensorboard names hold host and time
    names = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    return {n for n in names if not n.startswith(skip)}


def test_the_model_learns_and_every_variant_passes_its_floor(tiny_run: PipelineResult) -> None:
    doc = tiny_run.doc
    validate_variants_doc(doc)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["keras"]["float"]["top1"] >= 0.9, doc["keras"]  # chance is 1/3
    assert doc["keras"]["pruned50"]["top1"] >= doc["keras"]["float"]["top1"] - 0.1
    assert [v["name"] for v in doc["variants"]] == _expected_variants()
    for v in doc["variants"]:
        assert v["status"] == "ok", v["error"]
        assert v["keras_agreement"] >= v["agreement_floor"] > 0.9
        assert v["bytes"] == (tiny_run.out / "variants" / v["file"]).stat().st_size
    pruned = {v["name"]: v["sparsity"] for v in doc["variants"]}
    assert pruned["pruned50-int8"] > 0.3 > pruned["int8"]
    status = json.loads((tiny_run.out / "pipeline.json").read_text())
    assert status["status"] == "done"
    assert set(status["timings_s"]) == {"train", "compress", "package", "report"}
    assert set(status["cpu_s"]) == set(status["timings_s"])
    assert status["cpu_s"]["train"] > 0


def test_pipeline_and_commands_make_the_same_run(tiny_run: PipelineResult, command_run: Path):
    assert _files(tiny_run.out) == _files(command_run)
    ours = json.loads((tiny_run.out / "variants.json").read_text())
    theirs = json.loads((command_run / "variants.json").read_text())
    assert [v["name"] for v in ours["variants"]] == [v["name"] for v in theirs["variants"]]
    assert set(ours) == set(theirs)
    assert ours["compress"] == theirs["compress"]


def test_each_variant_loads_in_the_edge_runtime(tiny_run: PipelineResult) -> None:
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[..., 0] = 200  # red: class 0 of the colour dataset
    for v in tiny_run.doc["variants"]:
        classifier = Classifier(tiny_run.out / "variants" / v["file"])
        assert classifier.num_classes == CLASSES
        assert len(classifier.classify(image, top=3)) == 3


def test_report_and_table_show_every_variant(tiny_run: PipelineResult) -> None:
    report = (tiny_run.out / "REPORT.md").read_text()
    for v in tiny_run.doc["variants"]:
        assert f"{v['bytes']:,}" in report
        assert v["name"] in tiny_run.table


def test_the_bundle_is_the_smallest_passing_uint8_variant(tiny_run: PipelineResult) -> None:
    manifest = json.loads((tiny_run.out / "android_assets" / "manifest.json").read_text())
    uint8 = [v for v in tiny_run.doc["variants"] if v["io"] == "uint8" and v["status"] == "ok"]
    assert manifest["variant"] == min(uint8, key=lambda v: v["bytes"])["name"]


def test_broken_calibration_fails_the_floor_and_nothing_is_packaged(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calibration pixels 1000x too large (a uint16/float mix-up): int8 ranges are wrong."""
    from alexedge.compress import inputs
    from alexedge.compress.diagnostics.verify import AgreementError

    real = inputs.load_calibration

    def scaled(*args: object, **kwargs: object) -> np.ndarray:
        return real(*args, **kwargs).astype(np.float32) * 1000

    monkeypatch.setattr(inputs, "load_calibration", scaled)
    compress = CompressConfig(sparsities=(0,), quantize=("int8",), calibration_images=16)
    out = tmp_path / "run"
    with pytest.raises(AgreementError, match="int8"):
        run_pipeline(PipelineConfig(out=out, data=DataConfig(data), train=TRAIN, compress=compress))
    assert not (out / "android_assets").exists()
    assert (out / "REPORT.md").is_file()
    doc = json.loads((out / "variants.json").read_text())
    assert {v["name"]: v["status"] for v in doc["variants"]}["int8"] == "failed"
    assert json.loads((out / "pipeline.json").read_text())["status"] == "failed"


def test_blank_calibration_is_refused() -> None:
    """All-black calibration (every image flat) is a bug, not a calibration: one clear error."""
    from alexedge.compress.export.convert import convert
    from alexedge.errors import ModelError
    from alexedge.train.models import build_model

    model = build_model("logreg", 3, 16)
    with pytest.raises(ModelError, match="single flat colour"):
        convert(model, "int8", np.zeros((4, 16, 16, 3), np.uint8))


def test_a_first_run_makes_what_the_report_and_the_bundle_need() -> None:
    """The defaults stay short: the float32 reference, int8 of the trained and the pruned
    model (the bundle), no per-layer error pass."""
    names = [
        variant_name(plan.name, mode, FIRST_RUN_COMPRESS.per_channel)
        for plan in plan_family(FIRST_RUN_COMPRESS)
        for mode in plan.modes
    ]
    assert names == ["float32", "int8", "pruned75-int8"]
    assert not FIRST_RUN_COMPRESS.layer_errors
    assert FIRST_RUN_TRAIN.epochs < TrainConfig().epochs
    assert PipelineConfig(out=Path("run")).compress == FIRST_RUN_COMPRESS


def test_existing_run_needs_force(tiny_run: PipelineResult) -> None:
    with pytest.raises(ConfigError, match="--force"):
        run_pipeline(PipelineConfig(out=tiny_run.out))


def test_built_in_data_is_synthesized_into_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = PipelineConfig(
        out=out,
        synth=SynthConfig(classes=3, per_class=4, val_per_class=2, size=SIZE),
        train=TrainConfig(
            input_size=SIZE, epochs=1, batch_size=8, model_options=TRAIN.model_options
        ),
        compress=CompressConfig(sparsities=(0,), quantize=("float32",), calibration_images=4),
    )
    result = run_pipeline(config)
    assert len([p for p in (out / "data" / "train").iterdir() if p.is_dir()]) == 3
    assert json.loads((out / "dataset.json").read_text())["root"] == str((out / "data").resolve())
    assert [v["name"] for v in result.doc["variants"]] == ["float32"]
    assert not (out / "android_assets").exists()  # no uint8 variant to package
