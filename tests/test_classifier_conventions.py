"""How ``Classifier`` feeds pixels and names classes, decided per model.

Tiny converter-built models in the shapes third-party classifiers come in: a net
defined on [-1, 1] input exported with uint8, int8 and float inputs and metadata
saying mean/std 127.5 (some ending in logits, one with a leading background label),
and an alexedge-style float net that normalizes inside and carries no metadata.
Each is checked against the interpreter's raw outputs under the convention it
should get, and the [-1, 1] ones against their Keras model, so a convention that is
merely self-consistent but wrong still fails.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from PIL import Image
from tflite_models import to_tflite

from alexedge.edge_runtime import (
    Classifier,
    ClassifierOutputMetadata,
    ImageInputMetadata,
    ModelMetadata,
    write_metadata,
)
from alexedge.errors import ConfigError, ModelError
from alexedge.preprocess import eval_transform, squash_transform

SIZE = 16
CLASSES = 5
PM1 = (127.5, 127.5)  # mean, std of a model trained on [-1, 1]
NAMES = [f"n{i} thing" for i in range(CLASSES)]


def _images(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(count, 3, 3, 3), dtype=np.uint8)
    smooth = [Image.fromarray(c).resize((SIZE, SIZE), Image.Resampling.BILINEAR) for c in coarse]
    return np.stack([np.asarray(image) for image in smooth])


def _net(keras, *, rescale: bool, softmax: bool):
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs) if rescale else inputs
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(CLASSES, kernel_initializer=keras.initializers.RandomNormal(0, 4))(x)
    return keras.Model(inputs, keras.layers.Softmax()(x) if softmax else x)


def _with_metadata(model: bytes, labels: list[str] | None) -> bytes:
    meta = ModelMetadata(
        name="third-party style",
        input=ImageInputMetadata(mean=(PM1[0],), std=(PM1[1],)),
        output=ClassifierOutputMetadata(labels_file="labels.txt" if labels else ""),
    )
    files = {"labels.txt": "".join(f"{n}\n" for n in labels).encode()} if labels else {}
    return write_metadata(model, meta, files)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Model files by name, and Keras references mapping uint8 pixels to probabilities."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    logits = _net(keras, rescale=False, softmax=False)  # trained on [-1, 1], ends in logits
    probs = _net(keras, rescale=False, softmax=True)
    ours = _net(keras, rescale=True, softmax=True)  # alexedge style: raw pixels in
    on_pm1 = _images(24, seed=1).astype(np.float32) / 127.5 - 1  # calibration on [-1, 1]
    int8 = to_tflite(probs, quantize="int8", calibration=on_pm1)
    uint8_logits = to_tflite(logits, quantize="uint8", calibration=on_pm1)
    files = {
        "uint8_logits_bg": _with_metadata(uint8_logits, ["background", *NAMES]),
        "int8_softmax": _with_metadata(int8, NAMES),
        "float_logits": _with_metadata(to_tflite(logits), NAMES),
        "float_ours": to_tflite(ours),
        "int8_pm1_bare": int8,
    }
    root = tmp_path_factory.mktemp("conventions")
    paths = {}
    for name, data in files.items():
        (root / name).mkdir()
        paths[name] = root / name / "model.tflite"
        paths[name].write_bytes(data)

    def reference(model, softmax: bool):
        def run(pixels: np.ndarray) -> np.ndarray:
            x = (pixels.astype(np.float32) - PM1[0]) / PM1[1]
            out = model(x, training=False).numpy()
            return tf.nn.softmax(out).numpy() if softmax else out

        return run

    keras_refs = {
        "uint8_logits_bg": reference(logits, softmax=True),
        "int8_softmax": reference(probs, softmax=False),
        "float_logits": reference(logits, softmax=True),
    }
    return types.SimpleNamespace(paths=paths, keras=keras_refs)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _interpreter_probs(path: Path, pixels: np.ndarray, mean=None, std=None, logits=False):
    """The interpreter's own outputs, fed by hand: raw pixels, or normalized and quantized."""
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for image in pixels:
        x = image[None]
        if mean is not None:
            x = (x.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
            scale, zero_point = inp["quantization"]
            if scale:
                info = np.iinfo(inp["dtype"])
                x = np.clip(np.round(x / scale) + zero_point, info.min, info.max)
        interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"]).astype(np.float32)
        scale, zero_point = out["quantization"]
        rows.append((y - zero_point) * np.float32(scale) if scale else y)
    raw = np.concatenate(rows)
    return _softmax(raw) if logits else raw


# --- inputs -----------------------------------------------------------------------------

# name -> (how the interpreter must be fed, ends in logits)
EXPECTED = {
    "uint8_logits_bg": ({}, True),  # raw pixels: the quantization encodes [-1, 1]
    "int8_softmax": ({"mean": PM1[0], "std": PM1[1]}, False),  # normalized, quantized
    "float_logits": ({"mean": PM1[0], "std": PM1[1]}, True),  # normalized
    "float_ours": ({"mean": 0.0, "std": 1.0}, False),  # raw values as floats
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_probabilities_equal_the_interpreter_fed_by_convention(built, name):
    feed, logits = EXPECTED[name]
    pixels = _images(6, seed=2)
    expected = _interpreter_probs(built.paths[name], pixels, logits=logits, **feed)
    probs = Classifier(built.paths[name]).predict(pixels)
    assert probs.dtype == np.float32 and probs.shape == (6, CLASSES)
    np.testing.assert_allclose(probs, expected, atol=1e-6)


@pytest.mark.parametrize("name", ["uint8_logits_bg", "int8_softmax"])
def test_quantized_conventions_agree_with_the_float_model(built, name):
    """The convention is the right one, not only self-consistent: Keras on [-1, 1] agrees.

    Quantizing raw pixels with the input's scale instead (what a runtime without
    conventions does) saturates them, and the answers no longer follow the image.
    """
    atol = 0.15  # int8 weights and activations of a net with peaked logits
    pixels = _images(16, seed=3)
    expected = built.keras[name](pixels)
    probs = Classifier(built.paths[name]).predict(pixels)
    np.testing.assert_allclose(probs, expected, atol=atol)
    assert (probs.argmax(1) == expected.argmax(1)).mean() >= 0.8
    saturated = Classifier(built.paths[name], mean=0.0, std=1.0).predict(pixels)
    assert np.abs(saturated - expected).max() > 2 * atol


def test_float_model_with_metadata_matches_keras(built):
    pixels = _images(8, seed=4)
    probs = Classifier(built.paths["float_logits"]).predict(pixels)
    np.testing.assert_allclose(probs, built.keras["float_logits"](pixels), atol=1e-5)


def test_where_the_normalization_came_from(built):
    assert Classifier(built.paths["float_logits"]).normalization.source == "metadata"
    assert Classifier(built.paths["float_logits"]).normalization.mean == (127.5,) * 3
    uint8 = Classifier(built.paths["uint8_logits_bg"])
    assert uint8.raw_pixels and uint8.normalization.source == "metadata"
    assert Classifier(built.paths["float_ours"]).normalization.source == "none"


def test_options_override_metadata_and_take_one_or_three_values(built):
    pixels = _images(4, seed=5)
    path = built.paths["float_logits"]
    per_channel = {"mean": [120.0, 125.0, 130.0], "std": [60.0, 64.0, 70.0]}
    classifier = Classifier(path, **per_channel)
    assert classifier.normalization.source == "options"
    expected = _interpreter_probs(path, pixels, logits=True, **per_channel)
    np.testing.assert_allclose(classifier.predict(pixels), expected, atol=1e-6)
    only_std = Classifier(path, std=255.0)
    assert only_std.normalization.mean == (0.0,) * 3
    np.testing.assert_allclose(
        only_std.predict(pixels),
        _interpreter_probs(path, pixels, mean=0.0, std=255.0, logits=True),
        atol=1e-6,
    )


def test_options_on_a_uint8_input_are_applied_then_quantized(built):
    """The escape hatch for a uint8 model whose quantization does not encode its input."""
    path, pixels = built.paths["uint8_logits_bg"], _images(4, seed=6)
    classifier = Classifier(path, mean=100.0, std=50.0)
    assert not classifier.raw_pixels
    expected = _interpreter_probs(path, pixels, mean=100.0, std=50.0, logits=True)
    np.testing.assert_allclose(classifier.predict(pixels), expected, atol=1e-6)


def _fresh_batch_output(path: Path, x: np.ndarray) -> np.ndarray:
    """One invoke of a new interpreter on a whole batch, fed by set_tensor."""
    interpreter = Interpreter(model_path=str(path))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


@pytest.mark.parametrize(
    "options",
    [
        {"mean": [120.0, 125.0, 130.0], "std": [60.0, 64.0, 70.0]},
        {"mean": 0.0, "std": 1.0},
        {"std": 255.0},
    ],
)
def test_float_input_written_in_place_equals_a_fresh_interpreter(built, options):
    """A float input is normalized inside the interpreter's own buffer, which moves when a
    new batch size reallocates it: each call equals a new interpreter fed the same batch
    by set_tensor, bit for bit, whatever batch size came before it."""
    path = built.paths["float_ours"]  # ends in softmax: probabilities are the raw output
    classifier = Classifier(path, **options)
    mean = np.asarray(options.get("mean", 0.0), np.float32)
    std = np.asarray(options["std"], np.float32)
    for count, seed in ((3, 20), (7, 21), (3, 22), (1, 23), (7, 24)):
        pixels = _images(count, seed)
        expected = _fresh_batch_output(path, (pixels.astype(np.float32) - mean) / std)
        np.testing.assert_array_equal(classifier.predict(pixels), expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mean": [1.0, 2.0]}, "one value or three"),
        ({"std": 0.0}, "std must not be 0"),
        ({"mean": "abc"}, "must be numbers"),
        ({"resize": "stretch"}, "resize must be one of crop, squash"),
    ],
)
def test_bad_options_are_config_errors(built, options, message):
    with pytest.raises(ConfigError, match=message):
        Classifier(built.paths["float_ours"], **options)


# --- the warning when nothing says how to normalize -----------------------------------------


def test_float_input_without_normalization_warns_once(built, capfd):
    classifier = Classifier(built.paths["float_ours"])
    classifier.predict(_images(3, seed=7))
    classifier.classify(_images(1, seed=8)[0])
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"warning: {built.paths['float_ours']}: float input")
    assert "raw 0-255 pixels" in lines[0] and "--mean/--std" in lines[0]


