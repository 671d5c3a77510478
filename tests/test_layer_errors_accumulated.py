"""Per-layer error of int16x8 and int4 variants: each file against the float32 file, accumulated.

The numbers are checked against a hand computation: a two-layer model whose second
layer's weights are scaled by 1.1 in a copy of its float32 file has an error of exactly
a tenth of that layer's float output, and the first layer none. A tiny trained run
compressed to int16x8 and int4 shows the rows in ``variants.json`` and ``REPORT.md``.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from compress_helpers import make_trained_run
from report_rows import layer_error, measurement, variants_doc

from alexedge.compress.schema import validate_variants_doc
from alexedge.errors import ConfigError, ModelError
from alexedge.report import render_report

LAYERS = {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}


def _two_layer_model():
    from alexedge.quiet import import_tensorflow

    import_tensorflow()
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential(
        [
            layers.Input((6, 6, 3)),
            layers.Conv2D(4, 3, name="conv1"),
            layers.Flatten(name="flatten"),
            layers.Dense(3, name="fc2"),
            # The model's last op is named after its output, not its layer (as in every
            # registered family, a softmax ends the model).
            layers.Softmax(),
        ]
    )
    kernel, _ = model.get_layer("fc2").get_weights()
    model.get_layer("fc2").set_weights([kernel, np.array([0.5, -0.3, 0.2], np.float32)])
    return model


def _scale_weights(data: bytes, op_type: str, factor: float) -> bytes:
    """``data`` with the weights of its (single) ``op_type`` op multiplied by ``factor``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from alexedge.compress.export.tflite_ops import list_ops

    kinds = [op.name for op in list_ops(data)]
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    weights = graph.tensors[graph.operators[kinds.index(op_type)].inputs[1]]
    buffer = model.buffers[weights.buffer]
    values = np.frombuffer(bytes(buffer.data), np.float32) * np.float32(factor)
    buffer.data = np.frombuffer(values.astype(np.float32).tobytes(), np.uint8)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_a_damaged_layer_matches_the_hand_computed_snr_and_ranks_worst() -> None:
    import tf_keras as keras

    from alexedge.compress.diagnostics.layer_errors import weight_layers
    from alexedge.compress.diagnostics.tensor_errors import accumulated_errors
    from alexedge.compress.export.convert import convert

    model = _two_layer_model()
    images = np.random.default_rng(0).uniform(-1, 1, (5, 6, 6, 3)).astype(np.float32)
    reference = convert(model, "float32")
    damaged = _scale_weights(reference, "FULLY_CONNECTED", 1.1)
    errors = accumulated_errors(damaged, reference, weight_layers(model), images)

    # fc2 gets the same input in both files: its error is 0.1 x (the bias-free product).
    features = keras.Model(model.inputs, model.get_layer("flatten").output)(images).numpy()
    kernel, bias = (w.astype(np.float64) for w in model.get_layer("fc2").get_weights())
    product = features.astype(np.float64) @ kernel
    expected = 10 * math.log10(np.sum((product + bias) ** 2) / np.sum((0.1 * product) ** 2))
    assert [e.layer for e in errors] == ["fc2", "conv1"]
    assert errors[0].snr_db == pytest.approx(expected, abs=0.01)
    assert errors[0].rmse_over_rms == pytest.approx(10 ** (-expected / 20), rel=1e-3)
    assert errors[0].scale is None and errors[0].rmse_over_scale is None  # float outputs
    assert errors[1].snr_db == 150.0  # conv1 is untouched: its outputs are equal
    assert errors[0].to_dict()["method"] == "accumulated"


def test_files_of_different_models_are_refused() -> None:
    from alexedge.compress.diagnostics.tensor_errors import accumulated_errors
    from alexedge.compress.export.convert import convert

    model = _two_layer_model()
    images = np.zeros((1, 6, 6, 3), np.float32)
    with pytest.raises(ModelError, match="no Conv/Dense layer"):
        accumulated_errors(convert(model, "float32"), convert(model, "float32"), ("fc9",), images)


