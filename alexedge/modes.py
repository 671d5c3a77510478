"""The quantization modes: one row per mode, read by every stage that treats modes differently.

Conversion (each row names its converter function), the variant planner, the per-layer
error reports, verification (agreement floors), the ``--io`` choices, the CLI help, the
report and the edge runtime's accepted input types all read this table, so adding a mode
is one row here plus its converter function. It lives at the top of the package, not in
``compress/``, because the edge runtime reads it and must never load the compression
code (which imports TensorFlow): that is also why a row names its converter function
instead of holding it.

``int16x8`` and ``int4`` are not exported unless asked for (``DEFAULT_MODES``): int16x8
runs on TFLite's reference kernels (no XNNPACK), two orders of magnitude slower than int8,
and refuses models with LRN (no 16-bit kernel);
int4 needs the optional ``alexedge[int4]`` extra (litert-quantizer).
"""

from __future__ import annotations

from dataclasses import dataclass

from alexedge.errors import ConfigError

# The two kinds of per-layer error report (``QuantizationMode.error_report``).
# Isolated: each layer's quantized op against its float twin fed the same input (the
# TFLite quantization debugger, ``compress/diagnostics/layer_errors.py``); the ranking
# says where rounding hurts, what ``--float-layers`` needs. Accumulated: each layer's
# output in the file against the float32 file (``tensor_errors.py``), for modes the
# debugger cannot quantize; a layer's error then includes every earlier layer's.
ISOLATED = "isolated"
ACCUMULATED = "accumulated"
_ERROR_REPORTS = (ISOLATED, ACCUMULATED, None)

