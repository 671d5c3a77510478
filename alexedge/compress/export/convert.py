"""Post-training quantization with the TFLite converter: one function per model -> bytes.

A model is saved once as a SavedModel and every mode converts from that
(``exporter``): ``from_keras_model`` traces and saves the model again for each mode,
about twice the time of a conversion from a SavedModel saved once.

Calibration images for full-integer quantization must be exactly what the model
sees at evaluation (``eval_transform`` output, raw 0-255 pixels), otherwise the
activation ranges are wrong for the phone. Integer models take ``uint8`` input by
default because MediaPipe Tasks refuses int8 input tensors (shared FINDINGS.md).

``int16x8`` (16-bit activations, 8-bit weights) is calibrated like int8 and keeps
float32 I/O. Its op set has no float fallback: an op without a 16-bit kernel (LRN)
fails the conversion, and the error says which op and what to export instead.
``int4`` is the float32 conversion followed by litert-quantizer (``int4.py``).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf
import tf_keras as keras

from alexedge.compress.export.int4 import int4_weights, require_quantizer
from alexedge.compress.export.tflite_ops import list_ops
from alexedge.errors import ConfigError, ModelError
from alexedge.modes import IO_TYPES, get_mode
from alexedge.quiet import native_stderr_filtered

__all__ = [
    "Export",
    "Finish",
    "convert",
    "converter_setup",
    "exporter",
    "only_int16",
    "run_converter",
    "setup_dynamic",
    "setup_float16",
    "setup_float32",
    "setup_int4",
    "setup_int8",
    "setup_int16x8",
]

Export = Callable[..., bytes]


@contextlib.contextmanager
def exporter(model: keras.Model) -> Iterator[Export]:
    """Save ``model`` once; yield ``export(mode, calibration, io_type, per_channel)``.

    The SavedModel lives in a temporary folder removed when the block ends.
    """
    with tempfile.TemporaryDirectory(prefix="alexedge-savedmodel-") as folder:
        try:
            tf.saved_model.save(model, folder)
        except Exception as e:
            raise ModelError(f"cannot save the model for TFLite conversion: {_summary(e)}") from e

        def export(
            mode: str,
            calibration: np.ndarray | None = None,
            io_type: str = "uint8",
            per_channel: bool = True,
        ) -> bytes:
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            return _convert(converter, mode, calibration, io_type, per_channel)

        yield export


def convert(
    model: keras.Model,
    mode: str,
    calibration: np.ndarray | None = None,
    io_type: str = "uint8",
    per_channel: bool = True,
) -> bytes:
    """Convert ``model`` to a TFLite flatbuffer.

    Args:
        mode: a row of ``alexedge.modes.MODES``: ``float32``, ``dynamic`` (int8
            weights, float activations), ``float16`` (half-precision weights),
            ``int8`` (full integer), ``int16x8`` (int16 activations, int8 weights,
            float32 I/O) or ``int4`` (int4 Conv/Dense weights, float activations).
        calibration: uint8/float images (N, H, W, 3) for the activation ranges of
            modes that need calibration.
        io_type: input/output tensor type of a full-integer model.
        per_channel: ``False`` quantizes each weight tensor with one scale
            (modes with integer weights): smaller files, riskier accuracy.
    """
    with exporter(model) as export:
        return export(mode, calibration, io_type, per_channel)


def _convert(
    converter: tf.lite.TFLiteConverter,
    mode: str,
    calibration: np.ndarray | None,
    io_type: str,
    per_channel: bool,
) -> bytes:
    spec = get_mode(mode)
    if spec.needs_calibration and (calibration is None or len(calibration) == 0):
        raise ConfigError(f"{mode} quantization needs calibration images")
    finish = converter_setup(mode)(converter, calibration, io_type)
    if not per_channel:
        # The converter's only switch for it; private but unchanged since TF 2.4.
        # (A float32 conversion ignores it; int4 takes per_channel itself.)
        converter._experimental_disable_per_channel = True
    try:
        data = run_converter(converter)
    except Exception as e:
        raise _conversion_error(mode, e) from e
    return data if finish is None else finish(data, per_channel)


def converter_setup(mode: str) -> Setup:
    """The converter function ``mode``'s row names (``QuantizationMode.converter``)."""
    setup = globals().get(get_mode(mode).converter)
    if not callable(setup):
        raise ModelError(f"mode {mode!r} names no converter function in {__name__}")
    return setup


def run_converter(converter: tf.lite.TFLiteConverter) -> bytes:
    """``converter.convert()`` without the noise every integer conversion makes."""
    with warnings.catch_warnings():
        # Raised for every integer-input model; our uint8 input is raw pixels with
        # scale 1 and zero point 0, taken from the calibration data, so it is noise.
        warnings.filterwarnings("ignore", "Statistics for quantized inputs were expected")
        # Its calibrating quantizer prints its settings on fd 2 at every call.
        with native_stderr_filtered():
            return bytes(converter.convert())


