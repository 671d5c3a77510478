"""Per-layer error of an int8 export: one row per Conv/Dense layer, Keras names, worst first.

A tiny ``alexnet-reduced`` with one outlier weight in conv3 (100x the layer's largest):
per-channel int8 then rounds the rest of that output channel to almost nothing. Without
the outlier conv3 sits in the middle of the ranking (45.9 dB; fc8 is worst at 39.1 dB),
with it conv3 is worst by about 10 dB, so the report finds the layer that was damaged.
"""

from __future__ import annotations

import numpy as np
import pytest
from compress_helpers import random_images
from report_rows import measurement, variants_doc

from alexedge.compress.schema import validate_variants_doc
from alexedge.errors import ConfigError, ModelError

LAYERS = {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}


def damaged_model(layer: str = "conv3", factor: float = 100.0, seed: int = 0):
    """The tiny registered ``alexnet-reduced`` with one outlier weight in ``layer``."""
    from alexedge.quiet import import_tensorflow

    import_tensorflow()
    import tf_keras as keras

    from alexedge.train.models import build_model, get_spec

    spec = get_spec("alexnet-reduced")
    keras.utils.set_random_seed(seed)
    model = build_model(
        "alexnet-reduced",
        3,
        spec.tiny_input_size,
        mean=[120.0] * 3,
        std=[60.0] * 3,
        **spec.tiny_options,
    )
    if layer:
        weights = model.get_layer(layer).get_weights()
        weights[0].flat[0] = factor * np.abs(weights[0]).max()
        model.get_layer(layer).set_weights(weights)
    return model


@pytest.fixture(scope="module")
def report():
    from alexedge.compress.diagnostics.layer_errors import calibrate, layer_errors

    model = damaged_model()
    images = random_images(8, int(model.inputs[0].shape[1]))
    return model, layer_errors(calibrate(model, "int8", images))


def test_one_row_per_quantized_layer_with_keras_names_worst_first(report) -> None:
    from alexedge.compress.diagnostics.layer_errors import weight_layers

    model, errors = report
    assert set(weight_layers(model)) == LAYERS
    assert sorted(e.layer for e in errors) == sorted(LAYERS)
    assert {e.op for e in errors} == {"CONV_2D", "FULLY_CONNECTED"}
    snrs = [e.snr_db for e in errors]
    assert snrs == sorted(snrs)
    # Rounding alone costs about 1/sqrt(12) = 0.29 of a step: a healthy layer is near it.
    assert all(0.1 < e.rmse_over_scale < 3 and e.scale > 0 for e in errors)


def test_the_damaged_layer_comes_out_worst(report) -> None:
    _, errors = report
    worst, runner_up = errors[0], errors[1]
    assert worst.layer == "conv3"
    assert worst.snr_db < runner_up.snr_db - 6, [e.to_dict() for e in errors]


def test_rows_go_into_variants_json_and_the_schema_checks_them(report) -> None:
    _, errors = report
    rows = [e.to_dict() for e in errors]
    doc = variants_doc(
        [
            measurement("int8", "int8", layer_errors=rows),
            measurement("int8-float-conv3", "int8", float_layers=["conv3"]),
            measurement("float16", "float16"),  # older rows have neither field
        ]
    )
    validate_variants_doc(doc)
    doc["variants"][0]["layer_errors"][0] = {**rows[0], "snr_db": float("nan")}
    doc["variants"][1]["float_layers"] = "conv3"
    with pytest.raises(ModelError) as e:
        validate_variants_doc(doc)
    assert "layer_errors[0]" in str(e.value) and "float_layers must be a list" in str(e.value)


def test_modes_without_a_report_are_refused() -> None:
    from alexedge.compress.diagnostics.layer_errors import calibrate

    model = damaged_model(layer="")
    with pytest.raises(ConfigError, match="no per-layer error report for 'float16'"):
        calibrate(model, "float16", random_images(2, int(model.inputs[0].shape[1])))


def test_quantizing_prints_nothing_of_the_native_quantizer(capfd) -> None:
    """mlir_quantize printf's its settings on fd 2 at every call; the report hides them."""
    import tf_keras as keras

    from alexedge.compress.diagnostics.layer_errors import calibrate

    layers = keras.layers
    model = keras.Sequential(
        [
            layers.Input((8, 8, 3)),
            layers.Conv2D(4, 3, name="conv1"),
            layers.Flatten(),
            layers.Dense(3, name="fc8"),
            layers.Softmax(),
        ]
    )
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 3)).astype(np.float32)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    calibrated = calibrate(model, "int8", images)
    capfd.readouterr()
    calibrated.quantize()
    assert "fully_quantize" not in capfd.readouterr().err