@pytest.fixture(scope="module")
def compressed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained run compressed to float32, int16x8 and int4 (no pruning)."""
    pytest.importorskip("litert_quantizer")
    from alexedge.compress.config import CompressConfig
    from alexedge.compress.planner import compress_run
    from alexedge.report import write_report

    run = make_trained_run(tmp_path_factory.mktemp("accumulated"))
    config = CompressConfig(
        sparsities=(), quantize=("float32", "int16x8", "int4"), calibration_images=16
    )
    compress_run(run, config, say=lambda _: None)
    write_report(run)
    return run


def _rows(run: Path) -> dict[str, list[dict]]:
    doc = json.loads((run / "variants.json").read_text())
    validate_variants_doc(doc)
    return {v["name"]: v.get("layer_errors") for v in doc["variants"]}


def test_int16x8_and_int4_variants_get_rows_with_keras_names_worst_first(compressed) -> None:
    rows = _rows(compressed)
    assert rows["float32"] is None
    for name in ("int16x8", "int4"):
        assert {r["layer"] for r in rows[name]} == LAYERS
        assert {r["method"] for r in rows[name]} == {"accumulated"}
        snrs = [r["snr_db"] for r in rows[name]]
        assert snrs == sorted(snrs)
    # int16 outputs are dequantized with their own step: 16-bit activations and int8
    # weights stay far closer to float than int4 weights (about 50 vs 20 dB here).
    int16, int4 = rows["int16x8"], rows["int4"]
    assert all(r["snr_db"] > 30 and r["scale"] > 0 and r["rmse_over_scale"] > 0 for r in int16)
    assert all(5 < r["snr_db"] < 40 and "scale" not in r for r in int4)
    assert np.median([r["snr_db"] for r in int16]) > np.median([r["snr_db"] for r in int4]) + 10


def test_the_report_shows_the_accumulated_sections(compressed) -> None:
    report = (compressed / "REPORT.md").read_text()
    for name in ("int16x8", "int4"):
        assert f"## Per-layer {name} error, accumulated, worst first: `{name}`" in report
    worst = _rows(compressed)["int4"][0]
    assert f"| {worst['layer']} | {worst['op']} | {worst['snr_db']:.1f} |" in report
    assert "includes that of every layer before it" in report
    assert "--float-layers " not in report  # no int8 variant: nothing to keep in float


def test_no_layer_errors_turns_the_accumulated_report_off(compressed, tmp_path: Path) -> None:
    from alexedge.compress.config import CompressConfig
    from alexedge.compress.planner import compress_run

    run = tmp_path / "run"
    shutil.copytree(compressed, run)
    config = CompressConfig(
        sparsities=(), quantize=("int4",), calibration_images=4, layer_errors=False
    )
    compress_run(run, config, say=lambda _: None)
    rows = _rows(run)
    assert rows["int4"] is None and rows["int16x8"]  # remade without; kept from before


def test_float_layers_need_an_int8_variant() -> None:
    from alexedge.compress.config import CompressConfig

    for option in ({"float_layers": ("conv1",)}, {"auto_float": 2}):
        with pytest.raises(ConfigError, match="add int8 to --quantize"):
            CompressConfig(quantize=("float32", "int16x8", "int4"), **option)


def _accumulated(layer: str, snr: float, **extra: object) -> dict:
    row = {"layer": layer, "op": "CONV_2D", "snr_db": snr, "rmse_over_rms": 10 ** (-snr / 20)}
    return {**row, **extra, "method": "accumulated"}


_INT16 = [
    _accumulated("conv2", 40.0, rmse_over_scale=50.0, scale=1e-4),
    _accumulated("conv1", 48.0, rmse_over_scale=9.0, scale=2e-4),
]
_INT4 = [_accumulated("conv1", 25.0), _accumulated("fc8", 12.5, op="FULLY_CONNECTED")]


def _doc() -> dict:
    """A fresh document each call: tests change its rows in place."""
    return copy.deepcopy(_document())


def _document() -> dict:
    return variants_doc(
        [
            measurement("int8", "int8", layer_errors=[layer_error("conv1", 30.0, 0.3)]),
            measurement("int16x8", "int16x8", layer_errors=_INT16),
            measurement("int4", "int4", layer_errors=_INT4),
        ]
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"method": "accumulate"}, "method 'accumulate' is not one of"),
        ({"rmse_over_rms": None}, "(accumulated) needs text layer and op and numbers"),
        ({"rmse_over_scale": 3.0}, "numbers snr_db, rmse_over_rms, rmse_over_scale, scale"),
        ({"snr_db": float("inf")}, "(accumulated) needs"),
    ],
)
def test_the_schema_rejects_a_malformed_accumulated_row(change: dict, problem: str) -> None:
    doc = _doc()
    validate_variants_doc(doc)  # isolated, accumulated with and without a step
    doc["variants"][2]["layer_errors"][1].update(change)
    with pytest.raises(ModelError, match=r"'int4': layer_errors\[1\]") as e:
        validate_variants_doc(doc)
    assert problem in str(e.value)


def test_the_report_keeps_the_two_methods_apart() -> None:
    report = render_report(_doc())
    assert "## Per-layer int8 error, worst first: `int8`" in report
    assert "--float-layers conv1" in report  # the int8 reading, unchanged
    int4 = report[report.index("## Per-layer int4 error, accumulated") :]
    assert "| fc8 | FULLY_CONNECTED | 12.5 | 23.71% | - |" in int4
    assert int4.index("| fc8 |") < int4.index("| conv1 |")
    assert "`fc8` (FULLY_CONNECTED) ends furthest from float: 12.5 dB SNR" in int4
    assert "| conv2 | CONV_2D | 40.0 | 1.00% | 50.0 |" in report
    # Both notes: the debugger's isolated error and what accumulated means.
    assert "the error is the layer's own" in report
    assert "Do not read that ranking as the int8 one" in report
