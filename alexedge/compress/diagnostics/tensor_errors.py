"""Per-layer error of the int16x8 and int4 exports: both files run side by side, no debugger.

The int8 report (``layer_errors``) needs the TFLite quantization debugger, which neither
mode can use: its quantizer fails at 16 bits on the normalize SUB, and litert-quantizer's
int4 files never pass through it. Here the variant's ``.tflite`` and the float32
``.tflite`` of the same SavedModel run on the same calibration images with every
intermediate tensor kept, and each Keras Conv/Dense layer's output (found in both files
by ``layer_errors.layer_outputs``, the debugger report's own name rule) is compared.

The error is *accumulated*: the variant's layer is fed the variant's own (already
damaged) input, so a layer's row holds its error plus that of every layer before it,
and later layers rank worse by construction. The debugger's int8 rows are *isolated*
(each layer fed the float input). Each row says which (``method``): the two rankings
answer different questions and are not to be compared as one.

Numbers per layer, from float output ``f`` and variant output ``q`` (int16 dequantized
with its scale and zero point) summed over all images:

- ``snr_db``: ``10 log10(sum f^2 / sum (q - f)^2)``, the int8 report's definition and
  ranking key (``layer_errors.snr_db``).
- ``rmse_over_rms``: RMSE over the float output's RMS, every row: SNR on a linear scale
  (``10^(-snr_db / 20)``), readable as "2% of the signal".
- ``rmse_over_scale`` and ``scale``: RMSE in units of the output's quantization step,
  only where the output is quantized (int16x8). 16-bit rounding alone gives 0.29 steps;
  an accumulated error hundreds of steps wide says the int8 weights, not the 16-bit
  activations, set the precision. int4 outputs are float: there is no step, and a step
  invented from the float output's range would be a number no file holds.

``litert_quantizer.Quantizer.validate`` (``model_validator.compare_model``) compares two
files' tensors too, but does not fit: it builds two new interpreters for every image
(the paper model is 240 MB), averages per-image SNR ratios instead of summing squares
over all images as the int8 report does, returns dequantized values without the output
step, keys tensors by name rather than by Keras layer, and would make the int16x8
report depend on the int4 extra. One code path serves both modes.

Both interpreters use the builtin kernels without the default XNNPACK delegate: a
delegated graph does not keep its intermediate tensors. XNNPACK's float kernels differ
from the builtin ones by summation order only (~1e-6 relative), far below any error here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from alexedge.compress.diagnostics.layer_errors import layer_outputs, snr_db
from alexedge.errors import ModelError
from alexedge.modes import ACCUMULATED

__all__ = [
    "AccumulatedError",
    "accumulated_errors",
    "format_accumulated_errors",
]


@dataclass(frozen=True)
class AccumulatedError:
    """One Keras layer's output error in a variant against the float32 file, accumulated."""

    layer: str
    op: str  # CONV_2D, FULLY_CONNECTED ...
    snr_db: float
    rmse_over_rms: float
    rmse_over_scale: float | None = None  # None: the variant's output is float
    scale: float | None = None

    def to_dict(self) -> dict[str, object]:
        row: dict[str, object] = {
            "layer": self.layer,
            "op": self.op,
            "snr_db": round(self.snr_db, 3),
            "rmse_over_rms": round(self.rmse_over_rms, 6),
        }
        if self.scale is not None and self.rmse_over_scale is not None:
            row.update(rmse_over_scale=round(self.rmse_over_scale, 4), scale=self.scale)
        return {**row, "method": ACCUMULATED}


@dataclass
class _Sums:
    signal: float = 0.0
    error: float = 0.0
    count: int = 0
    scale: float | None = None

    def add(self, f: np.ndarray, q: np.ndarray) -> None:
        f = f.astype(np.float64)
        self.signal += float(np.sum(np.square(f)))
        self.error += float(np.sum(np.square(q - f)))
        self.count += f.size

    def row(self, layer: str, op: str) -> AccumulatedError:
        rmse = math.sqrt(self.error / max(self.count, 1))
        rms = math.sqrt(self.signal / max(self.count, 1))
        steps = rmse / self.scale if self.scale else None
        relative = rmse / rms if rms > 0 else 0.0
        return AccumulatedError(
            layer, op, snr_db(self.signal, self.error), relative, steps, self.scale
        )


