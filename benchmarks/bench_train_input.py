"""Training speed from a JPEG folder against the same model on tensors already in memory.

The project guide's bar: training on real JPEG folders keeps at least 90% of the speed
of the same model on in-memory tensors. One model, the ``tiny-imagenet`` preset built
and compiled as ``alexedge.train.loop`` does, trains from three sources in turn:

- A ``tensors``: centre crops already in memory (uint8, N x 56 x 56 x 3) and one-hot
  labels, ``from_tensor_slices -> shuffle -> batch -> cast to float32 -> prefetch``, no
  augmentation: what the model can eat when the input costs nothing.
- B ``memory``: alexedge's default path: ``decode_split`` once (timed apart), then
  ``train_epochs`` with the preset's random crop, flip and PCA lighting every epoch.
- C ``stream`` (``--input stream``): ``file_split`` and the ``scan_split`` statistics
  pass (timed apart), then ``train_epochs`` decoding every file in every epoch.

Each measurement makes a fresh iterator over the repeated dataset (as ``loop.train``
gives ``fit``), runs ``--warmup`` untimed steps (tracing, shuffle-buffer fill, tf.data
autotuning), then times ``--steps`` calls of Keras' own train function (what ``fit``
runs per step), and deletes the iterator so no prefetching spills into the next
measurement. The default ``--steps`` is one epoch, so every measurement crosses exactly
one pass boundary and pays its reshuffle, as a real epoch does. Sources alternate
within each round (the order rotates: ABC, BCA, CAB, ...) because the machine is
shared; medians over rounds are reported, and the ratios are medians of the per-round
ratios. B's and C's one-time costs are also shown amortized over the preset's epochs.

Not part of CI; prints, never asserts a time. Usage::

    python benchmarks/bench_train_input.py [--steps K] [--rounds R] [--limit N]
        [--precision float32|mixed_float16|mixed_bfloat16] [--warmup W]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import tensorflow as tf
import tf_keras as keras

from alexedge.data.dataset import Sample, load_dataset
from alexedge.data.decode import DecodedSplit, decode_split
from alexedge.data.stats import ChannelStats, channel_stats
from alexedge.data.stream import FileSplit, file_split, scan_split
from alexedge.hardware import hardware_line
from alexedge.preprocess import base_size_for
from alexedge.train.config import PRECISIONS, TrainConfig
from alexedge.train.distribute import make_strategy
from alexedge.train.input_pipeline import train_epochs
from alexedge.train.loop import build_network, compile_for_training, logits_model, steps_per_epoch
from alexedge.train.precision import detect_precision
from alexedge.train.presets import get_preset
from alexedge.train.schedule import make_schedule

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tiny-imagenet-20"
PRESET = "tiny-imagenet"
SOURCES = ("tensors", "memory", "stream")  # A, B, C
LABELS = {
    "tensors": "A in-memory tensors",
    "memory": "B alexedge memory (default)",
    "stream": "C alexedge stream",
}
TrainStep = Callable[[tf.data.Iterator], dict[str, tf.Tensor]]
T = TypeVar("T")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 1 epoch)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per measurement")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N files")
    parser.add_argument("--precision", choices=PRECISIONS, default=None, help="default: preset")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if min(args.rounds, args.warmup, args.steps or 1) < 1:
        parser.error("--steps, --rounds and --warmup must be at least 1")
    return args


def _timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def _decoded(samples: Sequence[Sample], base: int) -> tuple[DecodedSplit, ChannelStats, float]:
    """B's one-time work, as ``prepare_data`` does it: decode, then channel statistics."""
    split, decode_s = _timed(lambda: decode_split(samples, base, "B: decoding"))
    stats, stats_s = _timed(lambda: channel_stats(split.images))
    print(f"B: decode {decode_s:.1f} s + statistics {stats_s:.1f} s", flush=True)
    return split, stats, decode_s + stats_s


def _streamed(samples: Sequence[Sample], base: int) -> tuple[FileSplit, ChannelStats, float]:
    """C's one-time work: the statistics pass, which is also its first read of every file."""
    (stats, split), scan_s = _timed(
        lambda: scan_split(file_split(samples, base), "C: statistics pass")
    )
    print(f"C: statistics pass {scan_s:.1f} s", flush=True)
    return split, stats, scan_s


def _tensor_dataset(split: DecodedSplit, num_classes: int, config: TrainConfig) -> tf.data.Dataset:
    """A: the same images, already cropped to the input size, batched with no augmentation.

    The cast to float32 (the model's input dtype, as ``train_dataset`` gives it) runs
    once per batch: the cheapest way to feed these tensors, so the strictest baseline.
    """
    size, top = config.input_size, (split.images.shape[1] - config.input_size) // 2
    images = np.ascontiguousarray(split.images[:, top : top + size, top : top + size])
    labels = np.eye(num_classes, dtype=np.float32)[split.labels]
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    data = data.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
    data = data.batch(config.batch_size, drop_remainder=len(images) >= config.batch_size)
    data = data.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def _augmented(
    split: DecodedSplit | FileSplit, num_classes: int, stats: ChannelStats, config: TrainConfig
) -> tf.data.Dataset:
    """B and C: ``train_epochs`` with the arguments ``loop.train`` passes it."""
    return train_epochs(
        split,
        num_classes,
        config.input_size,
        config.batch_size,
        stats,
        config.augmentation,
        config.seed,
        range(config.epochs),
        cache_dir=config.cache_dir,
    )


def _as_in_training(data: tf.data.Dataset) -> tf.data.Dataset:
    # What loop._datasets does to the training set before fit.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.repeat().with_options(options)


