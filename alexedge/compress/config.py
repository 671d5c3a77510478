"""``CompressConfig``: which compressed variants to make from a trained model, and how.

One frozen config for the whole compression stage (pruning, QAT, clustering, PTQ,
verification), validated here so that a bad value fails before any file is written.
``alexedge compress`` and ``alexedge pipeline`` build the same config: the pipeline
is the four commands in a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from alexedge.config import require as _require
from alexedge.modes import DEFAULT_MODES, IO_TYPES, MODES, QUANTIZATION_MODES

__all__ = [
    "ALLOCATIONS",
    "IO_TYPES",
    "CompressConfig",
    "parse_float_list",
    "parse_name_list",
]

# How a pruning target is spread over layers: the same share everywhere, or by the
# Erdős-Rényi-Kernel score, more where a layer has many weights per unit (see
# ``prune.allocate_sparsity``).
ALLOCATIONS = ("uniform", "size")


@dataclass(frozen=True)
class CompressConfig:
    """Compression of a trained model into TFLite variants.

    Attributes:
        sparsities: pruning targets, one pruned model each; a target of 0 (or none)
            means no pruning.
        finetune_epochs: epochs of every fine-tune (pruning, clustering, QAT).
        finetune_learning_rate: peak of the warm-up + cosine fine-tune schedule.
        finetune_mixing: fine-tunes mix batches (mixup/CutMix) as the run's recipe
            did. Off (the default), they keep the recipe's per-image augmentation but
            train on real images: a pruned model recovers on the images it will meet,
            and kept more top-1 that way (``benchmarks/RESULTS.md``).
        skip_layers: Conv2D/Dense layers never pruned or clustered (the first conv
            holds few weights and every later feature depends on it).
        allocation: ``uniform`` or ``size`` (per-layer targets, see ``ALLOCATIONS``).
        prune_end_fraction: share of the fine-tune after which sparsity stays at the
            target; the rest lets weights and batch norm recover from the last step.
        prune_frequency: steps between pruning updates; 0 picks about 30 updates.
        quantize: TFLite modes (``alexedge.modes``) exported from every Keras model
            (float32 of the trained model is always exported: it is the reference of
            every size ratio).
        qat: also fine-tune with quantization-aware training (pruning-preserving for
            pruned models) and export those as int8.
        adapt_learning_rate: peak rate of the QAT and clustering fine-tunes, a tenth
            of pruning's: they start from a converged model and only adapt it to
            rounding or to shared weights; at pruning's rate they move it away from
            what it learned.
        qat_int4: also fine-tune every pruned model (the trained one when nothing is
            pruned) with its Conv/Dense kernels on the int4 grid, zeros kept
            (``alexedge.compress.techniques.qat4``), and export it as int4.
        clusters: weight clusters per layer (0: no clustering) of every pruned model,
            or of the trained model when nothing is pruned.
        preserve_sparsity: clustering a pruned model keeps its zeros.
        io_type: input/output tensor type of int8 models (MediaPipe needs uint8).
        per_channel: one int8 scale per output channel (the converter's default) or
            one per tensor. Per-channel keeps accuracy on BN-folded kernels whose
            channels differ in range, but stores a float scale and an int64 zero point
            per channel for weights and biases, a few percent of a small int8 model.
        calibration_images: representative images for full-integer quantization.
        layer_errors: measure each integer variant's per-layer output error against the
            float model on the calibration images, worst first: int8 isolated per layer
            (``layer_errors``, the TFLite debugger), int16x8 and int4 accumulated through
            the network (``tensor_errors``).
        float_layers: Conv2D/Dense layers kept in float in an extra int8 variant of
            each post-training-quantized model (``float_layers``).
        auto_float: keep the K worst layers of the error report in float, as one more
            int8 variant (0: none).
    """

    finetune_epochs: int = 3
    finetune_learning_rate: float = 0.01
    finetune_mixing: bool = False
    skip_layers: tuple[str, ...] = ("conv1",)
    quantize: tuple[str, ...] = DEFAULT_MODES
    calibration_images: int = 200
    seed: int = 0
    sparsities: tuple[float, ...] = (0.75,)
    allocation: str = "uniform"
    prune_end_fraction: float = 0.6
    prune_frequency: int = 0
    qat: bool = False
    qat_int4: bool = False
    adapt_learning_rate: float = 0.001
    clusters: int = 0
    preserve_sparsity: bool = True
    io_type: str = "uint8"
    per_channel: bool = True
    layer_errors: bool = True
    float_layers: tuple[str, ...] = ()
    auto_float: int = 0

    def __post_init__(self) -> None:
        # JSON and TOML give lists; the frozen config holds hashable tuples.
        for name in ("sparsities", "quantize", "skip_layers", "float_layers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for target in self.sparsities:
            _require(0 <= target < 1, f"sparsity must be in [0, 1), got {target}")
        _require(self.finetune_epochs >= 1, "fine-tune epochs must be at least 1")
        _require(self.finetune_learning_rate > 0, "fine-tune learning rate must be > 0")
        _require(self.adapt_learning_rate > 0, "QAT/clustering learning rate must be > 0")
        _require(self.calibration_images >= 1, "need at least 1 calibration image")
        unknown = sorted(set(self.quantize) - set(QUANTIZATION_MODES))
        _require(
            not unknown, f"unknown quantization mode(s) {unknown}; known: {QUANTIZATION_MODES}"
        )
        _require(self.io_type in IO_TYPES, f"unknown --io {self.io_type!r}; choose {IO_TYPES}")
        _require(self.allocation in ALLOCATIONS, f"allocation must be one of {ALLOCATIONS}")
        _require(0 < self.prune_end_fraction <= 1, "prune_end_fraction must be in (0, 1]")
        _require(self.prune_frequency >= 0, "prune_frequency must be >= 0")
        _require(
            self.clusters == 0 or 2 <= self.clusters <= 256,
            f"--clusters must be 0 (off) or from 2 to 256 (int8 has 256 values), "
            f"got {self.clusters}",
        )
        _require(
            not self.qat or any(MODES[m].integer_io for m in self.quantize),
            "--qat makes full-integer models: add int8 to --quantize",
        )
        _require(
            not self.qat_int4 or "int4" in self.quantize,
            "--qat-int4 trains for the int4 export: add int4 to --quantize",
        )
        _require(self.auto_float >= 0, f"--auto-float must be >= 0, got {self.auto_float}")
        _require(
            not (self.float_layers or self.auto_float) or "int8" in self.quantize,
            "--float-layers/--auto-float keep layers of the int8 export in float: "
            "add int8 to --quantize",
        )

    @property
    def pruning_targets(self) -> tuple[float, ...]:
        """The non-zero sparsity targets, ascending and without repeats."""
        return tuple(sorted({s for s in self.sparsities if s > 0}))


def parse_float_list(text: str, option: str) -> tuple[float, ...]:
    """``"0.5,0.75"`` -> ``(0.5, 0.75)``, refusing anything that is not a number."""
    values = []
    for part in _split(text):
        try:
            values.append(float(part))
        except ValueError:
            _require(False, f"{option}: {part!r} is not a number (give e.g. 0.5,0.75,0.9)")
    _require(bool(values), f"{option}: give at least one value")
    return tuple(values)


def parse_name_list(text: str, option: str) -> tuple[str, ...]:
    """``"dynamic, int8"`` -> ``("dynamic", "int8")``; the config validates the names."""
    names = tuple(_split(text))
    _require(bool(names), f"{option}: give at least one value")
    return names


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