def accumulated_errors(
    variant: bytes, reference: bytes, layers: tuple[str, ...], images: np.ndarray
) -> list[AccumulatedError]:
    """Each Keras layer's accumulated output error in ``variant``, worst (lowest SNR) first.

    Args:
        variant: the int16x8 or int4 ``.tflite`` (float32 input).
        reference: the float32 ``.tflite`` of the same model.
        layers: the Keras Conv/Dense layer names (``layer_errors.weight_layers``).
        images: the calibration images (N x H x W x 3, the model's raw pixel input).

    Raises:
        ModelError: no layer is found in both files, a layer has a different number of
            ops in each, or a file does not take float input.
    """
    ours, theirs = layer_outputs(variant, layers), layer_outputs(reference, layers)
    common = [layer for layer in theirs if layer in ours]
    if not common:
        raise ModelError(
            f"no Conv/Dense layer of {sorted(layers)} found by name in both the variant "
            "and the float32 file: were they converted from the same model?"
        )
    for layer in common:
        if len(ours[layer]) != len(theirs[layer]):
            raise ModelError(
                f"layer {layer!r} is {len(theirs[layer])} op(s) in the float32 file but "
                f"{len(ours[layer])} in the variant: its outputs cannot be paired"
            )
    sums = {layer: _Sums() for layer in common}
    run_variant, run_reference = _runner(variant), _runner(reference)
    for image in np.asarray(images, np.float32):
        q_tensors, f_tensors = run_variant(image), run_reference(image)
        for layer in common:
            for (_, q_index), (_, f_index) in zip(ours[layer], theirs[layer], strict=True):
                q, scale = q_tensors(q_index)
                sums[layer].add(f_tensors(f_index)[0], q)
                sums[layer].scale = scale
    rows = [sums[layer].row(layer, ours[layer][0][0]) for layer in common]
    return sorted(rows, key=lambda r: (r.snr_db, r.layer))


def _runner(data: bytes) -> Any:
    """``run(image)`` -> ``tensor(index)`` -> (float values, quantization step or None)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():
        # The "preserve all tensors is for debugging" notice: debugging is the point.
        warnings.filterwarnings("ignore", category=UserWarning, module="ai_edge_litert")
        interpreter = Interpreter(
            model_content=data,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            experimental_preserve_all_tensors=True,
        )
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    if source["dtype"] != np.float32:
        raise ModelError(
            f"the accumulated per-layer report feeds float32 images; this model's input is "
            f"{np.dtype(source['dtype']).name} (use the int8 debugger report for int8 files)"
        )
    details = {d["index"]: d for d in interpreter.get_tensor_details()}

    def run(image: np.ndarray) -> Any:
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        return lambda index: _float_values(interpreter.get_tensor(index), details[index])

    return run


def _float_values(values: np.ndarray, detail: Mapping[str, Any]) -> tuple[np.ndarray, float | None]:
    if np.issubdtype(values.dtype, np.floating):
        return values.astype(np.float64), None
    scales = detail["quantization_parameters"]["scales"]
    zero_points = detail["quantization_parameters"]["zero_points"]
    if len(scales) != 1:
        raise ModelError(
            f"tensor {detail['name']!r} has {len(scales)} quantization scales; a layer "
            "output has one (per-tensor activations)"
        )
    scale = float(scales[0])
    return (values.astype(np.float64) - float(zero_points[0])) * scale, scale


def format_accumulated_errors(errors: list[AccumulatedError], limit: int = 0) -> str:
    """One line per layer, worst first, for ``compress``'s progress output."""
    shown = errors[:limit] if limit else errors
    return ", ".join(
        f"{e.layer} {e.snr_db:.1f} dB ({100 * e.rmse_over_rms:.1f}% RMS)" for e in shown
    )
