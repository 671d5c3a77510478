"""Selective float layers: a full-integer model with a few named layers left in float.

When one layer's int8 rounding costs accuracy (an outlier weight, a layer whose output
range is very wide), keeping just that layer in float gives back most of the float
model's accuracy for a few kilobytes: the rest of the model stays int8 and the I/O stays
``--io``. The layers are chosen by name (``--float-layers conv1,fc8``) or as the K worst
of the per-layer error report (``--auto-float K``, ``layer_errors``).

The converter has no option for it; the quantizer it calls (``mlir_quantize``) does:
``denylisted_nodes`` are op output tensors left float, with DEQUANTIZE/QUANTIZE around
them. ``layer_errors.Calibrated`` knows which tensors a Keras layer produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alexedge.compress.diagnostics.layer_errors import Calibrated, LayerError, weight_layers
from alexedge.errors import ConfigError

__all__ = [
    "auto_float_layers",
    "check_float_layers",
    "check_model_float_layers",
    "export_with_float_layers",
    "float_variant_name",
]


def check_float_layers(names: Sequence[str], valid: Sequence[str], where: str) -> tuple[str, ...]:
    """``names`` in ``valid``'s order without repeats; ``ConfigError`` listing the valid ones.

    Args:
        where: what the names were checked against, for the message (a run folder,
            "the converted model").
    """
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(
            f"--float-layers: no quantized layer {', '.join(map(repr, unknown))} in {where}; "
            f"choose from {', '.join(valid)}"
        )
    if not names:
        raise ConfigError("--float-layers: give at least one layer name (e.g. conv1,fc8)")
    return tuple(n for n in valid if n in names)


def check_model_float_layers(model: Any, names: Sequence[str], where: str) -> tuple[str, ...]:
    """``check_float_layers`` against a Keras model's Conv2D/Dense layers: fails before
    any conversion, so a typo costs no TensorFlow work."""
    return check_float_layers(names, weight_layers(model), where)


def auto_float_layers(errors: Sequence[LayerError], k: int) -> tuple[str, ...]:
    """The ``k`` worst layers of a ``layer_errors`` report (it is sorted worst first)."""
    if not 1 <= k <= len(errors):
        raise ConfigError(
            f"--auto-float {k}: the error report has {len(errors)} quantized layers; "
            f"give 1 to {len(errors)}"
        )
    return tuple(e.layer for e in errors[:k])


def export_with_float_layers(calibrated: Calibrated, layers: Sequence[str]) -> bytes:
    """The integer model of ``calibrated`` with ``layers`` (Keras names) computed in float."""
    names = check_float_layers(layers, calibrated.layers, "the converted model")
    nodes = tuple(node for name in names for node in calibrated.nodes[name])
    return calibrated.quantize(denylisted_nodes=nodes)


def float_variant_name(base: str, layers: Sequence[str], auto: int = 0) -> str:
    """``int8-float-conv1-fc8`` for named layers, ``int8-autofloat2`` for ``--auto-float 2``
    (the chosen layers are in the row's ``float_layers``: the name stays short)."""
    return f"{base}-autofloat{auto}" if auto else f"{base}-float-{'-'.join(layers)}"
