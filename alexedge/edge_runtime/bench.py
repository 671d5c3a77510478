"""``alexedge bench MODEL``: how fast a ``.tflite`` model runs on this machine.

Needs only the edge extra (numpy and a TFLite interpreter). For each thread count
it reports the cold start (interpreter creation + allocation + first invoke), the
median, p90 and minimum invoke latency and images/s at the median, all through
``alexedge.edge_runtime.latency.measure_latency``, the same function that times the
variants in ``variants.json``. It also names the input/output tensors and the
machine, because a latency means nothing without them.

``--json`` prints ``bench_to_json(result)``, one object (schema version 1)::

    {
      "schema_version": 1,
      "model": str,                # the path as given
      "bytes": int,                # file size
      "backend": str,              # one of alexedge.edge_runtime.BACKENDS
      "batch": int,                # images per invoke
      "runs": int,                 # timed invokes per thread count
      "warmup": int,               # untimed invokes after the cold start
      "inputs": [TENSOR, ...],
      "outputs": [TENSOR, ...],
      "machine": {"cpu": str, "logical_cores": int, "available_cores": int,
                  "platform": str, "python": str},
      "hardware": {...},           # alexedge.hardware.describe_hardware(): ISA, versions
      "results": [{"threads": int, "cold_start_ms": float, "median_ms": float,
                   "p90_ms": float, "min_ms": float, "images_per_second": float}, ...]
    }

    TENSOR = {"name": str, "dtype": str, "shape": [int, ...],   # shape as benchmarked
              "dynamic_batch": bool, "scale": float, "zero_point": int}

``scale`` and ``zero_point`` are 0.0 and 0 for a tensor that is not quantized;
``results`` keeps the order of the requested thread counts.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime.latency import (
    LatencyStats,
    batch_of,
    load_batched_interpreter,
    measure_latency,
)
from alexedge.errors import ConfigError
from alexedge.hardware import describe_hardware, hardware_line

__all__ = [
    "BENCH_SCHEMA_VERSION",
    "BenchConfig",
    "BenchResult",
    "Machine",
    "TensorInfo",
    "bench_to_json",
    "default_threads",
    "describe_machine",
    "format_bench",
    "parse_threads",
    "run_bench",
]

BENCH_SCHEMA_VERSION = 1


def default_threads() -> tuple[int, ...]:
    """One thread (what a busy phone gives an app) and every core this process may use."""
    return tuple(sorted({1, _available_cores()}))


def parse_threads(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> ``(1, 2, 4)``: the ``--threads`` option, duplicates dropped.

    Raises:
        ConfigError: an item is not a whole number of at least 1.
    """
    counts: list[int] = []
    for item in text.split(","):
        try:
            count = int(item.strip())
        except ValueError:
            raise ConfigError(
                f"--threads takes thread counts separated by commas, like 1,2; got {text!r}"
            ) from None
        if count < 1:
            raise ConfigError(f"--threads: thread counts must be at least 1, got {count}")
        if count not in counts:
            counts.append(count)
    return tuple(counts)


@dataclass(frozen=True)
class BenchConfig:
    """What to time. ``batch=None`` keeps the model's own batch (1 for our exports)."""

    threads: tuple[int, ...] = field(default_factory=default_threads)
    runs: int = 50
    warmup: int = 5
    batch: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.threads:
            raise ConfigError("--threads: give at least one thread count")
        for count in self.threads:
            if count < 1:
                raise ConfigError(f"--threads: thread counts must be at least 1, got {count}")
        if self.runs < 1:
            raise ConfigError(f"--runs must be at least 1, got {self.runs}")
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be 0 or more, got {self.warmup}")
        if self.batch is not None and self.batch < 1:
            raise ConfigError(f"--batch must be at least 1, got {self.batch}")


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as benchmarked."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    dynamic_batch: bool
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Machine:
    cpu: str
    logical_cores: int
    available_cores: int
    platform: str
    python: str


@dataclass(frozen=True)
class BenchResult:
    model: str
    bytes: int
    backend: str
    batch: int
    runs: int
    warmup: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    machine: Machine
    results: tuple[LatencyStats, ...]


