"""Model registry, architectures, parameter/MAC counts, TFLite conversion and saving.

Tests of what every family must do run over ``list_models()`` at each family's tiny size
and its ``test_variants`` (declared beside its builder): a new family is tested by
registering it. Tests of the paper's numbers name ``alexnet``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter
from tflite_models import to_tflite

import alexedge.train.models
from alexedge.errors import ModelError
from alexedge.train.models import (
    LocalResponseNorm,
    build_model,
    describe_models,
    get_spec,
    list_models,
    model_stats,
)

# Krizhevsky et al. 2012 at 227x227 and 1000 classes, counted by hand from fig. 2.
ALEXNET_PARAMS = 60_965_224
ALEXNET_ONE_TOWER_PARAMS = 62_378_344
ALEXNET_MACS = 724_406_816
ALEXNET_ONE_TOWER_MACS = 1_135_256_096

FAMILIES = [spec.name for spec in list_models()]
MODELS_PACKAGE = Path(alexedge.train.models.__file__).parent


def _variants() -> list:
    """``(name, size, options)`` of every family's tiny variant and its test variants."""
    cases = []
    for spec in list_models():
        for size, options in ((spec.tiny_input_size, {}), *spec.test_variants):
            label = "-".join([spec.name, str(size), *(f"{k}={v}" for k, v in options.items())])
            cases.append(pytest.param(spec.name, size, dict(options), id=label))
    return cases


@pytest.fixture(autouse=True)
def _seed() -> None:
    keras.utils.set_random_seed(0)


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def _tiny(name: str, num_classes: int = 5, size: int | None = None, **options) -> keras.Model:
    spec = get_spec(name)
    options = {**spec.tiny_options, **options}
    return build_model(name, num_classes, size or spec.tiny_input_size, **options)


def _tflite_predict(tflite: bytes, images: np.ndarray) -> tuple[np.ndarray, Interpreter]:
    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for image in images:
        x = image[None]
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])[0]
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        results.append(y)
    return np.stack(results), interpreter


# --- registry ------------------------------------------------------------------------------


def test_every_family_in_the_package_is_registered() -> None:
    """A family file whose import was forgotten in ``alexedge.train.models`` fails here."""
    declared = set()
    for path in MODELS_PACKAGE.glob("*.py"):
        declared |= set(re.findall(r'@register_model\(\s*"([^"]+)"', path.read_text()))
    assert declared and declared == set(FAMILIES)


@pytest.mark.parametrize("name", FAMILIES)
def test_spec_sizes_and_test_options_are_consistent(name: str) -> None:
    spec = get_spec(name)
    assert spec.description
    assert spec.min_input_size <= spec.tiny_input_size <= spec.default_input_size
    assert set(spec.tiny_options) <= set(spec.options())
    for size, options in spec.test_variants:
        assert size >= spec.min_input_size and set(options) <= set(spec.options())


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(ModelError, match="unknown model 'vgg16'") as info:
        build_model("vgg16", 10)
    assert all(name in str(info.value) for name in FAMILIES)


@pytest.mark.parametrize("name", FAMILIES)
def test_unknown_option_names_the_valid_ones(name: str) -> None:
    spec = get_spec(name)
    valid = ", ".join(spec.options()) or "none"
    with pytest.raises(ModelError, match=rf"no option depth; its options: {re.escape(valid)}$"):
        build_model(name, 10, spec.tiny_input_size, depth=3)


@pytest.mark.parametrize("options", [{"towers": 0}, {"width": 0.0}, {"init": "he"}])
def test_bad_alexnet_option_raises(options: dict) -> None:
    with pytest.raises(ModelError, match="alexnet: "):
        _tiny("alexnet", **options)


@pytest.mark.parametrize("name", FAMILIES)
def test_too_small_input_raises(name: str) -> None:
    spec = get_spec(name)
    with pytest.raises(ModelError, match=f"at least {spec.min_input_size}x"):
        build_model(name, 5, spec.min_input_size - 1, **spec.tiny_options)


# --- sizes and costs -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> dict:
    return {row.name: row for row in describe_models()}