def _train_step(
    config: TrainConfig, num_classes: int, stats: ChannelStats, steps: int
) -> TrainStep:
    """The compiled train function ``fit`` would call, for the model ``loop`` would build.

    One model serves all three sources: they yield the same element spec, so no
    source retraces it and every source drives the very same graph and weights.
    """
    with make_strategy(config.strategy).scope():
        keras.utils.set_random_seed(config.seed)
        trainer = logits_model(build_network(config, num_classes, stats))
        schedule = make_schedule(config, steps, 1.0)
        compile_for_training(trainer, config, schedule, num_classes, from_logits=True)
    return trainer.make_train_function()


def _run(train_step: TrainStep, iterator: tf.data.Iterator, steps: int) -> None:
    logs: dict[str, tf.Tensor] = {}
    for _ in range(steps):
        logs = train_step(iterator)
    for value in logs.values():
        value.numpy()  # wait for the last step to finish


def _images_per_second(
    train_step: TrainStep, data: tf.data.Dataset, warmup: int, steps: int, batch: int
) -> float:
    iterator = iter(data)
    _run(train_step, iterator, warmup)
    start = time.perf_counter()
    _run(train_step, iterator, steps)
    seconds = time.perf_counter() - start
    del iterator  # stops its prefetching before the next source is timed
    return steps * batch / seconds


def _measure(
    train_step: TrainStep,
    datasets: dict[str, tf.data.Dataset],
    args: argparse.Namespace,
    batch: int,
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in SOURCES}
    for r in range(args.rounds):
        shift = r % len(SOURCES)
        for name in SOURCES[shift:] + SOURCES[:shift]:
            rate = _images_per_second(train_step, datasets[name], args.warmup, args.steps, batch)
            rates[name].append(rate)
            print(f"round {r + 1}/{args.rounds}  {LABELS[name]:28s} {rate:7.1f} img/s", flush=True)
    return rates


def _paired(
    rates: dict[str, list[float]], name: str, once_per_image: float, epochs: int
) -> tuple[list[float], list[float]]:
    """Per-round ratios to A: plain, and with the one-time cost spread over ``epochs``."""
    plain = [x / a for x, a in zip(rates[name], rates["tensors"], strict=True)]
    amortized = [
        (1 / a) / (1 / x + once_per_image / epochs)
        for x, a in zip(rates[name], rates["tensors"], strict=True)
    ]
    return plain, amortized


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}  [{min(values):.3f}-{max(values):.3f}]"


def _report(
    rates: dict[str, list[float]], once: dict[str, float], images: int, config: TrainConfig
) -> None:
    print(f"\n{'source':30s} {'median':>8s} {'min':>8s} {'max':>8s}  img/s")
    for name in SOURCES:
        values = rates[name]
        median, low, high = statistics.median(values), min(values), max(values)
        print(f"{LABELS[name]:30s} {median:8.1f} {low:8.1f} {high:8.1f}")
    print(
        f"\none-time costs for {images} files: B decode + statistics {once['memory']:.1f} s "
        f"({images / once['memory']:.0f} img/s); C statistics pass {once['stream']:.1f} s "
        f"({images / once['stream']:.0f} img/s)"
    )
    b, b_amortized = _paired(rates, "memory", once["memory"] / images, config.epochs)
    c, c_amortized = _paired(rates, "stream", once["stream"] / images, config.epochs)
    print(f"\nratios to A, median of {len(b)} paired rounds [min-max]; the bar is 0.90:")
    for label, values in (
        ("B/A  memory / tensors", b),
        ("C/A  stream / tensors", c),
        (f"B/A  with its decode amortized over {config.epochs} epochs", b_amortized),
        (f"C/A  with its stats pass amortized over {config.epochs} epochs", c_amortized),
    ):
        print(f"{label:52s} {_spread(values)}")


def main() -> None:
    args = _parse_args()
    print(f"hardware: {hardware_line()}", flush=True)
    config = get_preset(PRESET)
    if args.precision:
        config = config.replace(precision=args.precision)
    if config.precision == "auto":  # resolved as train_run resolves it
        config = config.replace(precision=detect_precision())
    make_strategy(config.strategy)  # before any other TensorFlow work, as train_run does
    dataset = load_dataset(args.data)
    samples = dataset.train[: args.limit] if args.limit else dataset.train
    base = base_size_for(config.input_size)
    decoded, stats, decode_s = _decoded(samples, base)
    streamed, stream_stats, scan_s = _streamed(samples, base)
    steps = steps_per_epoch(len(decoded), config.batch_size)
    args.steps = args.steps or steps
    print(
        f"{PRESET} preset: {config.model} {config.model_options}, input {config.input_size}, "
        f"batch {config.batch_size}, {config.precision}; {len(samples)} training files, "
        f"{dataset.num_classes} classes; {os.cpu_count()} CPUs; {args.rounds} rounds of "
        f"{args.warmup} untimed + {args.steps} timed steps (an epoch is {steps})",
        flush=True,
    )
    datasets = {
        "tensors": _tensor_dataset(decoded, dataset.num_classes, config),
        "memory": _augmented(decoded, dataset.num_classes, stats, config),
        "stream": _augmented(streamed, dataset.num_classes, stream_stats, config),
    }
    datasets = {name: _as_in_training(data) for name, data in datasets.items()}
    train_step = _train_step(config, dataset.num_classes, stats, steps)
    rates = _measure(train_step, datasets, args, config.batch_size)
    _report(rates, {"memory": decode_s, "stream": scan_s}, len(samples), config)


if __name__ == "__main__":
    main()
