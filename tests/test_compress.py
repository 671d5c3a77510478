"""The compression chain on tiny models: config, per-layer targets, pruning, QAT, PTQ.

No run folder here: tiny registered models on random images, so every step runs
its real code path in seconds. Family-level behaviour is in test_compress_family.py.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from compress_helpers import (
    assert_sparsity,
    file_sparsity,
    keras_zero_share,
    random_images,
    tiny_finetune_data,
    tiny_model,
)

from alexedge.compress.config import CompressConfig, parse_float_list, parse_name_list
from alexedge.compress.family import variant_name
from alexedge.compress.planner import plan_family
from alexedge.compress.techniques.prune import allocate_sparsity
from alexedge.errors import ConfigError

# --- config and plan (no TensorFlow work) ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"sparsities": (1.0,)}, "sparsity must be in [0, 1)"),
        ({"sparsities": (0.5, -0.1)}, "sparsity must be in [0, 1)"),
        ({"quantize": ("int3",)}, "unknown quantization mode"),
        ({"io_type": "int16"}, "--io"),
        ({"clusters": 1}, "--clusters"),
        ({"qat": True, "quantize": ("float16",)}, "--qat makes full-integer models"),
        ({"allocation": "random"}, "allocation"),
    ],
)
def test_config_refuses_bad_values(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        CompressConfig(**kwargs)


def test_option_lists_parse_and_refuse_garbage() -> None:
    assert parse_float_list("0.5, 0.75,0.9", "--sparsity") == (0.5, 0.75, 0.9)
    assert parse_name_list("dynamic,int8", "--quantize") == ("dynamic", "int8")
    with pytest.raises(ConfigError, match="'half' is not a number"):
        parse_float_list("0.5,half", "--sparsity")
    with pytest.raises(ConfigError, match="at least one"):
        parse_name_list(" , ", "--quantize")


def test_plan_names_every_source_and_variant() -> None:
    config = CompressConfig(
        sparsities=(0.9, 0, 0.5), quantize=("int8", "float16"), qat=True, clusters=16
    )
    plans = plan_family(config)
    assert [p.name for p in plans] == [
        "float",
        "pruned50",
        "pruned50-qat",
        "pruned50-clustered16",
        "pruned90",
        "pruned90-qat",
        "pruned90-clustered16",
        "qat",
    ]
    by_name = {p.name: p for p in plans}
    assert by_name["float"].modes == ("float32", "float16", "int8")
    assert by_name["pruned90-qat"].modes == ("int8",)
    assert by_name["pruned90-qat"].parent == "pruned90"
    assert by_name["pruned90-clustered16"].sparsity_target == 0.9
    assert [p.name for p in plan_family(CompressConfig(sparsities=(0,), clusters=8))] == [
        "float",
        "clustered8",
    ]
    int4_aware = plan_family(
        CompressConfig(sparsities=(0.9,), quantize=("int8", "int4"), qat_int4=True)
    )
    assert [(p.name, p.parent, p.modes) for p in int4_aware] == [
        ("float", None, ("float32", "int8", "int4")),
        ("pruned90", "float", ("int8", "int4")),
        ("pruned90-qat4", "pruned90", ("int4",)),
        ("qat4", "float", ("int4",)),
    ]
    with pytest.raises(ConfigError, match="add int4 to --quantize"):
        CompressConfig(quantize=("int8",), qat_int4=True)
    assert variant_name("float", "int8") == "int8"
    assert variant_name("pruned90-qat", "int8") == "pruned90-qat-int8"
    assert variant_name("float", "int8", per_channel=False) == "int8-per-tensor"
    assert variant_name("float", "float16", per_channel=False) == "float16"


def test_size_allocation_keeps_the_overall_target() -> None:
    shapes = {"conv2": (5, 5, 8, 16), "conv3": (3, 3, 16, 24), "fc6": (384, 512), "fc8": (512, 20)}
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    for target in (0.5, 0.75, 0.9):
        uniform = allocate_sparsity(shapes, target, "uniform")
        assert set(uniform.values()) == {target}
        spread = allocate_sparsity(shapes, target, "size")
        zeros = sum(spread[n] * sizes[n] for n in shapes)
        assert zeros / sum(sizes.values()) == pytest.approx(target, abs=1e-6)
        assert spread["fc6"] > target > spread["fc8"]


# --- the chain on tiny models ---------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return tiny_finetune_data()


@pytest.fixture(scope="module")
def pruned(data):
    """A tiny alexnet-reduced pruned to 75% (and the model it came from)."""
    from alexedge.compress.techniques.prune import prune

    model = tiny_model(data)
    before = [w.copy() for w in model.get_weights()]
    config = CompressConfig(finetune_epochs=2, prune_frequency=1)
    result = prune(model, data, config, 0.75)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)), (
        "pruning changed the float model it started from"
    )
    return model, result


def _calibration(data, n: int = 32) -> np.ndarray:
    return random_images(n, data.train_config.input_size, seed=1)


def test_pruning_reaches_the_target_and_survives_conversion(data, pruned) -> None:
    from alexedge.compress.export.convert import convert
    from alexedge.compress.techniques.prune import layer_sparsity

    _, model = pruned
    assert_sparsity(model, 0.75)
    assert next(r for r in layer_sparsity(model) if r.layer == "conv1").zeros == 0
    expected = keras_zero_share(model)
    for mode in ("float32", "float16", "int8"):
        data_bytes = convert(model, mode, _calibration(data))
        # int8 rounding can only add zeros (weights below half a step).
        assert expected - 0.001 <= file_sparsity(data_bytes) <= expected + 0.01, mode


def test_qat_and_pqat_convert_to_int8_and_keep_sparsity(data, pruned, tmp_path) -> None:
    from alexedge.compress.export.convert import convert
    from alexedge.compress.export.tflite_ops import float_ops, io_tensors
    from alexedge.compress.techniques.qat import qat_finetune
    from alexedge.edge_runtime import Classifier

    float_model, model = pruned
    config = CompressConfig(finetune_epochs=1)
    images = _calibration(data, 64)
    qat = qat_finetune(float_model, data, config, preserve_sparsity=False)
    (tmp_path / "qat.tflite").write_bytes(convert(qat, "int8", images))
    qat_bytes = (tmp_path / "qat.tflite").read_bytes()
    assert float_ops(qat_bytes) == {} and io_tensors(qat_bytes)[0].dtype == "uint8"
    # Ranges are calibrated before QAT, so even a short fine-tune exports faithfully:
    # the file and the fake-quantized Keras model differ by a few 1/256 output steps.
    tflite = Classifier(tmp_path / "qat.tflite").predict(images)
    assert np.abs(tflite - qat.predict(images.astype(np.float32), verbose=0)).max() < 0.05

    pqat = qat_finetune(model, data, config, preserve_sparsity=True)
    pqat_bytes = convert(pqat, "int8", _calibration(data))
    assert float_ops(pqat_bytes) == {}
    assert file_sparsity(pqat_bytes) == pytest.approx(keras_zero_share(model), abs=0.01)


@pytest.mark.parametrize(
    ("io", "dtype", "input_zero", "output_zero"),
    [("uint8", "uint8", 0, 0), ("int8", "int8", -128, -128), ("float32", "float32", 0, 0)],
)
def test_int8_io_types_and_quantization(data, io, dtype, input_zero, output_zero) -> None:
    from alexedge.compress.export.convert import convert
    from alexedge.compress.export.tflite_ops import float_ops, io_tensors

    model = tiny_model(data)
    calibration = _calibration(data)
    calibration[0, 0, 0] = (0, 0, 255)  # the full 0-255 pixel range is seen
    result = convert(model, "int8", calibration, io)
    inp, out = io_tensors(result)
    assert (inp.dtype, out.dtype) == (dtype, dtype)
    assert float_ops(result) == {}
    if io == "float32":
        assert inp.scale == out.scale == 0.0
    else:
        # Raw 0-255 pixels: one quantization step per pixel value; softmax in [0, 1).
        assert inp.scale == pytest.approx(1.0) and inp.zero_point == input_zero
        assert out.scale == pytest.approx(1 / 256) and out.zero_point == output_zero


def test_per_tensor_int8_is_smaller_and_has_one_scale_per_weight(data) -> None:
    from ai_edge_litert import schema_py_generated as schema

    from alexedge.compress.export.convert import convert

    model, calibration = tiny_model(data), _calibration(data)
    per_channel = convert(model, "int8", calibration)
    per_tensor = convert(model, "int8", calibration, per_channel=False)
    assert len(per_tensor) < len(per_channel)
    graph = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(per_tensor, 0)).subgraphs[0]
    scales = [len(t.quantization.scale or []) for t in graph.tensors if t.quantization]
    assert max(scales) == 1


def test_paper_alexnet_int8_keeps_only_lrn_in_float() -> None:
    from alexedge.compress.export.convert import convert
    from alexedge.compress.export.tflite_ops import float_ops, list_ops

    paper = tiny_finetune_data("alexnet", n=8)
    result = convert(tiny_model(paper), "int8", _calibration(paper, 8))
    assert float_ops(result) == {"LOCAL_RESPONSE_NORMALIZATION": 2}
    names = [op.name for op in list_ops(result)]
    lrn = names.index("LOCAL_RESPONSE_NORMALIZATION")
    assert names[lrn - 1 : lrn + 2] == ["DEQUANTIZE", "LOCAL_RESPONSE_NORMALIZATION", "QUANTIZE"]


def test_clustering_leaves_k_values_and_keeps_zeros(data, pruned) -> None:
    from alexedge.compress.techniques.cluster import cluster, distinct_values

    _, model = pruned
    clustered = cluster(model, data, CompressConfig(clusters=4, finetune_epochs=1), True)
    values = distinct_values(clustered)
    assert values["conv1"] > 4  # skipped
    assert all(v <= 5 for name, v in values.items() if name != "conv1")  # K + restored 0
    assert_sparsity(clustered, 0.75)
