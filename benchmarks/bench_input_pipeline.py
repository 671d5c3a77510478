"""Training-input throughput: alexedge's pipelines against a plain Pillow + numpy loader.

All do the same work per training image (decode, shorter side to S, centre square,
random crop, horizontal flip, PCA colour noise, float32 batch) with the same number
of worker threads. alexedge in memory decodes each file once (``decode_split``) and
then augments from memory with tf.data every epoch; alexedge streamed
(``--input stream``) and the plain loader decode every epoch, the streamed one after
a statistics pass over the files. Reported per dataset: first epoch (including the
decode or statistics pass), later epochs, and the whole run; the ratios over the
whole run come last.

Not part of CI; never asserts a time. Usage::

    python benchmarks/bench_input_pipeline.py [--epochs 3] [--batch 64] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from alexedge.data.dataset import Sample
from alexedge.data.decode import decode_split
from alexedge.data.files import list_images
from alexedge.data.stats import ChannelStats, channel_stats
from alexedge.data.stream import file_split, scan_split
from alexedge.hardware import hardware_line
from alexedge.preprocess import base_image, base_size_for, load_rgb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = (("tiny-imagenet-20", "train", 64), ("imagenet-sample-100", "val", 224))
WORKERS = min(8, (os.cpu_count() or 1) * 2)  # what decode_split uses


def _samples(root: Path, split: str, limit: int | None) -> list[Sample]:
    # Class = the folder under the split (train/<wnid>/images/x.JPEG or val/<wnid>/x.JPEG).
    paths = list_images(root / split)
    classes = sorted({p.relative_to(root / split).parts[0] for p in paths})
    index = {c: i for i, c in enumerate(classes)}
    samples = [Sample(str(p), index[p.relative_to(root / split).parts[0]]) for p in paths]
    return samples[:limit] if limit else samples


def _alexedge_epochs(
    samples: list[Sample], size: int, batch: int, epochs: int, stream: bool = False
) -> list[float]:
    from alexedge.train.config import Augmentation
    from alexedge.train.input_pipeline import train_dataset

    start = time.perf_counter()
    if stream:
        files = file_split(samples, base_size_for(size))
        stats, split = scan_split(files, "alexedge stream: statistics pass")
    else:
        split = decode_split(samples, base_size_for(size), "alexedge: decoding")
        stats = channel_stats(split.images)
    num_classes = int(split.labels.max()) + 1
    data = train_dataset(split, num_classes, size, batch, stats, Augmentation(), 0)
    return _time_epochs(data, epochs, start)


def _time_epochs(data, epochs: int, start: float) -> list[float]:
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = WORKERS
    data = data.with_options(options)
    times = []
    for _ in range(epochs):
        for images, _labels in data:
            images.numpy()
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
    return times


def _pillow_augment(sample: Sample, size: int, rng: np.random.Generator, stats: ChannelStats):
    base = base_image(load_rgb(sample.path), base_size_for(size))
    top, left = rng.integers(0, base.shape[0] - size + 1, 2)
    crop = base[top : top + size, left : left + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    alpha = rng.normal(0.0, 0.1, 3)
    shift = np.asarray(stats.pca_eigvec) @ (alpha * np.asarray(stats.pca_eigval)) * 255.0
    return np.clip(crop.astype(np.float32) + shift.astype(np.float32), 0, 255), sample.label


def _pillow_batches(
    samples: list[Sample], size: int, batch: int, stats: ChannelStats, epoch: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(epoch).permutation(len(samples))
    rngs = [np.random.default_rng([epoch, i]) for i in range(len(samples))]
    with ThreadPoolExecutor(WORKERS) as pool:
        items = pool.map(lambda i: _pillow_augment(samples[i], size, rngs[i], stats), order)
        chunk: list = []
        for item in items:
            chunk.append(item)
            if len(chunk) == batch:
                yield np.stack([c[0] for c in chunk]), np.asarray([c[1] for c in chunk])
                chunk = []


def _pillow_epochs(samples: list[Sample], size: int, batch: int, epochs: int) -> list[float]:
    # PCA statistics from a decode pass that is not timed: alexedge's time includes
    # its stats pass, so this favours the plain loader slightly.
    with ThreadPoolExecutor(WORKERS) as pool:
        bases = pool.map(lambda s: base_image(load_rgb(s.path), base_size_for(size)), samples)
        stats = channel_stats(bases)
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for _ in _pillow_batches(samples, size, batch, stats, epoch):
            pass
        times.append(time.perf_counter() - start)
    return times


def _training_consumption(size: int, batch: int, steps: int = 8) -> float:
    """Images/s that one SGD step of the default alexnet-reduced eats at this size:
    the pipeline only has to be faster than this to never starve training."""
    import tf_keras as keras

    from alexedge.train.config import TrainConfig
    from alexedge.train.models import build_model

    config = TrainConfig()
    model = build_model("alexnet-reduced", 20, size, **config.model_options)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    y = np.zeros(batch, np.int64)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:9.0f} img/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="a short real run has 15")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N files")
    args = parser.parse_args()
    print(f"hardware: {hardware_line()}", flush=True)
    ratios = []
    for name, split, size in CASES:
        samples = _samples(DATA / name, split, args.limit)
        batch = min(args.batch, len(samples))
        n = len(samples) // batch * batch  # both sides drop the last partial batch
        ours = _alexedge_epochs(samples, size, batch, args.epochs)
        streamed = _alexedge_epochs(samples, size, batch, args.epochs, stream=True)
        plain = _pillow_epochs(samples, size, batch, args.epochs)
        print(f"\n{name} ({len(samples)} files, input {size}, {WORKERS} workers):")
        print(f"  {'':10s} {'epoch 1':>15s} {'later epochs':>15s} {'whole run':>15s}")
        for label, t in (("alexedge", ours), ("stream", streamed), ("pillow", plain)):
            later = _rate(n * (len(t) - 1), sum(t[1:])) if len(t) > 1 else "-"
            print(f"  {label:10s} {_rate(n, t[0])} {later:>15s} {_rate(n * len(t), sum(t))}")
        ratios.append((name, sum(plain) / sum(ours), sum(plain) / sum(streamed)))
        consumes = _training_consumption(size, batch)
        steady = n * (len(ours) - 1) / sum(ours[1:]) if len(ours) > 1 else n / ours[0]
        print(
            f"  alexnet-reduced training consumes {consumes:.0f} img/s; "
            f"alexedge supplies {steady:.0f} img/s after epoch 1 ({steady / consumes:.1f}x)"
        )
    print()
    print(
        "ratio alexedge / pillow (whole run): " + ", ".join(f"{n} {r:.1f}x" for n, r, _ in ratios)
    )
    print(
        "ratio stream / pillow (whole run):   " + ", ".join(f"{n} {r:.1f}x" for n, _, r in ratios)
    )


if __name__ == "__main__":
    main()