def test_alexnet_default_has_the_papers_parameter_count(rows: dict) -> None:
    row = rows["alexnet"]
    assert (row.input_size, row.num_classes) == (227, 1000)
    assert (row.params, row.macs) == (ALEXNET_PARAMS, ALEXNET_MACS)


def test_alexnet_one_tower_parameter_count() -> None:
    model = build_model("alexnet", 1000, towers=1)
    stats = model_stats(model)
    assert stats.params == stats.trainable == ALEXNET_ONE_TOWER_PARAMS
    assert stats.macs == ALEXNET_ONE_TOWER_MACS
    assert "conv2_a" not in {layer.name for layer in model.layers}


def test_reduced_is_at_most_a_twentieth_of_alexnet(rows: dict) -> None:
    row = rows["alexnet-reduced"]
    assert (row.input_size, row.num_classes) == (64, 20)
    assert row.params * 20 <= rows["alexnet"].params


def test_macs_of_a_hand_computed_model() -> None:
    inputs = keras.Input((8, 8, 4))
    norm = keras.layers.Normalization()
    norm.adapt(np.random.default_rng(0).normal(size=(2, 8, 8, 4)))  # mean/var/count: excluded
    x = keras.layers.Conv2D(6, 3)(norm(inputs))  # 6*6 positions * 3*3*4*6 = 7776
    x = keras.layers.BatchNormalization()(x)  # 24 params, 12 trainable, no MACs
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 36 * 3*3*6 = 1944
    x = keras.layers.Conv2D(6, 1, groups=2)(x)  # 36 * 1*1*3*6 = 648
    x = keras.layers.Dense(5)(keras.layers.Flatten()(x))  # 216 * 5 = 1080
    stats = model_stats(keras.Model(inputs, x))
    assert stats.macs == 7776 + 1944 + 648 + 1080
    assert stats.params == 222 + 24 + 60 + 24 + 1085
    assert stats.trainable == 222 + 12 + 60 + 24 + 1085


def test_stats_see_through_pruning_wrappers() -> None:
    model = _tiny("alexnet")  # model_stats' own code: one family with conv, towers and dense
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.5, 0)

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer.__class__.from_config(layer.get_config())

    pruned = keras.models.clone_model(model, clone_function=wrap)
    assert model_stats(pruned) == model_stats(model)


# --- architecture --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "size", "options"), _variants())
def test_forward_gives_a_distribution_per_image(name: str, size: int, options: dict) -> None:
    model = _tiny(name, 7, size, **options)
    probs = model(_images(2, size), training=False).numpy()
    assert probs.shape == (2, 7)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.get_layer("fc8").output_shape == (None, 7)


def test_alexnet_maps_follow_figure_2() -> None:
    model = _tiny("alexnet", size=227)
    sides = {n: model.get_layer(n).output_shape[1] for n in ("conv1", "pool1", "pool2", "pool5")}
    assert sides == {"conv1": 55, "pool1": 27, "pool2": 13, "pool5": 6}


def test_alexnet_min_input_leaves_a_1x1_map() -> None:
    model = _tiny("alexnet", size=get_spec("alexnet").min_input_size)
    assert model.get_layer("pool5").output_shape[1:3] == (1, 1)


def test_reduced_without_pool2_keeps_the_papers_13x13_maps() -> None:
    """At 56 px conv3-5 run at 6x6 with pool2 and at the paper's 13x13 (6x6 after pool5)
    without it; the layer names compress and the report look up stay the same."""
    sides = {}
    for pool2 in (True, False):
        model = _tiny("alexnet-reduced", size=56, pool2=pool2)
        sides[pool2] = [model.get_layer(n).output_shape[1] for n in ("conv2", "conv3", "pool5")]
        assert ("pool2" in {layer.name for layer in model.layers}) == pool2
    assert sides == {True: [13, 6, 2], False: [13, 13, 6]}
    with pytest.raises(ModelError, match="pool2 must be true or false"):
        _tiny("alexnet-reduced", pool2="no")


def test_reduced_keeps_its_layer_names() -> None:
    names = {layer.name for layer in build_model("alexnet-reduced", 20).layers}
    expected = {f"conv{i}" for i in range(1, 6)} | {f"conv{i}_bn" for i in range(1, 6)}
    assert expected | {"fc6", "fc6_bn", "fc7", "fc7_bn", "fc8", "probs"} <= names


