"""Which layer an integer export damages: each layer's output error against float, worst first.

The TFLite quantization debugger (``tf.lite.experimental.QuantizationDebugger``) runs a
*debug* model in which every quantized op has a float twin fed the same (dequantized)
input, and a ``NumericVerify`` op compares the two. The error of a layer is therefore
its own, not the accumulated error of the layers before it: the ranking says where
rounding hurts, which is what ``--float-layers`` needs.

Both the debug model and the selective-float export (``float_layers``) are made from one
*calibrated* model: the converter's float graph with the activation ranges recorded on
the calibration images (``_experimental_calibrate_only``, what the debugger does with a
converter), quantized afterwards with ``mlir_quantize``, the call the converter makes
itself. Quantized with nothing denylisted it is the int8 variant ``convert`` makes:
same ops, same I/O and identical outputs on 50 images of the width-0.5 alexnet-reduced
(the files differ by 248 bytes of container out of 1.52 MB).

Two numbers per layer, from the float output ``f`` and the dequantized integer output
``q`` over all calibration images:

- ``snr_db``: ``10 log10(sum f^2 / sum (q - f)^2)``, the ranking key. It sees damage
  from both sides: weights rounded badly (an outlier weight crushing its channel) and an
  output range so wide that every value is coarse.
- ``rmse_over_scale``: root-mean-square error in units of the output's quantization
  step; rounding alone gives about 0.29 (1/sqrt(12)), so a value far above it means
  the weights, not the output rounding, are to blame.

TFLite names an op after the TensorFlow ops fused into it (``model/conv1_relu/Relu;
model/conv1/Conv2D``); a Keras weight layer is the op whose name has that layer's
name as one path component, so reports and ``--float-layers`` use ``conv1``, ``fc6``.
``layer_outputs`` applies the same rule to any ``.tflite`` file: ``tensor_errors`` uses it
for the int16x8 and int4 exports, which the debugger cannot take, and compares their
layers' outputs with the float32 file's (an *accumulated* error, so each row records its
``method``: ``isolated`` here).
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from alexedge.errors import ConfigError, ModelError
from alexedge.modes import ISOLATED, get_mode, modes_with_error_report
from alexedge.quiet import native_stderr_filtered

__all__ = [
    "WEIGHT_OPS",
    "Calibrated",
    "LayerError",
    "calibrate",
    "calibrator",
    "format_layer_errors",
    "layer_errors",
    "layer_outputs",
    "snr_db",
    "weight_layers",
]

# The TFLite ops a Keras Conv2D/Dense/DepthwiseConv2D layer becomes (``weight_layers``).
# Only their outputs are a layer's output: an int4 file also names each weight's
# DEQUANTIZE after the layer (``model/conv1/Conv2D_dequant``).
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")

# A layer computed exactly (error 0) has an infinite SNR; JSON has no infinity, and
# float32 arithmetic itself is not cleaner than ~150 dB.
_MAX_SNR_DB = 150.0

Calibrate = Callable[..., "Calibrated"]


@dataclass(frozen=True)
class LayerError:
    """One quantized Keras layer's output error against its float twin."""

    layer: str  # the Keras layer name, as ``--float-layers`` takes it
    op: str  # the TFLite op computing it, e.g. CONV_2D, FULLY_CONNECTED
    snr_db: float
    rmse_over_scale: float
    scale: float  # the output's quantization step

    def to_dict(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "op": self.op,
            "snr_db": round(self.snr_db, 3),
            "rmse_over_scale": round(self.rmse_over_scale, 4),
            "scale": self.scale,
            "method": ISOLATED,  # the debugger's; tensor_errors' rows are ACCUMULATED
        }


@dataclass(frozen=True)
class Calibrated:
    """A model's float TFLite graph with recorded activation ranges, ready to quantize.

    Attributes:
        data: the calibrated flatbuffer (float ops, ranges as statistics).
        mode: the quantization mode it was calibrated for (a row with a ``debugger_type``).
        io_type: input/output type the quantized model takes (``uint8``...).
        per_channel: one weight scale per output channel.
        images: the calibration images, fed again to the debug model.
        nodes: Keras weight layer -> names of the TFLite tensors its ops produce.
        op_types: Keras weight layer -> the TFLite op computing it (CONV_2D...).
    """

    data: bytes
    mode: str
    io_type: str
    per_channel: bool
    images: np.ndarray
    nodes: dict[str, tuple[str, ...]]
    op_types: dict[str, str]

    @property
    def layers(self) -> tuple[str, ...]:
        """The Keras layers that are quantized ops of their own, in graph order."""
        return tuple(self.nodes)

    def quantize(self, denylisted_nodes: tuple[str, ...] = (), debug: bool = False) -> bytes:
        """The integer model; ``denylisted_nodes`` stay float; ``debug`` adds NumericVerify."""
        import tensorflow as tf
        from tensorflow.compiler.mlir.lite import types_pb2
        from tensorflow.lite.python import convert as tflite_convert

        io = tf.float32 if debug else tf.as_dtype(self.io_type)
        try:
            # mlir_quantize prints its settings on fd 2 at every call.
            with native_stderr_filtered():
                data = tflite_convert.mlir_quantize(
                    self.data,
                    disable_per_channel=not self.per_channel,
                    inference_type=types_pb2.IODataType.Value(get_mode(self.mode).debugger_type),
                    input_data_type=io,
                    output_data_type=io,
                    enable_numeric_verify=debug,
                    denylisted_nodes=list(denylisted_nodes) or None,
                )
            return bytes(data)
        except Exception as e:
            raise ModelError(f"TFLite quantization ({self.mode}) failed: {_first_line(e)}") from e