__all__ = [
    "ACCUMULATED",
    "DEFAULT_MODES",
    "IO_TYPES",
    "ISOLATED",
    "MODES",
    "QUANTIZATION_MODES",
    "QuantizationMode",
    "agreement_floor",
    "get_mode",
    "input_dtypes",
    "modes_with_error_report",
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
        integer_weights: Conv/Dense weights stored as integers (``weight_bits`` wide),
            with one scale per output channel or (``--per-tensor``) per tensor.
        integer_io: input and output tensors take ``--io`` (uint8, int8 or float32):
            a full-integer model that a phone feeds with pixels directly.
        input_dtypes: tensor types the model's image input can have.
        weight_bits: bits per stored Conv/Dense weight (32, 16, 8 or 4): what the
            file's size follows, read off the file by the mode-file tests.
        activation_bits: bits of the activations the ops compute on (32: float;
            ``dynamic`` quantizes them on the fly but stores and returns float).
        converter: the name of the function in ``alexedge.compress.export.convert`` that
            sets a ``TFLiteConverter`` up for this mode and returns the step from the
            converter's bytes to the file (a check, a second quantizer), if any.
        error_report: the per-layer error report its variants get (``ISOLATED``,
            ``ACCUMULATED``) or ``None``.
        debugger_type: the activation type the quantization debugger's ``mlir_quantize``
            takes for this mode (a name of tensorflow/compiler/mlir/lite types.proto);
            set exactly when ``error_report`` is ``ISOLATED``.
        default: exported when ``--quantize`` is not given.
        extra: the ``pip install "alexedge[...]"`` extra the mode needs, if any.
    """

    name: str
    description: str
    needs_calibration: bool
    agreement_floor: float
    integer_weights: bool
    integer_io: bool
    input_dtypes: tuple[str, ...]
    weight_bits: int
    activation_bits: int
    converter: str
    error_report: str | None = None
    debugger_type: str | None = None
    default: bool = True
    extra: str | None = None

    def __post_init__(self) -> None:
        if self.error_report not in _ERROR_REPORTS:
            raise ValueError(f"{self.name}: error_report must be one of {_ERROR_REPORTS}")
        if (self.debugger_type is not None) != (self.error_report == ISOLATED):
            raise ValueError(f"{self.name}: an isolated error report needs a debugger_type")


MODES: dict[str, QuantizationMode] = {
    m.name: m
    for m in (
        QuantizationMode(
            "float32", "float32 weights and activations (the reference)",
            needs_calibration=False, agreement_floor=0.995, integer_weights=False,
            integer_io=False, input_dtypes=("float32",), weight_bits=32, activation_bits=32,
            converter="setup_float32",
        ),
        QuantizationMode(
            "dynamic", "int8 weights, float activations (dynamic range)",
            needs_calibration=False, agreement_floor=0.97, integer_weights=True,
            integer_io=False, input_dtypes=("float32",), weight_bits=8, activation_bits=32,
            converter="setup_dynamic",
        ),
        QuantizationMode(
            "float16", "float16 weights, float32 activations",
            needs_calibration=False, agreement_floor=0.995, integer_weights=False,
            integer_io=False, input_dtypes=("float32",), weight_bits=16, activation_bits=32,
            converter="setup_float16",
        ),
        QuantizationMode(
            "int8", "int8 weights and activations (full integer, calibrated)",
            needs_calibration=True, agreement_floor=0.97, integer_weights=True,
            integer_io=True, input_dtypes=("uint8", "int8", "float32"), weight_bits=8,
            activation_bits=8, converter="setup_int8", error_report=ISOLATED,
            debugger_type="QUANTIZED_INT8",
        ),
        # Float I/O: MediaPipe accepts float32 (with normalization metadata), not int16.
        # Its weights are int8 like dynamic's, so near-ties may flip as often: same
        # floor.
        # Accumulated error report: the debugger's ``mlir_quantize`` fails at 16 bits on
        # the normalization layer's SUB (an int16 input against an int8 constant).
        QuantizationMode(
            "int16x8", "int8 weights, int16 activations (16x8, calibrated; float32 I/O)",
            needs_calibration=True, agreement_floor=0.97, integer_weights=True,
            integer_io=False, input_dtypes=("float32",), weight_bits=8, activation_bits=16,
            converter="setup_int16x8", error_report=ACCUMULATED, default=False,
        ),
        # Weight-only: each int4 kernel is dequantized and the op computes in float,
        # so only weight rounding (16 levels per output channel) moves predictions;
        # the floor still catches a broken file (agreement near 1/classes), not a
        # point of top-1, which the report shows beside it: a model full of near-ties
        # agrees well below 97% at no cost in top-1.
        QuantizationMode(
            "int4", "int4 Conv/Dense weights, float activations (weight-only; float32 I/O)",
            needs_calibration=False, agreement_floor=0.90, integer_weights=True,
            integer_io=False, input_dtypes=("float32",), weight_bits=4, activation_bits=32,
            converter="setup_int4", error_report=ACCUMULATED, default=False, extra="int4",
        ),
    )
}  # fmt: skip
QUANTIZATION_MODES: tuple[str, ...] = tuple(MODES)
# What ``alexedge compress`` and ``pipeline`` export when ``--quantize`` is not given.
DEFAULT_MODES: tuple[str, ...] = tuple(m.name for m in MODES.values() if m.default)
# The ``--io`` choices: the input types of the modes whose I/O type is chosen.
IO_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(d for m in MODES.values() if m.integer_io for d in m.input_dtypes)
)


def get_mode(name: str) -> QuantizationMode:
    """The row for ``name``; ``ConfigError`` listing the known modes otherwise."""
    try:
        return MODES[name]
    except KeyError:
        known = ", ".join(QUANTIZATION_MODES)
        raise ConfigError(f"unknown quantization mode {name!r}; known: {known}") from None


def modes_with_error_report(kind: str) -> tuple[str, ...]:
    """The modes whose variants get the ``kind`` per-layer error report, in table order."""
    return tuple(m.name for m in MODES.values() if m.error_report == kind)


def agreement_floor(name: str) -> float:
    return get_mode(name).agreement_floor


def input_dtypes() -> tuple[str, ...]:
    """Every input tensor type some mode produces: what the edge runtime must accept."""
    return tuple(dict.fromkeys(d for m in MODES.values() for d in m.input_dtypes))
