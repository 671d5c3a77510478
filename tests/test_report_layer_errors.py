"""The per-layer int8 error in the report: worst first, per variant, absent for old runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from report_rows import layer_error, measurement, variants_doc

from alexedge.report import render_report, write_report

# Deliberately not worst first: the report must sort by SNR itself.
_INT8_ERRORS = [
    layer_error("conv2", 31.0, 0.9),
    layer_error("fc8", 18.5, 3.4, op="FULLY_CONNECTED"),
    layer_error("conv1", 24.4, 1.7),
]
# 12 layers, fc0 the worst (0 dB) and fc11 the best (33 dB): more than the report shows.
_PRUNED_ERRORS = [layer_error(f"fc{i}", 3.0 * i, 1.0, op="FULLY_CONNECTED") for i in range(12)]


def _doc_with_reports() -> dict:
    return variants_doc(
        [
            measurement("float32", "float32"),
            measurement("int8", "int8", bytes=1000, gzip_bytes=800, layer_errors=_INT8_ERRORS),
            measurement("int8-autofloat1", "int8", bytes=1100, float_layers=["fc8"]),
            measurement(
                "pruned75-int8", "int8", bytes=1000, gzip_bytes=300, layer_errors=_PRUNED_ERRORS
            ),
        ]
    )


def _old_doc() -> dict:
    return variants_doc(
        [measurement("float32", "float32"), measurement("int8", "int8", bytes=1000)]
    )


def _section(report: str, variant: str) -> list[str]:
    """The lines of ``variant``'s per-layer section, up to the next heading."""
    start = report.index(f"## Per-layer int8 error, worst first: `{variant}`")
    body = report[start:].split("\n## ")[0]
    return body.splitlines()


def _layer_column(section: list[str]) -> list[str]:
    rows = [line for line in section if line.startswith("| ")][1:]  # without the header
    return [line.split(" | ")[0].lstrip("| ") for line in rows]


def test_each_report_lists_its_layers_worst_first_with_a_reading() -> None:
    report = render_report(_doc_with_reports())
    int8 = _section(report, "int8")
    assert _layer_column(int8) == ["fc8", "conv1", "conv2"]
    assert "| fc8 | FULLY_CONNECTED | 18.5 | 3.40 |" in int8
    assert "| conv1 | CONV_2D | 24.4 | 1.70 |" in int8
    reading = next(line for line in int8 if "loses the most" in line)
    assert reading.startswith("`fc8` (FULLY_CONNECTED) loses the most: 18.5 dB SNR")
    assert "--float-layers fc8" in reading and "--auto-float K" in reading
    # The pruned report is cut to its 10 worst layers and says how many are left out.
    pruned = _section(report, "pruned75-int8")
    assert _layer_column(pruned) == [f"fc{i}" for i in range(10)]
    assert "2 better layers not shown (all 12 in variants.json)." in pruned
    # Sections follow the variants' order; variants without a report get none.
    assert report.index("`int8`\n") < report.index("`pruned75-int8`\n")
    assert report.count("## Per-layer int8 error") == 2


def test_a_selective_float_variant_names_its_float_layers_in_the_table() -> None:
    report = render_report(_doc_with_reports())
    assert "| int8-autofloat1 (float: fc8) | int8 |" in report
    assert "| int8 | int8 |" in report  # no suffix without float layers


def test_a_doc_without_layer_errors_renders_no_section(tmp_path: Path) -> None:
    report = render_report(_old_doc())
    assert "Per-layer" not in report and "(float:" not in report
    run = tmp_path / "run"
    run.mkdir()
    (run / "variants.json").write_text(json.dumps(_old_doc()))
    write_report(run)
    assert "Per-layer" not in (run / "REPORT.md").read_text()
    assert json.loads((run / "report.json").read_text())["layer_errors"] == {}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("layer-errors") / "run"
    run.mkdir()
    (run / "variants.json").write_text(json.dumps(_doc_with_reports()))
    write_report(run)
    return run


def test_write_report_puts_the_reports_in_report_md_json_and_csv(written: Path) -> None:
    report = (written / "REPORT.md").read_text()
    assert _layer_column(_section(report, "int8")) == ["fc8", "conv1", "conv2"]
    # After the variants table, before the per-class damage.
    assert (
        report.index("| variant |")
        < report.index("## Per-layer")
        < report.index("## Per-class damage")
    )
    data = json.loads((written / "report.json").read_text())
    assert [e["layer"] for e in data["layer_errors"]["int8"]] == ["fc8", "conv1", "conv2"]
    assert set(data["layer_errors"]) == {"int8", "pruned75-int8"}  # all 12 layers kept
    assert len(data["layer_errors"]["pruned75-int8"]) == 12
    variants = {v["name"]: v for v in data["variants"]}
    assert variants["int8-autofloat1"]["float_layers"] == ["fc8"]
    with (written / "variants.csv").open() as f:
        cells = {r["name"]: r["float_layers"] for r in csv.DictReader(f)}
    assert cells == {"float32": "", "int8": "", "int8-autofloat1": "fc8", "pruned75-int8": ""}