def _first_line(error: Exception) -> str:
    """The converter's messages embed whole MLIR dumps; its details went to stderr."""
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def weight_layers(model: Any) -> tuple[str, ...]:
    """Names of the model's Conv2D/Dense layers (depthwise too): what integer export rounds."""
    import tf_keras as keras

    kinds = (keras.layers.Conv2D, keras.layers.Dense, keras.layers.DepthwiseConv2D)
    return tuple(layer.name for layer in model.layers if isinstance(layer, kinds))


@contextlib.contextmanager
def calibrator(model: Any) -> Iterator[Calibrate]:
    """Save ``model`` once; yield ``calibrate(mode, calibration, io_type, per_channel)``."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="alexedge-calibrate-") as folder:
        try:
            tf.saved_model.save(model, folder)
        except Exception as e:
            raise ModelError(f"cannot save the model for calibration: {e}") from e
        layers = weight_layers(model)

        def run(
            mode: str, calibration: np.ndarray, io_type: str = "uint8", per_channel: bool = True
        ) -> Calibrated:
            return _calibrate(folder, layers, mode, calibration, io_type, per_channel)

        yield run


def calibrate(
    model: Any,
    mode: str,
    calibration: np.ndarray,
    io_type: str = "uint8",
    per_channel: bool = True,
) -> Calibrated:
    """``model``'s graph calibrated on ``calibration`` (uint8/float images, N x H x W x 3)."""
    _check_mode(mode)  # before saving the model
    with calibrator(model) as run:
        return run(mode, calibration, io_type, per_channel)


def _check_mode(mode: str) -> None:
    # mlir_quantize, the only TFLite quantizer with NumericVerify and denylisted nodes,
    # takes the modes with a debugger type (see ``alexedge.modes.ISOLATED``).
    if get_mode(mode).error_report != ISOLATED:
        available = sorted(modes_with_error_report(ISOLATED))
        raise ConfigError(
            f"no per-layer error report for {mode!r} exports; available for {available}"
        )


def _calibrate(
    folder: str,
    layers: tuple[str, ...],
    mode: str,
    calibration: np.ndarray,
    io_type: str,
    per_channel: bool,
) -> Calibrated:
    import tensorflow as tf

    from alexedge.compress.export.convert import converter_setup, run_converter

    _check_mode(mode)
    converter = tf.lite.TFLiteConverter.from_saved_model(folder)
    # The mode's own setup (calibration checks, representative set, I/O types), then
    # stop before quantizing: the ranges are recorded, the ops still float.
    converter_setup(mode)(converter, calibration, io_type)
    converter._experimental_calibrate_only = True
    try:
        data = run_converter(converter)
    except Exception as e:
        raise ModelError(f"TFLite calibration ({mode}) failed: {_first_line(e)}") from e
    outputs = _op_outputs(data)
    nodes = _layer_nodes([name for _, name in outputs], layers)
    op_types = {
        layer: dict((n, op) for op, n in outputs)[names[0]] for layer, names in nodes.items()
    }
    images = np.asarray(calibration, np.float32)
    return Calibrated(data, mode, io_type, per_channel, images, nodes, op_types)


def _op_outputs(data: bytes) -> list[tuple[str, str]]:
    """(op type, output tensor name) of every op of the main subgraph, in order."""
    return [(op, name) for op, name, _ in _op_tensors(data)]


