"""Tiny Keras classifiers and their TFLite files, for tests of everything that reads a .tflite.

One converter set-up for every test (``to_tflite``) so a test names the variant it needs
(float16, full integer with uint8 or int8 I/O, a fixed batch) instead of re-rolling the
converter; the project's own export (``alexedge.compress``) is tested on its own.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["QUANTIZE", "float_outputs", "tiny_classifier", "to_tflite"]

# What ``to_tflite`` makes: float32 as Keras computes it, float16 weights, or full integer
# (calibrated) with uint8 or int8 input and output.
QUANTIZE = ("float32", "float16", "uint8", "int8")


def tiny_classifier(
    size: int = 16,
    classes: int = 4,
    *,
    scale: float | None = 1 / 255,
    softmax: bool = True,
    convs: int = 1,
    seed: int = 0,
):
    """Rescaling (unless ``scale`` is None), strided ReLU convs, pooling, a dense layer.

    The dense layer's large random weights give peaked, image-dependent outputs, so files
    made from it disagree visibly when a runtime feeds them the wrong pixels.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = inputs if scale is None else keras.layers.Rescaling(scale, offset=_offset(scale))(inputs)
    for i in range(convs):
        x = keras.layers.Conv2D(8 * 2**i, 3, strides=2, activation="relu", name=f"conv{i + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    peaked = keras.initializers.RandomNormal(0.0, 3.0)
    x = keras.layers.Dense(classes, kernel_initializer=peaked, name="fc")(x)
    return keras.Model(inputs, keras.layers.Softmax()(x) if softmax else x)


def _offset(scale: float) -> float:
    """1/127.5 maps pixels to [-1, 1] (MobileNet-style), any other scale keeps 0 at 0."""
    return -1.0 if abs(scale - 1 / 127.5) < 1e-12 else 0.0


def to_tflite(
    model,
    *,
    quantize: str = "float32",
    calibration: np.ndarray | int = 16,
    fixed_batch: bool = False,
) -> bytes:
    """The stock converter's bytes for ``model`` (square RGB input).

    Args:
        quantize: one of ``QUANTIZE``.
        calibration: the representative images for full integer, as the model takes them
            (float32, NHWC), or how many random 0-255 images to use.
        fixed_batch: a batch of exactly 1 instead of a dynamic one.
    """
    import tensorflow as tf

    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
    size = int(model.inputs[0].shape[1])
    if fixed_batch:
        spec = tf.TensorSpec([1, size, size, 3], tf.float32)
        fn = tf.function(model, input_signature=[spec]).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize in ("uint8", "int8"):
        images = _calibration_images(calibration, size)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.uint8 if quantize == "uint8" else tf.int8
        converter.inference_input_type = converter.inference_output_type = io_type
    with warnings.catch_warnings():
        # The converter asks for input statistics it does not need with a representative set.
        warnings.filterwarnings("ignore", "Statistics for quantized inputs")
        return converter.convert()


def _calibration_images(calibration: np.ndarray | int, size: int) -> np.ndarray:
    if isinstance(calibration, int):
        rng = np.random.default_rng(0)
        return rng.uniform(0, 255, (calibration, size, size, 3)).astype(np.float32)
    return np.asarray(calibration, np.float32)


def float_outputs(tflite: bytes, images: np.ndarray) -> np.ndarray:
    """The file's output for each of ``images`` (float input and output), one invoke each."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for image in images:
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out["index"])[0])
    return np.array(outputs)