def test_no_warning_when_something_says(built, capfd, tmp_path):
    Classifier(built.paths["float_ours"], mean=0.0, std=1.0)
    Classifier(built.paths["float_logits"])
    Classifier(built.paths["uint8_logits_bg"])
    assert capfd.readouterr().err == ""


def test_int8_input_that_raw_pixels_would_saturate_warns(built, capfd):
    classifier = Classifier(built.paths["int8_pm1_bare"])
    assert classifier.normalization.source == "none"
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and "saturate" in lines[0] and "--mean 127.5 --std 127.5" in lines[0]


# --- the manifest.json beside an alexedge bundle's model ---------------------------------


def _bundle(built, tmp_path: Path, normalization, model_name="model.tflite") -> Path:
    model = tmp_path / "model.tflite"
    model.write_bytes(built.paths["float_ours"].read_bytes())
    doc = {"model": model_name, "input": {"normalization": normalization}}
    (tmp_path / "manifest.json").write_text(json.dumps(doc), "utf-8")
    return model


def test_manifest_normalization_is_used(built, tmp_path, capfd):
    model = _bundle(built, tmp_path, {"mean": [127.5], "std": [127.5], "meaning": "x"})
    classifier = Classifier(model)
    assert classifier.normalization.source == str(tmp_path / "manifest.json")
    pixels = _images(3, seed=9)
    expected = _interpreter_probs(model, pixels, mean=127.5, std=127.5)
    np.testing.assert_allclose(classifier.predict(pixels), expected, atol=1e-6)
    assert capfd.readouterr().err == ""


