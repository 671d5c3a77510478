"""Measure every exported variant the same way, so the report compares like with like.

Accuracy comes from the edge runtime's ``Classifier`` on the validation images (the
phone's code path, not Keras; decoded once, the same pixels as ``eval_transform``);
size is bytes on disk and after gzip -9 (what a download costs);
latency is the median single-image invoke time with 1 and 2 threads; agreement is
the share of validation images whose top-1 matches the Keras model it came from,
checked against its floor (``verify``). What the file computes in (I/O types,
float ops, zeros) is read from the exported bytes themselves.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from alexedge.compress.diagnostics.verify import check_agreement
from alexedge.compress.export.tflite_ops import float_ops, io_tensors
from alexedge.compress.export.tflite_weights import count_weights
from alexedge.edge_runtime.evaluate import evaluate_images
from alexedge.edge_runtime.latency import measure_latency

__all__ = ["VariantMeasurement", "measure_latency_ms", "measure_variant"]


@dataclass(frozen=True)
class VariantMeasurement:
    """One row of ``variants.json``; the fields after ``latency_ms_2_threads`` are schema v2."""

    name: str
    file: str
    source: str  # the Keras model it was converted from: "float", "pruned75", "qat", ...
    quantization: str
    bytes: int
    gzip_bytes: int
    weights: int
    nonzero_weights: int
    top1: float
    top5: float
    keras_top1: float
    keras_agreement: float
    latency_ms_1_thread: float
    latency_ms_2_threads: float
    sparsity_target: float = 0.0
    qat: bool = False
    clusters: int = 0
    per_channel: bool = True
    io: str = "float32"
    input: dict[str, object] = field(default_factory=dict)
    output: dict[str, object] = field(default_factory=dict)
    float_ops: dict[str, int] = field(default_factory=dict)
    agreement_floor: float = 0.0
    status: str = "ok"  # "failed": agreement below the floor, see ``error``
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["megabytes"] = round(self.bytes / 1e6, 4)
        d["sparsity"] = round(1 - self.nonzero_weights / self.weights, 4) if self.weights else 0.0
        return d


def measure_latency_ms(path: Path, threads: int, runs: int = 30) -> float:
    """Median single-image invoke time: the edge runtime's one latency measurement."""
    return measure_latency(path, threads=threads, runs=runs).median_ms


def measure_variant(
    name: str,
    path: Path,
    source: str,
    quantization: str,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    keras_predictions: np.ndarray,
    keras_top1: float,
    *,
    sparsity_target: float = 0.0,
    qat: bool = False,
    clusters: int = 0,
    per_channel: bool = True,
) -> tuple[VariantMeasurement, np.ndarray]:
    """Evaluate, size, time and verify one exported file against its Keras model.

    Never raises for a low agreement: the row says ``status: "failed"`` so the other
    variants' measurements are kept; ``verify.raise_for_failures`` fails loudly.

    Returns:
        The measurement and the variant's top-1 class for each validation sample.
    """
    data = path.read_bytes()
    weights = count_weights(data)
    result = evaluate_images(path, val_images, val_labels)
    agreement = float(np.mean(result.predictions == np.asarray(keras_predictions)))
    inp, out = io_tensors(data)
    check = check_agreement(name, quantization, agreement)
    measurement = VariantMeasurement(
        name=name,
        file=path.name,
        source=source,
        quantization=quantization,
        bytes=len(data),
        gzip_bytes=len(gzip.compress(data, compresslevel=9, mtime=0)),
        weights=weights.total,
        nonzero_weights=weights.nonzero,
        top1=result.top1,
        top5=result.top5,
        keras_top1=keras_top1,
        keras_agreement=agreement,
        latency_ms_1_thread=measure_latency_ms(path, threads=1),
        latency_ms_2_threads=measure_latency_ms(path, threads=2),
        sparsity_target=sparsity_target,
        qat=qat,
        clusters=clusters,
        per_channel=per_channel,
        io=inp.dtype,
        input=inp.to_dict(),
        output=out.to_dict(),
        float_ops=float_ops(data),
        agreement_floor=check.floor,
        status="ok" if check.ok else "failed",
        error=check.message,
    )
    return measurement, result.predictions