def _op_tensors(data: bytes) -> list[tuple[str, str, int]]:
    """(op type, output tensor name, tensor index) of every op of the main subgraph."""
    from ai_edge_litert import schema_py_generated as schema

    from alexedge.compress.export.tflite_ops import list_ops

    graph = schema.Model.GetRootAsModel(data, 0).Subgraphs(0)
    ops = list_ops(data)
    outputs = [
        (ops[i].name, graph.Operators(i).Outputs(j))
        for i in range(graph.OperatorsLength())
        for j in range(graph.Operators(i).OutputsLength())
    ]
    return [(op, graph.Tensors(t).Name().decode(), t) for op, t in outputs]


def layer_outputs(data: bytes, layers: tuple[str, ...]) -> dict[str, tuple[tuple[str, int], ...]]:
    """Keras weight layer -> (op type, tensor index) of the ``WEIGHT_OPS`` computing it.

    The name rule of the debugger report (``_layer_nodes``) on any ``.tflite`` file, in
    graph order; a tensor index is what the interpreter's ``get_tensor`` takes.
    """
    tensors = [(op, name, t) for op, name, t in _op_tensors(data) if op in WEIGHT_OPS]
    nodes = _layer_nodes([name for _, name, _ in tensors], layers)
    by_name = {name: (op, t) for op, name, t in tensors}
    return {layer: tuple(by_name[n] for n in names) for layer, names in nodes.items()}


def _components(tensor_name: str) -> set[str]:
    return set(re.split(r"[/;]", tensor_name))


def _layer_nodes(names: list[str], layers: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for name in names:
        for layer in _components(name).intersection(layers):
            found.setdefault(layer, []).append(name)
    return {layer: tuple(tensors) for layer, tensors in found.items()}  # graph order


def layer_errors(calibrated: Calibrated) -> list[LayerError]:
    """Each quantized Keras layer's error on the calibration images, worst (lowest SNR) first."""
    import tensorflow as tf

    metrics = {"signal": _signal, "error": _error, "count": _count, "step": _step}
    options = tf.lite.experimental.QuantizationDebugOptions(layer_direct_compare_metrics=metrics)

    def dataset() -> Iterator[list[np.ndarray]]:
        for image in calibrated.images:
            yield [image[None]]

    debug_model = calibrated.quantize(debug=True)
    with warnings.catch_warnings(), native_stderr_filtered():
        # tf.lite.Interpreter's deprecation notice and the preserve-all-tensors memory
        # notice: the debugger needs both, on calibration-sized data. Its interpreter
        # prints LiteRT's "Created ... XNNPACK delegate" line on fd 2 once per process.
        warnings.filterwarnings("ignore", category=UserWarning, module="tensorflow")
        debugger = tf.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=debug_model,
            debug_dataset=dataset,
            debug_options=options,
        )
        debugger.run()
    rows: dict[str, LayerError] = {}
    for name, stats in debugger.layer_statistics.items():
        # "NumericVerify/<quantized tensor name>:<index>"; the quantized twin is named
        # like the float op (plus a digit), so it has the Keras layer as a component.
        for layer in _components(name).intersection(calibrated.layers):
            row = _row(layer, calibrated.op_types[layer], stats)
            if layer not in rows or row.snr_db < rows[layer].snr_db:
                rows[layer] = row
    return sorted(rows.values(), key=lambda r: (r.snr_db, r.layer))


def _row(layer: str, op: str, stats: dict[str, float]) -> LayerError:
    # The debugger averages each metric over images; every image has the same number of
    # elements, so the averaged sums give the same ratios as sums over the whole set.
    signal, error, count, scale = (float(stats[k]) for k in ("signal", "error", "count", "step"))
    rmse = math.sqrt(error / max(count, 1.0))
    return LayerError(layer, op, snr_db(signal, error), rmse / scale if scale > 0 else 0.0, scale)


def snr_db(signal: float, error: float) -> float:
    """``10 log10(signal / error)`` from sums of squares, capped at 150 dB (error 0)."""
    if error <= 0:
        return _MAX_SNR_DB
    if signal <= 0:  # a layer whose float output is all zeros: nothing to lose but noise
        return -_MAX_SNR_DB
    return max(-_MAX_SNR_DB, min(_MAX_SNR_DB, 10 * math.log10(signal / error)))


def format_layer_errors(errors: list[LayerError], limit: int = 0) -> str:
    """One line per layer, worst first: what ``compress`` prints and ``--auto-float`` reads."""
    shown = errors[:limit] if limit else errors
    return ", ".join(f"{e.layer} {e.snr_db:.1f} dB ({e.rmse_over_scale:.2f} steps)" for e in shown)


def _dequantized(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float64) - zero_point) * scale


def _signal(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float:
    return float(np.sum(np.square(f, dtype=np.float64)))


def _error(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float:
    return float(np.sum(np.square(_dequantized(q, scale, zero_point) - f)))


def _count(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float:
    return float(f.size)


def _step(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float:
    return float(scale)
