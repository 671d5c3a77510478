"""End-to-end: the whole pipeline on a tiny synthesized dataset, and its artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alexedge.config import CompressConfig, PipelineConfig, TrainConfig
from alexedge.edge_runtime import Classifier
from alexedge.pipeline import run_pipeline
from alexedge.pipeline_stages import VARIANTS


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("pipeline") / "run"
    config = PipelineConfig(
        out=out,
        classes=3,
        train=TrainConfig(input_size=32, epochs=1, batch_size=8, width=0.125, fc_units=32),
        compress=CompressConfig(finetune_epochs=1, calibration_images=8, sparsity=0.5),
        synth_per_class=6,
        synth_val_per_class=10,
        synth_size=32,
    )
    return run_pipeline(config)


def test_every_artifact_exists(tiny_run) -> None:
    out = tiny_run.out
    for name in [
        "pipeline.json",
        "config.json",
        "labels.txt",
        "data_stats.json",
        "best.keras",
        "last.keras",
        "history.csv",
        "metrics.json",
        "pruned.keras",
        "pruning.json",
        "variants.json",
        "REPORT.md",
        "android_assets/model.tflite",
        "android_assets/labels.txt",
        "android_assets/manifest.json",
    ]:
        assert (out / name).is_file(), name
    for name, _, _ in VARIANTS:
        assert (out / "variants" / f"{name}.tflite").stat().st_size > 0
    assert json.loads((out / "pipeline.json").read_text())["status"] == "done"
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "temporary files left behind"


def test_each_variant_loads_in_the_edge_runtime(tiny_run) -> None:
    image = np.full((32, 32, 3), 127, np.uint8)
    for name, _, _ in VARIANTS:
        classifier = Classifier(tiny_run.out / "variants" / f"{name}.tflite")
        assert classifier.num_classes == 3
        assert len(classifier.classify(image, top=3)) == 3


def test_float32_tflite_agrees_with_keras(tiny_run) -> None:
    variants = {v["name"]: v for v in tiny_run.report["variants"]}
    assert variants["float32"]["keras_agreement"] >= 0.99
    assert variants["float32"]["top1"] == pytest.approx(
        variants["float32"]["keras_top1"], abs=0.011
    )


def test_report_lists_every_variant_with_its_size(tiny_run) -> None:
    report = (tiny_run.out / "REPORT.md").read_text()
    doc = json.loads((tiny_run.out / "variants.json").read_text())
    assert [v["name"] for v in doc["variants"]] == [name for name, _, _ in VARIANTS]
    for v in doc["variants"]:
        file_size = (tiny_run.out / "variants" / v["file"]).stat().st_size
        assert v["bytes"] == file_size
        assert f"| {v['name']} |" in report
        assert f"{file_size:,}" in report
    assert tiny_run.table in report


def test_pruned_variant_keeps_its_zeros(tiny_run) -> None:
    pruned = next(v for v in tiny_run.report["variants"] if v["name"] == "pruned-int8")
    dense = next(v for v in tiny_run.report["variants"] if v["name"] == "int8")
    assert pruned["sparsity"] > 0.3 > dense["sparsity"]


def test_android_bundle_is_the_best_int8_variant(tiny_run) -> None:
    assets = tiny_run.out / "android_assets"
    manifest = json.loads((assets / "manifest.json").read_text())
    source = tiny_run.out / "variants" / f"{manifest['variant']}.tflite"
    assert (assets / "model.tflite").read_bytes() == source.read_bytes()
    assert manifest["input"]["dtype"] == "uint8"
    assert manifest["num_classes"] == 3
    labels = (assets / "labels.txt").read_text().splitlines()
    assert labels == (tiny_run.out / "labels.txt").read_text().splitlines()
    int8 = [v for v in tiny_run.report["variants"] if v["quantization"] == "int8"]
    assert manifest["validation"]["top1"] == max(v["top1"] for v in int8)


def test_existing_run_needs_force(tiny_run, tmp_path: Path) -> None:
    from alexedge.errors import ConfigError

    with pytest.raises(ConfigError, match="--force"):
        run_pipeline(PipelineConfig(out=tiny_run.out))


def test_run_folder_reloads_the_same_dataset(tiny_run) -> None:
    from alexedge.run import reload_dataset

    dataset = reload_dataset(tiny_run.out)
    assert dataset.class_names == tuple((tiny_run.out / "labels.txt").read_text().splitlines())
    assert len(dataset.val) == tiny_run.report["dataset"]["val_images"]
