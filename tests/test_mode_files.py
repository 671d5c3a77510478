"""Each quantization mode's file is what its name says, read off the exported bytes.

For every row of ``alexedge.modes.MODES``: the types stored for Conv/Dense weights
(``weight_bits``), the types the ops compute on (``activation_bits``) and the input
tensor type (``input_dtypes``) are read from the flatbuffer of a tiny model's export.
A converter upgrade that quietly leaves ops in float, or an int4 file that stores
bytes, fails here rather than in a size table.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from compress_helpers import random_images, tiny_finetune_data, tiny_model
from tflite_models import float_outputs

from alexedge.errors import ConfigError, ModelError
from alexedge.modes import MODES

_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_BOUNDARY_OPS = ("QUANTIZE", "DEQUANTIZE")
_WEIGHT_TYPES = {32: "FLOAT32", 16: "FLOAT16", 8: "INT8", 4: "INT4"}
_ACTIVATION_TYPES = {32: "FLOAT32", 16: "INT16", 8: "INT8"}
# Dynamic range quantization leaves kernels under 1024 weights in float32 (the
# converter's threshold): the tiny model's conv1 and fc8, never a real model's.
_FLOAT_BELOW = {"dynamic": 1024}


def _has_quantizer() -> bool:
    try:
        import litert_quantizer  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def tiny():
    """A tiny alexnet-reduced (Conv+BN, ReLU, MaxPool, Dense, Softmax), saved once."""
    from alexedge.compress.export.convert import exporter

    data = tiny_finetune_data("alexnet-reduced", n=8)
    model = tiny_model(data)
    size = int(model.inputs[0].shape[1])
    calibration = random_images(8, size)
    with exporter(model) as export:
        yield export, calibration


@pytest.fixture(scope="module")
def files(tiny):
    export, calibration = tiny
    modes = [m for m in MODES if m != "int4" or _has_quantizer()]
    return {m: export(m, calibration if MODES[m].needs_calibration else None) for m in modes}


def _graph(data: bytes):
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    ops = [
        (codes[max(model.operatorCodes[op.opcodeIndex].builtinCode,
                   model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)], op)
        for op in model.subgraphs[0].operators
    ]  # fmt: skip
    return model, model.subgraphs[0], ops, types


def weight_tensors(data: bytes) -> list[tuple[str, int, int]]:
    """``(type, elements, stored bytes)`` of each Conv/Dense kernel, followed back
    through the DEQUANTIZE that feeds a float op its float16 or int4 weights."""
    model, graph, ops, types = _graph(data)
    producer = {int(op.outputs[0]): (name, op) for name, op in ops}
    found = []
    for name, op in ops:
        if name not in _WEIGHT_OPS:
            continue
        index = int(op.inputs[1])
        if producer.get(index, ("",))[0] == "DEQUANTIZE":
            index = int(producer[index][1].inputs[0])
        tensor = graph.tensors[index]
        stored = model.buffers[tensor.buffer].data
        found.append((types[tensor.type], math.prod(tensor.shape), len(stored)))
    return found


def activation_types(data: bytes) -> set[str]:
    """The types every op (but the float<->integer boundary) writes its outputs in."""
    _, graph, ops, types = _graph(data)
    return {
        types[graph.tensors[int(i)].type]
        for name, op in ops
        if name not in _BOUNDARY_OPS
        for i in op.outputs
    }


def input_type(data: bytes) -> str:
    _, graph, _, types = _graph(data)
    return types[graph.tensors[int(graph.inputs[0])].type].lower()


def test_every_mode_names_a_converter_function() -> None:
    from alexedge.compress.export.convert import converter_setup

    for mode in MODES:
        assert callable(converter_setup(mode))


def test_a_row_naming_no_converter_function_is_refused(monkeypatch) -> None:
    from dataclasses import replace

    from alexedge.compress.export.convert import converter_setup

    monkeypatch.setitem(MODES, "int8", replace(MODES["int8"], converter="setup_missing"))
    with pytest.raises(ModelError, match="names no converter function"):
        converter_setup("int8")


def test_io_choices_and_error_reports_come_from_the_rows() -> None:
    from alexedge.modes import ACCUMULATED, IO_TYPES, ISOLATED, modes_with_error_report

    assert MODES["int8"].input_dtypes == IO_TYPES
    assert modes_with_error_report(ISOLATED) == ("int8",)
    assert modes_with_error_report(ACCUMULATED) == ("int16x8", "int4")


@pytest.mark.parametrize("mode", list(MODES))
def test_file_stores_and_computes_in_the_types_its_mode_names(files, mode: str) -> None:
    if mode not in files:
        pytest.skip('litert-quantizer is not installed (pip install "alexedge[int4]")')
    row, data = MODES[mode], files[mode]
    weights = weight_tensors(data)
    assert len(weights) == 8  # conv1-5, fc6-8
    small = _FLOAT_BELOW.get(mode, 0)
    assert {t for t, n, _ in weights if n < small} <= {"FLOAT32"}
    weights = [w for w in weights if w[1] >= small]
    assert len(weights) >= 5 and {t for t, _, _ in weights} == {_WEIGHT_TYPES[row.weight_bits]}
    for _, elements, stored in weights:
        # The bytes really are that wide: two int4 weights per byte.
        assert stored == math.ceil(elements * row.weight_bits / 8)
    assert activation_types(data) == {_ACTIVATION_TYPES[row.activation_bits]}
    assert input_type(data) in row.input_dtypes


def test_int16x8_runs_in_litert_close_to_float32(files) -> None:
    images = random_images(4, 32, seed=1).astype(np.float32)
    outputs = [float_outputs(files[mode], images) for mode in ("float32", "int16x8")]
    # int8 weights move an untrained tiny model's softmax by ~0.01 (as dynamic's do).
    np.testing.assert_allclose(outputs[1], outputs[0], atol=0.03)


def test_int16x8_refuses_a_model_with_lrn() -> None:
    from alexedge.compress.export.convert import convert

    paper = tiny_finetune_data("alexnet", n=8)
    model = tiny_model(paper)
    calibration = random_images(4, int(model.inputs[0].shape[1]))
    with pytest.raises(ModelError, match=r"LOCAL_RESPONSE_NORMALIZATION.*export int8"):
        convert(model, "int16x8", calibration)


def test_int16x8_refuses_a_mixed_file(files) -> None:
    from alexedge.compress.export.convert import only_int16

    with pytest.raises(ModelError, match="no 16-bit-activation kernel for CONV_2D"):
        only_int16(files["int8"], True)


def test_int4_without_the_extra_names_the_install_line(tiny, monkeypatch) -> None:
    export, _ = tiny
    monkeypatch.setitem(sys.modules, "litert_quantizer", None)  # import raises ImportError
    with pytest.raises(ConfigError, match=r'pip install "alexedge\[int4\]"'):
        export("int4")


def test_int4_per_tensor_has_one_scale_per_weight(files) -> None:
    pytest.importorskip("litert_quantizer")
    from alexedge.compress.export.int4 import int4_weights

    _, graph, _, types = _graph(int4_weights(files["float32"], per_channel=False))
    scales = [
        len(t.quantization.scale)
        for t in graph.tensors
        if types[t.type] == "INT4" and t.quantization is not None
    ]
    assert len(scales) == 8 and set(scales) == {1}


def test_int4_with_metadata_classifies_like_float32(files, tmp_path) -> None:
    """Metadata is written after quantization (as ``compress`` does) and survives;
    the edge runtime runs the int4 file and agrees with the float32 one."""
    if "int4" not in files:
        pytest.skip('litert-quantizer is not installed (pip install "alexedge[int4]")')
    from alexedge.edge_runtime import Classifier, read_labels_from_metadata
    from alexedge.edge_runtime.metadata import ImageInputMetadata, ModelMetadata, write_metadata

    meta = ModelMetadata(name="tiny int4", description="test", input=ImageInputMetadata())
    probs = {}
    for mode in ("float32", "int4"):
        data = write_metadata(files[mode], meta, {"labels.txt": b"a\nb\nc\n"})
        path = tmp_path / f"{mode}.tflite"
        path.write_bytes(data)
        assert read_labels_from_metadata(path) == ["a", "b", "c"]
        probs[mode] = Classifier(path).predict(random_images(4, 32, seed=2))
    np.testing.assert_allclose(probs["int4"], probs["float32"], atol=0.05)


def test_int4_of_a_larger_model_keeps_its_weights_in_the_flatbuffer(tmp_path) -> None:
    """litert-quantizer writes weights packing to >= 256 KB after the flatbuffer (its
    layout for models over 2 GB), which the metadata writer refuses; int4 moves them back."""
    pytest.importorskip("litert_quantizer")
    from ai_edge_litert import schema_py_generated as schema

    from alexedge.compress.export.convert import convert
    from alexedge.edge_runtime import Classifier
    from alexedge.edge_runtime.metadata import ImageInputMetadata, ModelMetadata, write_metadata
    from alexedge.train.models import build_model

    model = build_model("mlp", 3, 32, fc_units=256)  # 786k weights: 393 KB in int4
    data = convert(model, "int4")
    root = schema.Model.GetRootAsModel(data, 0)
    assert all(root.Buffers(i).Offset() == 0 for i in range(root.BuffersLength()))
    assert {t for t, _, _ in weight_tensors(data)} == {"INT4"}
    meta = ModelMetadata(name="mlp int4", description="test", input=ImageInputMetadata())
    path = tmp_path / "mlp-int4.tflite"
    path.write_bytes(write_metadata(data, meta, {"labels.txt": b"a\nb\nc\n"}))
    assert Classifier(path).predict(random_images(2, 32)).shape == (2, 3)


def test_int4_weights_and_their_zeros_are_counted(tmp_path) -> None:
    """variants.json's weight count and sparsity read int4 files too (two a byte)."""
    pytest.importorskip("litert_quantizer")
    from alexedge.compress.export.convert import convert
    from alexedge.compress.export.tflite_weights import count_weights
    from alexedge.train.models import build_model

    model = build_model("mlp", 3, 32, fc_units=256)
    weights = model.get_weights()
    for w in weights:
        if w.ndim == 2:
            w[: int(0.9 * len(w))] = 0.0  # 90% of each kernel's rows: zeros
    model.set_weights(weights)
    expected = count_weights(convert(model, "float32"))
    counted = count_weights(convert(model, "int4"))
    assert counted.total == expected.total > 0
    assert counted.sparsity == pytest.approx(expected.sparsity, abs=0.01)
    assert counted.sparsity > 0.85


def test_integer_conversion_prints_no_quantizer_settings(tiny, capfd) -> None:
    """The converter's calibrating quantizer printf's its settings on fd 2 each time."""
    export, calibration = tiny
    capfd.readouterr()
    export("int8", calibration)
    assert "fully_quantize" not in capfd.readouterr().err