def run_bench(model: str | os.PathLike[str], config: BenchConfig | None = None) -> BenchResult:
    """Time ``model`` at each of ``config.threads``, each with a fresh interpreter.

    The model is opened once first to check it and the batch, and to read its
    tensors; that also brings the file into the page cache, so the first thread
    count's cold start is not charged for the disk read.

    Raises:
        ModelError: the file is missing, not a TFLite model or cannot run.
        ConfigError: the batch differs from the model's fixed batch.
    """
    config = config if config is not None else BenchConfig()
    path = Path(model)
    interpreter, backend = load_batched_interpreter(path, threads=1, batch=config.batch)
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    del interpreter
    results = tuple(
        measure_latency(path, count, config.runs, config.warmup, config.batch, seed=config.seed)
        for count in config.threads
    )
    return BenchResult(
        model=str(model),
        bytes=path.stat().st_size,
        backend=backend,
        batch=batch_of(inputs),
        runs=config.runs,
        warmup=config.warmup,
        inputs=tuple(map(_tensor_info, inputs)),
        outputs=tuple(map(_tensor_info, outputs)),
        machine=describe_machine(),
        results=results,
    )


def describe_machine() -> Machine:
    return Machine(
        cpu=_cpu_model(),
        logical_cores=os.cpu_count() or 1,
        available_cores=_available_cores(),
        platform=platform.platform(),
        python=platform.python_version(),
    )


def bench_to_json(result: BenchResult) -> dict[str, Any]:
    """The ``--json`` object documented in this module's docstring."""
    return {
        "schema_version": BENCH_SCHEMA_VERSION,
        "model": result.model,
        "bytes": result.bytes,
        "backend": result.backend,
        "batch": result.batch,
        "runs": result.runs,
        "warmup": result.warmup,
        "inputs": [_tensor_json(t) for t in result.inputs],
        "outputs": [_tensor_json(t) for t in result.outputs],
        "machine": {
            "cpu": result.machine.cpu,
            "logical_cores": result.machine.logical_cores,
            "available_cores": result.machine.available_cores,
            "platform": result.machine.platform,
            "python": result.machine.python,
        },
        "hardware": describe_hardware(),
        "results": [
            {
                "threads": stats.threads,
                "cold_start_ms": stats.cold_start_ms,
                "median_ms": stats.median_ms,
                "p90_ms": stats.p90_ms,
                "min_ms": stats.min_ms,
                "images_per_second": stats.images_per_second,
            }
            for stats in result.results
        ],
    }


def format_bench(result: BenchResult) -> str:
    """A header naming the model, tensors and machine, then one row per thread count."""
    m = result.machine
    lines = [
        f"model    {result.model} ({result.bytes:,} bytes, {result.backend})",
        *(f"input    {_describe_tensor(t)}" for t in result.inputs),
        *(f"output   {_describe_tensor(t)}" for t in result.outputs),
        f"machine  {m.cpu}, {m.logical_cores} logical cores ({m.available_cores} available), "
        f"{m.platform}, Python {m.python}",
        f"hardware {hardware_line()}",
        f"batch {result.batch}, {result.runs} timed invokes after {result.warmup} warm-up",
        "",
        f"{'threads':>7}  {'cold start ms':>13}  {'median ms':>9}  {'p90 ms':>8}  "
        f"{'min ms':>8}  {'images/s':>9}",
    ]
    for s in result.results:
        lines.append(
            f"{s.threads:>7}  {s.cold_start_ms:>13.2f}  {s.median_ms:>9.3f}  {s.p90_ms:>8.3f}  "
            f"{s.min_ms:>8.3f}  {s.images_per_second:>9.1f}"
        )
    return "\n".join(lines)


def _tensor_info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    shape = tuple(int(d) for d in detail["shape"])
    signature: Sequence[int] = detail.get("shape_signature", shape)
    return TensorInfo(
        name=str(detail["name"]),
        dtype=np.dtype(detail["dtype"]).name,
        shape=shape,
        dynamic_batch=len(signature) > 0 and int(signature[0]) == -1,
        scale=float(scale),
        zero_point=int(zero_point),
    )


def _tensor_json(t: TensorInfo) -> dict[str, Any]:
    return {
        "name": t.name,
        "dtype": t.dtype,
        "shape": list(t.shape),
        "dynamic_batch": t.dynamic_batch,
        "scale": t.scale,
        "zero_point": t.zero_point,
    }


def _describe_tensor(t: TensorInfo) -> str:
    shape = "x".join(map(str, t.shape)) or "scalar"
    batch = "dynamic batch" if t.dynamic_batch else "fixed batch"
    quant = f", scale {t.scale:.6g} zero point {t.zero_point}" if t.scale else ""
    return f"{t.name}: {t.dtype} {shape} ({batch}{quant})"


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask
        return os.cpu_count() or 1


def _cpu_model() -> str:
    """The CPU's marketing name: x86 ``model name``, or an ARM board's ``Model``/``Hardware``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            fields = [line.partition(":") for line in f]
    except OSError:
        fields = []
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for name, _, value in fields:
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"
