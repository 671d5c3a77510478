"""``write_report`` on a real tiny run: every figure, numbers that match, notes for gaps."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from compress_helpers import make_trained_run
from PIL import Image
from report_rows import measurement

from alexedge.errors import AlexEdgeError, ModelError
from alexedge.predictions import write_predictions
from alexedge.report import write_report
from alexedge.report.writer import FIGURES

# A picture whose pixels spread less than this is blank (one colour, or axes only).
_MIN_PIXEL_STD = 12.0


def _row(name: str, data: bytes | None, quantization: str, **extra: object) -> dict:
    sizes = {
        "bytes": len(data) if data else 1000,
        "gzip_bytes": len(gzip.compress(data, 9)) if data else 700,
    }
    scores = {"top1": 0.95, "top5": 1.0, "keras_top1": 0.95, "keras_agreement": 1.0}
    latency = {"latency_ms_1_thread": 0.05, "latency_ms_2_threads": 0.04}
    counts = {"weights": 100, "nonzero_weights": 100}
    return measurement(name, quantization, **{**sizes, **scores, **latency, **counts, **extra})


def _half_zero(model):
    """A copy of ``model`` whose every Conv2D/Dense kernel has its even elements zeroed."""
    from alexedge.compress.techniques.wrap import copy_model, weight_layers

    copy = copy_model(model)
    zeroed = {}
    for layer in weight_layers(copy):
        kernel = layer.kernel.numpy()
        flat = kernel.reshape(-1)
        flat[::2] = 0
        layer.kernel.assign(kernel)
        zeroed[layer.name] = float(np.mean(kernel == 0))
    return copy, zeroed


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A trained run with two real float32 files, hand-made variants and predictions."""
    from alexedge.compress.export.convert import convert
    from alexedge.train.loop import load_model

    run_dir = make_trained_run(tmp_path_factory.mktemp("report"), epochs=2)
    model = load_model(run_dir / "best.keras")
    dense = convert(model, "float32")
    pruned_model, zeroed = _half_zero(model)
    pruned = convert(pruned_model, "float32")
    (run_dir / "variants").mkdir()
    (run_dir / "variants" / "float32.tflite").write_bytes(dense)
    (run_dir / "variants" / "pruned50-float32.tflite").write_bytes(pruned)
    doc = {
        "schema_version": 2,
        "model": "alexnet-reduced",
        "input_size": 32,
        "parameters": int(model.count_params()),
        "dataset": {"root": "d", "classes": 3, "train_images": 72, "val_images": 60, "skipped": 0},
        "keras": {"float": {"top1": 0.9, "top5": 1.0}, "pruned50": {"top1": 0.85, "top5": 1.0}},
        "variants": [
            _row("float32", dense, "float32", top1=0.9),
            _row("pruned50-float32", pruned, "float32", source="pruned50", nonzero_weights=50),
            _row("int8", None, "int8", top1=0.8, latency_ms_1_thread=0.02),
            _row(
                "pruned50-int8",
                None,
                "int8",
                gzip_bytes=300,
                top1=0.99,
                status="failed",
                error="pruned50-int8: agreement 0.50 below its floor 0.97",
            ),
        ],
    }
    (run_dir / "variants.json").write_text(json.dumps(doc))
    labels = np.repeat(np.arange(3), 20)
    float_top1 = labels.copy()
    float_top1[[0, 1]] = 1  # class_0: 18/20
    int8 = float_top1.copy()
    int8[20:30] = 2  # class_1: 10/20 (float: 20/20)
    variants = {"float32": float_top1, "pruned50-float32": float_top1, "int8": int8}
    write_predictions(run_dir, labels, {"float": float_top1}, variants)
    result = write_report(run_dir)
    return {"dir": run_dir, "doc": doc, "result": result, "zeroed": zeroed, "model": model}


def test_every_figure_exists_decodes_is_not_blank_and_is_linked(run: dict) -> None:
    report = (run["dir"] / "REPORT.md").read_text()
    # This run has no clusters.json (alexedge embed) and no search: those two are not drawn.
    expected = {k: v for k, v in FIGURES.items() if k not in ("clusters", "search_path")}
    assert run["result"].figures == expected
    for name in expected.values():
        with Image.open(run["dir"] / name) as image:
            pixels = np.asarray(image.convert("RGB"), np.float32)
        assert pixels.std() > _MIN_PIXEL_STD, name
        assert f"]({name})" in report, name
    assert run["result"].notes == {}


def _table_rows(report: str) -> dict[str, list[str]]:
    """Variants table rows of REPORT.md by variant name, cells stripped."""
    start = report.index("| variant | quantization")
    lines = report[start:].split("\n\n")[0].splitlines()[2:]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return {r[0].replace(" **(FAILED)**", ""): r for r in rows}