def test_towers_are_a_grouped_convolution() -> None:
    """Tower a sees only the first half of the input maps, tower b the second (sec. 3.2)."""
    model = _tiny("alexnet")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in ("pool1", "conv2")])
    pool1, conv2 = probe(_images(2, 67))
    (ka, ba), (kb, bb) = (model.get_layer(n).get_weights() for n in ("conv2_a", "conv2_b"))
    grouped = keras.layers.Conv2D(conv2.shape[-1], 5, padding="same", groups=2)
    grouped.build(pool1.shape)
    grouped.set_weights([np.concatenate([ka, kb], -1), np.concatenate([ba, bb])])
    np.testing.assert_allclose(conv2, tf.nn.relu(grouped(pool1)), atol=1e-5)


def test_paper_init() -> None:
    model = _tiny("alexnet", init="paper", width=1 / 8, fc_units=256)
    assert np.all(model.get_layer("conv2_a").get_weights()[1] == 1.0)
    assert np.all(model.get_layer("fc6").get_weights()[1] == 1.0)
    assert np.all(model.get_layer("conv3").get_weights()[1] == 0.0)
    assert np.std(model.get_layer("fc7").get_weights()[0]) == pytest.approx(0.01, rel=0.05)


# --- LRN -----------------------------------------------------------------------------------


def _paper_lrn(a: np.ndarray, k: float = 2, n: int = 5, alpha: float = 1e-4, beta=0.75):
    """Sec. 3.3 as written: alpha multiplies the plain sum over n neighbouring maps."""
    out = np.empty_like(a)
    channels = a.shape[-1]
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        out[..., i] = a[..., i] / (k + alpha * np.sum(a[..., lo : hi + 1] ** 2, -1)) ** beta
    return out


def test_lrn_matches_the_papers_formula() -> None:
    a = np.random.default_rng(1).uniform(0, 300, (2, 3, 3, 12)).astype(np.float32)
    np.testing.assert_allclose(LocalResponseNorm()(a).numpy(), _paper_lrn(a), rtol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_saved_model_reloads_identically(tmp_path, name: str) -> None:
    """As the run folder's best.keras: custom layers (alexnet's LRN and tower slices)
    included, without custom_objects."""
    model = _tiny(name)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    images = _images(3, get_spec(name).tiny_input_size)
    np.testing.assert_array_equal(loaded(images).numpy(), model(images).numpy())


# --- TFLite --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
def test_converts_to_float_tflite_that_computes_the_same(name: str) -> None:
    model = _tiny(name)
    images = _images(4, get_spec(name).tiny_input_size, seed=2)
    probs, _ = _tflite_predict(to_tflite(model), images)
    np.testing.assert_allclose(probs, model(images).numpy(), atol=1e-4)


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_two_tower_alexnet_converts_to_full_int8() -> None:
    """Logits rather than probabilities: a random net's softmax is nearly uniform, its
    image-to-image differences smaller than one uint8 step of the output."""
    full = _tiny("alexnet", 10, lrn=False)
    model = keras.Model(full.input, full.get_layer("fc8").output)
    images = _images(32, 67, seed=4)
    logits, interpreter = _tflite_predict(
        to_tflite(model, quantize="int8", calibration=_images(32, 67, seed=3)), images
    )
    assert np.float32 not in {t["dtype"] for t in interpreter.get_tensor_details()}
    expected = model(images).numpy()
    assert np.mean(logits.argmax(1) == expected.argmax(1)) >= 0.75
    per_image = [out - out.mean(axis=0) for out in (logits, expected)]
    assert np.corrcoef(per_image[0].ravel(), per_image[1].ravel())[0, 1] > 0.95


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_lrn_stays_float_inside_an_int8_model() -> None:
    """TFLite has no integer LRN kernel: the converter wraps it in DEQUANTIZE/QUANTIZE."""
    model = _tiny("alexnet")
    _, interpreter = _tflite_predict(
        to_tflite(model, quantize="int8", calibration=_images(8, 67)), _images(1, 67)
    )
    float_tensors = [
        t["name"] for t in interpreter.get_tensor_details() if t["dtype"] == np.float32
    ]
    assert any("norm1" in name for name in float_tensors)