def _conversion_error(mode: str, error: Exception) -> ModelError:
    unsupported = re.findall(r"not yet supported for op: '(\w+)'", str(error))
    if get_mode(mode).activation_bits == 16 and unsupported:
        return _no_int16_kernel(sorted(set(unsupported)))
    return ModelError(f"TFLite conversion ({mode}) failed: {_summary(error)}")


def _no_int16_kernel(ops: list[str]) -> ModelError:
    lrn = "LOCAL_RESPONSE_NORMALIZATION" in ops
    hint = " (the paper alexnet's LRN; alexnet-reduced has none)" if lrn else ""
    return ModelError(
        f"int16x8: TFLite has no 16-bit-activation kernel for {', '.join(ops)}{hint}; "
        "export int8 (keeps such ops in float between QUANTIZE/DEQUANTIZE) or float16 instead"
    )


def _summary(error: Exception) -> str:
    """The converter's own error lines, on one line: its message embeds a whole MLIR dump."""
    text = str(error)
    found = dict.fromkeys(m.strip() for m in re.findall(r"error: ([^\n]+)", text))
    lines = [line for line in found if line.rstrip(": ")] or text.strip().splitlines()[:1]
    summary = "; ".join(lines[:3]) or type(error).__name__
    return summary if len(summary) <= 400 else summary[:397] + "..."


# From the converter's bytes (and ``per_channel``) to the file: a check that refuses
# what the mode's name would misdescribe, or the quantizer the converter lacks.
Finish = Callable[[bytes, bool], bytes]
# A mode's converter function (``QuantizationMode.converter``): sets the converter up
# for the mode and returns its finishing step, if any. The per-layer error report
# calls it too, then stops the converter after calibration.
Setup = Callable[[tf.lite.TFLiteConverter, "np.ndarray | None", str], "Finish | None"]


def setup_float32(
    converter: tf.lite.TFLiteConverter, calibration: object, io_type: str
) -> Finish | None:
    del converter, calibration, io_type  # the converter's defaults are float32
    return None


def setup_dynamic(
    converter: tf.lite.TFLiteConverter, calibration: object, io_type: str
) -> Finish | None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return None


def setup_float16(
    converter: tf.lite.TFLiteConverter, calibration: object, io_type: str
) -> Finish | None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return None


def setup_int8(
    converter: tf.lite.TFLiteConverter, calibration: np.ndarray | None, io_type: str
) -> Finish | None:
    if io_type not in IO_TYPES:
        raise ConfigError(f"unknown I/O type {io_type!r}; choose from {sorted(IO_TYPES)}")
    _calibrate(converter, calibration, "int8")
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.as_dtype(io_type)
    converter.inference_output_type = tf.as_dtype(io_type)
    return None


def setup_int16x8(
    converter: tf.lite.TFLiteConverter, calibration: np.ndarray | None, io_type: str
) -> Finish | None:
    del io_type  # float32 I/O: MediaPipe takes float32 with metadata, never int16
    _calibrate(converter, calibration, "int16x8")
    # This op set alone, without TFLITE_BUILTINS: an op lacking a 16-bit kernel fails
    # the conversion instead of silently staying float in a mixed file.
    ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    converter.target_spec.supported_ops = [ops]
    return only_int16


def setup_int4(
    converter: tf.lite.TFLiteConverter, calibration: object, io_type: str
) -> Finish | None:
    """The float32 conversion, then litert-quantizer's int4 weights (``int4.py``)."""
    require_quantizer()  # before a conversion whose result could not be used
    setup_float32(converter, calibration, io_type)
    return int4_weights


def _calibrate(
    converter: tf.lite.TFLiteConverter, calibration: np.ndarray | None, mode: str
) -> None:
    images = np.array(calibration, np.float32)
    if all(np.ptp(image) == 0 for image in images):
        # Flat images (all black: a failed decode, a wrong path) calibrate every
        # activation range on nothing; the export would look fine and misclassify.
        raise ModelError(
            f"{mode} calibration: all {len(images)} images are a single flat colour; "
            "give real images (--representative DIR, or the run's training images)"
        )
    # The input tensor's quantization comes from the range the calibration pixels
    # cover; a set without a 0 and a 255 (16 images rarely have both) gives a uint8
    # input scale like 254/255, and every app feeding raw bytes is then slightly off.
    # Two pixels of the first image pin the range to exactly 0-255: scale 1, zero 0.
    images[0, 0, 0, :], images[0, -1, -1, :] = 0.0, 255.0

    def representative() -> Iterator[list[np.ndarray]]:
        for image in images:
            yield [image[None]]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative


def only_int16(data: bytes, per_channel: bool) -> bytes:
    """``data`` if every op computes on int16; a mixed file is refused, never written."""
    del per_channel
    mixed = sorted(
        {
            op.name
            for op in list_ops(data)
            if op.name not in ("QUANTIZE", "DEQUANTIZE")
            and not set(op.output_types) <= {"INT16", "INT32"}
        }
    )
    if mixed:
        raise _no_int16_kernel(mixed)
    return data