def test_report_numbers_equal_variants_json_report_json_and_csv(run: dict) -> None:
    report = (run["dir"] / "REPORT.md").read_text()
    data = json.loads((run["dir"] / "report.json").read_text())
    with (run["dir"] / "variants.csv").open() as f:
        csv_rows = {r["name"]: r for r in csv.DictReader(f)}
    table = _table_rows(report)
    reported = {v["name"]: v for v in data["variants"]}
    float_bytes = run["doc"]["variants"][0]["bytes"]
    assert (
        set(table) == set(reported) == set(csv_rows) == {v["name"] for v in run["doc"]["variants"]}
    )
    for v in run["doc"]["variants"]:
        cells, r = table[v["name"]], reported[v["name"]]
        assert (r["bytes"], r["gzip_bytes"], r["top1"], r["top5"]) == (
            v["bytes"], v["gzip_bytes"], v["top1"], v["top5"],
        )  # fmt: skip
        assert cells[3] == f"{v['bytes']:,}" and cells[5] == f"{v['gzip_bytes']:,}"
        assert cells[6] == f"{float_bytes / v['bytes']:.2f}x" == f"{r['x_smaller']:.2f}x"
        assert cells[8] == f"{100 * v['top1']:.1f}%" and cells[9] == f"{100 * v['top5']:.1f}%"
        assert cells[10] == f"{100 * (v['top1'] - 0.9):+.1f} pt"
        assert cells[12] == f"{v['latency_ms_1_thread']:.2f}"
        assert float(csv_rows[v["name"]]["top1"]) == v["top1"]
        assert int(csv_rows[v["name"]]["gzip_bytes"]) == v["gzip_bytes"]
    # The failed variant is smallest and most accurate, yet on no front.
    assert table["pruned50-int8"][-1] == "failed"
    assert "pruned50-int8" not in data["pareto"]["size_vs_top1"]
    # pruned50-float32 is as fast as float32 and more accurate: float32 is dominated.
    assert data["pareto"]["latency_vs_top1"] == ["int8", "pruned50-float32"]
    assert "agreement 0.50 below its floor" in report


def test_report_lists_the_classes_a_variant_breaks(run: dict) -> None:
    report = (run["dir"] / "REPORT.md").read_text()
    section = report[report.index("**int8**") :].split("\n\n")[1]
    assert "| class 1 | 100.0% | 50.0% | -50.0 pt | 20 |" in section
    assert "class 0" not in section and "class 2" not in section  # they lost nothing
    assert "**float32**: no class loses top-1." in report
    data = json.loads((run["dir"] / "report.json").read_text())
    worst = data["class_damage"]["int8"][0]
    assert (worst["name"], worst["float_top1"], worst["variant_top1"]) == ("class 1", 1.0, 0.5)


def test_layer_table_reads_the_zeros_of_each_exported_file(run: dict) -> None:
    from alexedge.train.models.summary import model_stats

    data = json.loads((run["dir"] / "report.json").read_text())
    layers = {r["layer"]: r for r in data["layers"]}
    assert set(run["zeroed"]) <= set(layers)
    for name, share in run["zeroed"].items():
        assert layers[name]["sparsity"]["pruned50-float32"] == pytest.approx(share), name
        assert layers[name]["sparsity"]["float32"] < 0.05, name
        assert "int8" not in layers[name]["sparsity"]  # no file: not measured
    assert sum(r["parameters"] for r in data["layers"]) == run["model"].count_params()
    conv1 = run["model"].get_layer("conv1")
    height, width = conv1.output_shape[1:3]
    assert layers["conv1"]["macs"] == height * width * int(np.prod(conv1.kernel.shape))
    stats = model_stats(run["model"])
    assert sum(r["macs"] for r in data["layers"]) == stats.macs


def test_saliency_has_the_inputs_shape_and_is_not_constant(run: dict) -> None:
    from alexedge.report.saliency import saliency_maps

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    s = saliency_maps(run["model"], images, np.array([0, 1, 2]))
    assert s.maps.shape == images.shape[:3]
    assert all(m.std() > 0 for m in s.maps)
    assert np.allclose(s.probabilities.sum(axis=1), 1, atol=1e-5)


def test_a_run_without_compression_or_model_still_reports_training(
    run: dict, tmp_path: Path
) -> None:
    bare = tmp_path / "run"
    shutil.copytree(run["dir"], bare, ignore=shutil.ignore_patterns("*.png", "REPORT.md"))
    for name in ("variants.json", "predictions.npz", "best.keras"):
        (bare / name).unlink()
    out = tmp_path / "elsewhere"
    result = write_report(bare, out)
    report = (out / "REPORT.md").read_text()
    assert result.figures == {"training": "training_curves.png"} and result.table == ""
    assert (
        "Compression has not run" in report and "![Training curves](training_curves.png)" in report
    )
    assert "no best.keras" in result.notes["saliency"] and "predictions.npz" in report
    assert not (out / "variants.csv").exists() and not (bare / "REPORT.md").exists()


@pytest.mark.parametrize("text", ["{not json", '{"variants": 3}', "[]"])
def test_a_damaged_variants_json_raises_and_writes_nothing(
    run: dict, tmp_path: Path, text: str
) -> None:
    bad = tmp_path / "run"
    bad.mkdir()
    shutil.copy(run["dir"] / "history.csv", bad)
    (bad / "variants.json").write_text(text)
    with pytest.raises(ModelError, match=re.escape(str(bad / "variants.json"))):
        write_report(bad)
    assert not (bad / "REPORT.md").exists()
    with pytest.raises(AlexEdgeError, match="no such run folder"):
        write_report(tmp_path / "missing")