def test_manifest_saying_none_means_raw_pixels(built, tmp_path, capfd):
    model = _bundle(built, tmp_path, "none: feed raw 0-255 pixels; per-channel mean/std are in")
    assert Classifier(model).normalization.mean == (0.0,) * 3
    assert capfd.readouterr().err == ""


def test_manifest_of_another_model_or_not_json_is_ignored(built, tmp_path, capfd):
    model = _bundle(built, tmp_path, {"mean": [1], "std": [2]}, model_name="other.tflite")
    assert Classifier(model).normalization.source == "none"
    (tmp_path / "manifest.json").write_text("{not json", "utf-8")
    assert Classifier(model).normalization.source == "none"
    assert len(capfd.readouterr().err.splitlines()) == 2  # the float warning, each time


def test_unusable_manifest_normalization_is_a_model_error(built, tmp_path):
    model = _bundle(built, tmp_path, {"mean": [1, 2], "std": [1]})
    with pytest.raises(ModelError, match=r"manifest\.json: mean takes one value or three"):
        Classifier(model)
    _bundle(built, tmp_path, 127.5)
    with pytest.raises(ModelError, match=r"input.normalization must be"):
        Classifier(model)


# --- labels -----------------------------------------------------------------------------


def test_labels_from_metadata_with_a_leading_background(built):
    classifier = Classifier(built.paths["uint8_logits_bg"])
    assert classifier.labels == tuple(NAMES) and classifier.background_label == "background"
    top = classifier.classify(_images(1, seed=10)[0], top=1)[0]
    assert top.label == NAMES[top.index]


