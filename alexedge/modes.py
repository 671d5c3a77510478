"""The quantization modes: one row per mode, read by every stage that treats modes differently.

Conversion (``alexedge.compress.convert`` keeps one converter-setup function per row),
the variant planner, verification (agreement floors), the CLI help, the report and the
edge runtime's accepted input types all read this table, so adding a mode is one row
here plus its converter function. It lives at the top of the package, not in
``compress/``, because the edge runtime reads it and must never load the compression
code (which imports TensorFlow).
"""

from __future__ import annotations

from dataclasses import dataclass

from alexedge.errors import ConfigError

__all__ = [
    "MODES",
    "QUANTIZATION_MODES",
    "QuantizationMode",
    "agreement_floor",
    "get_mode",
    "input_dtypes",
]


@dataclass(frozen=True)
class QuantizationMode:
    """How one TFLite variant is made from a Keras model and what it must satisfy.

    Attributes:
        name: the ``--quantize`` value and the variant-name suffix.
        description: one line for ``--help`` and reports.
        needs_calibration: the converter needs representative images (activation ranges).
        agreement_floor: the share of validation images whose top-1 must equal the Keras
            model's. Float files only reorder float arithmetic; int8 weights may flip
            near-ties. Below its floor a variant is a broken export.
        integer_weights: weights stored as 8-bit integers, with one scale per output
            channel or (``--per-tensor``) per tensor.
        integer_io: input and output tensors take ``--io`` (uint8, int8 or float32):
            a full-integer model that a phone feeds with pixels directly.
        input_dtypes: tensor types the model's image input can have.
    """

    name: str
    description: str
    needs_calibration: bool
    agreement_floor: float
    integer_weights: bool
    integer_io: bool
    input_dtypes: tuple[str, ...]


MODES: dict[str, QuantizationMode] = {
    m.name: m
    for m in (
        QuantizationMode(
            "float32", "float32 weights and activations (the reference)",
            needs_calibration=False, agreement_floor=0.995, integer_weights=False,
            integer_io=False, input_dtypes=("float32",),
        ),
        QuantizationMode(
            "dynamic", "int8 weights, float activations (dynamic range)",
            needs_calibration=False, agreement_floor=0.97, integer_weights=True,
            integer_io=False, input_dtypes=("float32",),
        ),
        QuantizationMode(
            "float16", "float16 weights, float32 activations",
            needs_calibration=False, agreement_floor=0.995, integer_weights=False,
            integer_io=False, input_dtypes=("float32",),
        ),
        QuantizationMode(
            "int8", "int8 weights and activations (full integer, calibrated)",
            needs_calibration=True, agreement_floor=0.97, integer_weights=True,
            integer_io=True, input_dtypes=("uint8", "int8", "float32"),
        ),
    )
}  # fmt: skip
QUANTIZATION_MODES: tuple[str, ...] = tuple(MODES)


def get_mode(name: str) -> QuantizationMode:
    """The row for ``name``; ``ConfigError`` listing the known modes otherwise."""
    try:
        return MODES[name]
    except KeyError:
        known = ", ".join(QUANTIZATION_MODES)
        raise ConfigError(f"unknown quantization mode {name!r}; known: {known}") from None


def agreement_floor(name: str) -> float:
    return get_mode(name).agreement_floor


def input_dtypes() -> tuple[str, ...]:
    """Every input tensor type some mode produces: what the edge runtime must accept."""
    return tuple(dict.fromkeys(d for m in MODES.values() for d in m.input_dtypes))
