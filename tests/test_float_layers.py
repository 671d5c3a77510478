"""Selective float layers: named or auto-picked layers stay float, the rest int8, measured.

The end-to-end test runs ``compress_run`` on a briefly trained tiny run with
``--float-layers conv1,fc8 --auto-float 2`` and reads the written files: the kept
layers' ops and weights are float32 in the ``.tflite``, every other Conv/Dense is int8,
the I/O stays uint8, and the auto-picked layers are the two worst of the int8 variant's
error report in the same ``variants.json``.
"""

from __future__ import annotations

import json
import re

import pytest
from compress_helpers import make_trained_run

from alexedge.compress.config import CompressConfig
from alexedge.compress.diagnostics.layer_errors import LayerError
from alexedge.compress.export.float_layers import (
    auto_float_layers,
    check_float_layers,
    float_variant_name,
)
from alexedge.errors import ConfigError

VALID = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
_WEIGHT_OPS = ("CONV_2D", "FULLY_CONNECTED")


def _weight_op_types(data: bytes) -> list[tuple[str, str, str]]:
    """(op, output type, weight type) of each Conv/Dense op of a ``.tflite``, in order."""
    from ai_edge_litert import schema_py_generated as schema

    from alexedge.compress.export.tflite_ops import list_ops

    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    graph = schema.Model.GetRootAsModel(data, 0).Subgraphs(0)
    rows = []
    for i, op in enumerate(list_ops(data)):
        if op.name in _WEIGHT_OPS:
            weights = graph.Tensors(graph.Operators(i).Inputs(1))
            rows.append((op.name, op.output_types[0], types[weights.Type()]))
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_trained_run(tmp_path_factory.mktemp("float-layers"), per_class=16, val_per_class=8)


@pytest.fixture(scope="module")
def compressed(run):
    from alexedge.compress.planner import compress_run

    config = CompressConfig(
        sparsities=(0,),
        quantize=("int8",),
        float_layers=("fc8", "conv1"),
        auto_float=2,
        calibration_images=8,
    )
    result = compress_run(run, config, say=lambda _: None)
    return run, {row["name"]: row for row in result.doc["variants"]}


def test_named_layers_stay_float_and_the_rest_int8(compressed) -> None:
    run, rows = compressed
    row = rows["int8-float-conv1-fc8"]
    assert row["float_layers"] == ["conv1", "fc8"]
    assert row["quantization"] == "int8" and row["status"] == "ok"
    assert row["io"] == "uint8"
    assert row["float_ops"] == {"CONV_2D": 1, "FULLY_CONNECTED": 1}
    data = (run / "variants" / row["file"]).read_bytes()
    f32, i8 = ("FLOAT32", "FLOAT32"), ("INT8", "INT8")
    expected = [f32, i8, i8, i8, i8, i8, i8, f32]  # conv1..conv5, fc6..fc8
    assert [t[1:] for t in _weight_op_types(data)] == expected
    # The plain int8 variant of the same model has no float op: the difference is ours.
    plain = (run / "variants" / rows["int8"]["file"]).read_bytes()
    assert [t[1:] for t in _weight_op_types(plain)] == [i8] * 8
    assert row["bytes"] > rows["int8"]["bytes"]


def test_auto_float_keeps_the_worst_layers_of_the_error_report(compressed) -> None:
    run, rows = compressed
    report = rows["int8"]["layer_errors"]
    assert sorted(r["layer"] for r in report) == sorted(VALID)
    assert [r["snr_db"] for r in report] == sorted(r["snr_db"] for r in report)
    worst = {r["layer"] for r in report[:2]}
    row = rows["int8-autofloat2"]
    assert set(row["float_layers"]) == worst
    data = (run / "variants" / row["file"]).read_bytes()
    kept = [
        layer for layer, t in zip(VALID, _weight_op_types(data), strict=True) if t[2] == "FLOAT32"
    ]
    assert set(kept) == worst
    # Written, measured and listed like every variant.
    on_disk = json.loads((run / "variants.json").read_text())
    assert {"int8-float-conv1-fc8", "int8-autofloat2"} <= {v["name"] for v in on_disk["variants"]}
    assert all("layer_errors" not in v for v in on_disk["variants"] if v["name"] != "int8")


def test_an_unknown_layer_is_one_line_naming_the_valid_ones_before_any_write(run) -> None:
    from alexedge.compress.planner import compress_run

    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    config = CompressConfig(sparsities=(0,), quantize=("int8",), float_layers=("conv9", "fc8"))
    with pytest.raises(ConfigError) as e:
        compress_run(run, config, say=lambda _: None)
    message = str(e.value)
    assert "\n" not in message and "'conv9'" in message and "best.keras" in message
    assert ", ".join(VALID) in message
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before


def test_layer_choice_rules() -> None:
    assert check_float_layers(["fc8", "conv1", "fc8"], VALID, "m") == ("conv1", "fc8")
    with pytest.raises(ConfigError, match=re.escape("no quantized layer 'pool1' in m")):
        check_float_layers(["pool1"], VALID, "m")
    errors = [LayerError(n, "CONV_2D", snr, 0.3, 0.01) for n, snr in [("c", 20), ("a", 30)]]
    assert auto_float_layers(errors, 1) == ("c",)
    with pytest.raises(ConfigError, match="give 1 to 2"):
        auto_float_layers(errors, 3)
    assert float_variant_name("int8", ("conv1", "fc8")) == "int8-float-conv1-fc8"
    assert float_variant_name("pruned75-int8", ("fc6",), auto=1) == "pruned75-int8-autofloat1"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"float_layers": ("conv1",), "quantize": ("float16",)}, "add int8 to --quantize"),
        ({"auto_float": 1, "quantize": ("dynamic",)}, "add int8 to --quantize"),
        ({"auto_float": -1}, "--auto-float must be >= 0"),
    ],
)
def test_config_refuses_float_layers_without_int8(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        CompressConfig(**kwargs)