def test_explicit_labels_override_metadata_and_metadata_beats_labels_txt(built, tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(built.paths["int8_softmax"].read_bytes())
    (tmp_path / "labels.txt").write_text("\n".join(f"sidecar{i}" for i in range(CLASSES)))
    assert Classifier(model).labels == tuple(NAMES)
    explicit = [f"mine{i}" for i in range(CLASSES)]
    assert Classifier(model, labels=explicit).labels == tuple(explicit)
    plain = tmp_path / "plain" / "model.tflite"
    plain.parent.mkdir()
    plain.write_bytes(built.paths["float_ours"].read_bytes())
    assert Classifier(plain, mean=0.0).labels == tuple(f"class_{i}" for i in range(CLASSES))


def test_metadata_labels_of_the_wrong_count_name_their_source(built, tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(_with_metadata(built.paths["float_ours"].read_bytes(), ["a", "b"]))
    with pytest.raises(ModelError, match=r"5 output classes but the labels in .*metadata has 2"):
        Classifier(model)


# --- resize -------------------------------------------------------------------------------


def test_preprocess_crops_or_squashes(built, tmp_path):
    wide = np.asarray(
        Image.fromarray(_images(1, seed=11)[0]).resize((40, 24), Image.Resampling.BILINEAR)
    )
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    crop = Classifier(built.paths["float_logits"])
    squash = Classifier(built.paths["float_logits"], resize="squash")
    assert crop.resize == "crop" and squash.resize == "squash"
    np.testing.assert_array_equal(crop.preprocess(path), eval_transform(path, SIZE))
    np.testing.assert_array_equal(squash.preprocess(wide), squash_transform(wide, SIZE))
    np.testing.assert_array_equal(squash.preprocess(path.read_bytes()), squash.preprocess(wide))
    squashed = squash.preprocess(wide)
    assert squashed.shape == (SIZE, SIZE, 3) and squashed.dtype == np.uint8
    assert not np.array_equal(crop.preprocess(wide), squash.preprocess(wide))
    expected = squash.top_k(squash.predict(squash.preprocess(path)[None])[0], 3)
    assert squash.classify(path, top=3) == expected
    with pytest.raises(ValueError, match="RGB image"):
        squash.preprocess(wide[:, :, 0])


def test_squash_keeps_the_whole_image(tmp_path):
    """A left half black, right half white photo stays half and half when squashed."""
    image = np.zeros((20, 60, 3), np.uint8)
    image[:, 30:] = 255
    squashed = squash_transform(image, 10)
    assert squashed[:, :4].max() == 0 and squashed[:, 6:].min() == 255
    cropped = eval_transform(image, 10)  # only the middle third: half and half again,
    assert cropped[:, 0].max() == 0 and cropped[:, -1].min() == 255  # but a third as wide
    assert (squashed == 0).all(axis=(0, 2)).sum() < (cropped == 0).all(axis=(0, 2)).sum() + 1
