"""Tiny Keras models as TFLite for edge-runtime tests: dynamic or fixed batch, float or uint8."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["float_outputs", "to_tflite"]


def to_tflite(model, *, fixed_batch: bool = False, uint8: bool = False, calibration: int = 16):
    """The converter's bytes for ``model`` (square RGB input): a fixed batch of 1 or a
    dynamic one; uint8 is full integer with uint8 I/O, calibrated on random pixels."""
    import tensorflow as tf

    size = int(model.inputs[0].shape[1])
    if fixed_batch:
        spec = tf.TensorSpec([1, size, size, 3], tf.float32)
        fn = tf.function(model, input_signature=[spec]).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if uint8:

        def representative():
            rng = np.random.default_rng(0)
            for _ in range(calibration):
                yield [rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Statistics for quantized inputs")
        return converter.convert()


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
