"""``alexedge bench RUN``: every variant of a run timed here, the fastest passing one named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tflite_models import tiny_classifier, to_tflite
from typer.testing import CliRunner

from alexedge.cli import app
from alexedge.edge_runtime.bench import BenchConfig
from alexedge.edge_runtime.compare import compare_variants, format_comparison
from alexedge.errors import ModelError
from alexedge.hardware import hardware_line

QUICK = BenchConfig(threads=(1,), runs=3, warmup=1)


def _row(name: str, quantize: str, agreement: float, floor: float) -> dict:
    return {
        "name": name,
        "file": f"{name}.tflite",
        "quantization": quantize,
        "top1": 0.9,
        "keras_agreement": agreement,
        "agreement_floor": floor,
        "status": "ok" if agreement >= floor else "failed",
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with a float32 variant and a uint8 one that failed its floor."""
    run = tmp_path_factory.mktemp("bench_run")
    (run / "variants").mkdir()
    model = tiny_classifier(size=16, classes=3)
    for name, quantize in (("float32", "float32"), ("int8", "uint8")):
        (run / "variants" / f"{name}.tflite").write_bytes(to_tflite(model, quantize=quantize))
    rows = [_row("float32", "float32", 1.0, 0.995), _row("int8", "int8", 0.5, 0.97)]
    (run / "variants.json").write_text(json.dumps({"variants": rows}))
    return run


def test_the_fastest_is_chosen_among_variants_that_met_their_floor(run: Path) -> None:
    result = compare_variants(run, QUICK)
    assert [v.name for v in result.variants] == ["float32", "int8"]
    assert all(len(v.median_ms) == 1 and v.median_ms[0] > 0 for v in result.variants)
    assert [v.passed for v in result.variants] == [True, False]
    assert result.fastest is not None and result.fastest.name == "float32"
    text = format_comparison(result)
    assert f"hardware {hardware_line()}" in text
    assert "fastest here within its agreement floor: float32" in text
    assert "(below its agreement floor)" in text


def test_with_every_variant_passing_the_lowest_median_wins(run: Path, tmp_path: Path) -> None:
    doc = json.loads((run / "variants.json").read_text())
    doc["variants"][1].update(keras_agreement=0.99, status="ok")
    (tmp_path / "variants").symlink_to(run / "variants")
    (tmp_path / "variants.json").write_text(json.dumps(doc))
    result = compare_variants(tmp_path, QUICK)
    assert result.fastest == min(result.variants, key=lambda v: v.median_ms[0])


def test_bench_command_takes_a_run_folder(run: Path) -> None:
    args = ["bench", str(run), "--threads", "1", "--runs", "3", "--warmup", "1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fastest"] == "float32" and data["threads"] == [1]
    assert {"cpu", "features", "versions"} <= set(data["hardware"])
    assert [v["passed"] for v in data["variants"]] == [True, False]


def test_a_missing_variant_file_is_one_clear_error(run: Path, tmp_path: Path) -> None:
    (tmp_path / "variants.json").write_text((run / "variants.json").read_text())
    with pytest.raises(ModelError, match="missing"):
        compare_variants(tmp_path, QUICK)
