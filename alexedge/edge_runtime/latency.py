"""How long a ``.tflite`` model takes to answer: the one latency measurement.

``alexedge bench``, the compress step's ``variants.json`` and the pipeline report
all time models here, so their numbers mean the same thing. Only the interpreter is
timed (no decoding, no preprocessing): a deterministic random input of each input
tensor's own dtype is set once and the model invoked ``runs`` times.

*Cold start* is what an app pays once: creating the interpreter, allocating its
tensors (resized to the batch) and the first invoke, where XNNPACK packs the
weights. Input generation between the two is not counted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime.interpreter import TFLiteInterpreter, load_interpreter
from alexedge.errors import ConfigError, ModelError

__all__ = [
    "LatencyStats",
    "batch_of",
    "load_batched_interpreter",
    "measure_latency",
    "random_inputs",
]


@dataclass(frozen=True)
class LatencyStats:
    """Invoke times of one model at one thread count and batch, in milliseconds.

    ``median_ms``, ``p90_ms`` and ``min_ms`` are over the ``runs`` timed invokes
    that follow ``warmup`` untimed ones; ``cold_start_ms`` is the interpreter's
    creation, allocation and first invoke.
    """

    threads: int | None
    batch: int
    runs: int
    warmup: int
    cold_start_ms: float
    median_ms: float
    p90_ms: float
    min_ms: float

    @property
    def images_per_second(self) -> float:
        """Throughput at the median: ``batch`` images every ``median_ms``."""
        return self.batch * 1e3 / self.median_ms if self.median_ms > 0 else float("inf")


def measure_latency(
    path: str | os.PathLike[str],
    threads: int | None = None,
    runs: int = 30,
    warmup: int = 1,
    batch: int | None = None,
    *,
    seed: int = 0,
) -> LatencyStats:
    """Time a model's invoke with a fresh interpreter.

    Args:
        path: the ``.tflite`` file.
        threads: interpreter CPU threads; ``None`` lets the backend choose.
        runs: timed invokes (at least 1).
        warmup: untimed invokes after the cold-start one (at least 0).
        batch: images per invoke. ``None`` keeps the batch the model was exported
            with; another value needs a dynamic batch dimension (or the same fixed one).
        seed: seed of the random input, so two measurements see the same bytes.

    Raises:
        ModelError: the file is missing, not a TFLite model or refuses the batch size.
        ConfigError: ``threads``, ``runs``, ``warmup`` or ``batch`` out of range, or
            ``batch`` differs from the model's fixed batch.
    """
    _check_counts(threads, runs, warmup, batch)
    start = time.perf_counter()
    interpreter, _ = load_batched_interpreter(path, threads, batch)
    loaded = time.perf_counter()
    inputs = interpreter.get_input_details()
    for detail, value in zip(inputs, random_inputs(inputs, seed), strict=True):
        interpreter.set_tensor(detail["index"], value)
    first = time.perf_counter()
    _invoke(interpreter, path)
    cold_ms = (loaded - start + time.perf_counter() - first) * 1e3
    for _ in range(warmup):
        interpreter.invoke()
    times = np.empty(runs)
    for i in range(runs):
        begin = time.perf_counter()
        interpreter.invoke()
        times[i] = time.perf_counter() - begin
    times *= 1e3
    return LatencyStats(
        threads=threads,
        batch=batch_of(inputs),
        runs=runs,
        warmup=warmup,
        cold_start_ms=cold_ms,
        median_ms=float(np.median(times)),
        p90_ms=float(np.percentile(times, 90)),
        min_ms=float(times.min()),
    )


def load_batched_interpreter(
    path: str | os.PathLike[str], threads: int | None = None, batch: int | None = None
) -> tuple[TFLiteInterpreter, str]:
    """``load_interpreter``, then every input resized to ``batch`` images and reallocated.

    Raises:
        ConfigError: ``batch`` is below 1, or an input has a fixed batch dimension
            other than ``batch`` (named in the message).
        ModelError: as ``load_interpreter``, or the model refuses the new shape.
    """
    if batch is not None and batch < 1:
        raise ConfigError(f"batch must be at least 1, got {batch}")
    interpreter, backend = load_interpreter(path, threads)
    if batch is None:
        return interpreter, backend
    resized = False
    for detail in interpreter.get_input_details():
        shape = [int(d) for d in detail["shape"]]
        if not shape or shape[0] == batch:
            continue
        signature = detail.get("shape_signature", shape)
        if len(signature) == 0 or int(signature[0]) != -1:
            raise ConfigError(
                f"{path}: input {detail['name']!r} has a fixed batch of {shape[0]}, so it "
                f"cannot run {batch} images per invoke; drop --batch or pass --batch {shape[0]} "
                "(re-export the model with a dynamic batch dimension to batch it)"
            )
        interpreter.resize_tensor_input(detail["index"], [batch, *shape[1:]])
        resized = True
    if resized:
        try:
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{path}: cannot allocate tensors for batch {batch}: {e}") from e
    return interpreter, backend


def random_inputs(details: list[dict[str, Any]], seed: int = 0) -> list[np.ndarray]:
    """A deterministic random array for each input: raw-pixel range for images.

    Integer inputs take their type's whole range (uint8 pixels 0-255, int8
    -128-127); float inputs take 0-255, the raw pixels alexedge models expect, so
    no input is all zeros (which some kernels shortcut).
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for detail in details:
        dtype = np.dtype(detail["dtype"])
        shape = tuple(int(d) for d in detail["shape"])
        if dtype == np.bool_:
            arrays.append(rng.integers(0, 2, shape).astype(np.bool_))
        elif np.issubdtype(dtype, np.integer):
            limits = np.iinfo(dtype)
            low, high = max(limits.min, -(2**31)), min(limits.max, 2**31 - 1)
            arrays.append(rng.integers(low, high, shape, endpoint=True).astype(dtype))
        else:
            arrays.append(rng.uniform(0, 255, shape).astype(dtype))
    return arrays


def batch_of(details: list[dict[str, Any]]) -> int:
    """Images per invoke: the first input's leading dimension (1 for a scalar input)."""
    shape = details[0]["shape"] if details else ()
    return int(shape[0]) if len(shape) else 1


def _check_counts(threads: int | None, runs: int, warmup: int, batch: int | None) -> None:
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be at least 1, got {threads}")
    if runs < 1:
        raise ConfigError(f"runs must be at least 1, got {runs}")
    if warmup < 0:
        raise ConfigError(f"warmup must be 0 or more, got {warmup}")
    if batch is not None and batch < 1:
        raise ConfigError(f"batch must be at least 1, got {batch}")


def _invoke(interpreter: TFLiteInterpreter, path: str | os.PathLike[str]) -> None:
    """The first invoke, where a model with an unsupported op fails: one clear line."""
    try:
        interpreter.invoke()
    except (ValueError, RuntimeError) as e:
        raise ModelError(f"{Path(path)}: the interpreter cannot run it: {e}") from e
