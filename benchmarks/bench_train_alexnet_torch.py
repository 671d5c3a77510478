"""The full AlexNet trains at 227x227; its training throughput next to PyTorch's.

Both frameworks train the paper's network (two-tower conv2/4/5, LRN, 4096-unit FC
layers, 1000 classes, 60,965,224 parameters) for the same number of steps, with the same
batch size, on the same images: ``shared/data/imagenet-sample-100`` (one validation image
for each of 100 ImageNet classes, labelled with its ImageNet-1k index), random 227 crops
of the 259 base images plus flips, SGD with Nesterov momentum 0.9, weight decay 5e-4,
float32. alexedge's side is its own training path (``build_network``, ``logits_model``,
``compile_for_training``, ``train_dataset``); PyTorch's is the same architecture written
with ``nn.Conv2d(groups=2)`` and ``nn.LocalResponseNorm``.

TensorFlow and PyTorch in one process crash (shared/FINDINGS.md), so PyTorch runs in a
subprocess from its own virtual environment without TensorFlow, created on first use
(``pip install torch==2.13.0 numpy``). Throughput is timed after the first few steps
(graph tracing, allocator warm-up). The ratio ours/PyTorch is printed last.

Not part of CI; never asserts a time. Usage::

    python benchmarks/bench_train_alexnet_torch.py [--steps 50] [--batch 64] [--torch-venv DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tf_keras as keras

from alexedge.data.dataset import Sample
from alexedge.data.decode import DecodedSplit, decode_split
from alexedge.data.files import list_images
from alexedge.data.stats import channel_stats
from alexedge.hardware import hardware_line
from alexedge.preprocess import base_size_for
from alexedge.train import loop
from alexedge.train.config import Augmentation, TrainConfig
from alexedge.train.input_pipeline import train_dataset
from alexedge.train.models import model_stats

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
INPUT = 227
CLASSES = 1000
WARMUP_STEPS = 5
TORCH_VERSION = "2.13.0"
DEFAULT_VENV = Path.home() / ".cache" / "alexedge" / "bench-torch-venv"
TORCH_SCRIPT = Path(__file__).with_name("_torch_alexnet.py")


def _samples() -> list[Sample]:
    """Each image of the sample, labelled with its class's ImageNet-1k index."""
    table = (SHARED / "imagenet1k_classes.tsv").read_text().splitlines()
    wnids = [line.split("\t")[0] for line in table]
    index = {wnid: i for i, wnid in enumerate(wnids)}
    root = SHARED / "imagenet-sample-100" / "val"
    return [Sample(str(p), index[p.parent.name]) for p in list_images(root)]


def _ours(images_file: Path, labels: np.ndarray, steps: int, batch: int) -> dict:
    images = np.load(images_file)
    split = DecodedSplit(images, labels, tuple(str(i) for i in range(len(labels))), ())
    stats = channel_stats(images)
    config = TrainConfig(
        model="alexnet", input_size=INPUT, batch_size=batch, learning_rate=0.01,
        label_smoothing=0.0, augmentation=Augmentation(pca_sigma=0.0), warmup_epochs=0,
    )  # fmt: skip
    keras.utils.set_random_seed(0)
    model = loop.build_network(config, CLASSES, stats)
    trainer = loop.logits_model(model)
    loop.compile_for_training(trainer, config, config.learning_rate, CLASSES, from_logits=True)
    data = train_dataset(
        split, CLASSES, INPUT, batch, stats, Augmentation(pca_sigma=0.0), 0
    ).repeat()
    timer = _StepTimer()
    trainer.fit(data, steps_per_epoch=steps, epochs=1, callbacks=[timer], verbose=0)
    return {
        "params": model_stats(model).params,
        "losses": timer.losses,
        "img_s": _throughput(timer.ends, batch),
    }


def _throughput(step_ends: list[float], batch: int) -> float:
    timed = step_ends[WARMUP_STEPS - 1 :]
    return (len(timed) - 1) * batch / (timed[-1] - timed[0])


class _StepTimer(keras.callbacks.Callback):
    """Per-step loss and end time. Keras reports the running mean of the epoch's loss,
    so the step's own loss is recovered as ``k * mean_k - (k - 1) * mean_(k-1)``."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []
        self.ends: list[float] = []
        self._mean = 0.0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        mean = float((logs or {})["loss"])
        self.losses.append((batch + 1) * mean - batch * self._mean)
        self._mean = mean
        self.ends.append(time.perf_counter())


def _torch_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.is_file():
        print(f"creating {venv} with torch=={TORCH_VERSION} (no TensorFlow) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", f"torch=={TORCH_VERSION}", "numpy"]
        subprocess.run(pip, check=True)
    return python


def _theirs(python: Path, images_file: Path, labels_file: Path, steps: int, batch: int) -> dict:
    args = [str(python), str(TORCH_SCRIPT), str(images_file), str(labels_file)]
    args += [str(steps), str(batch), str(WARMUP_STEPS)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"PyTorch side failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--torch-venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args()
    print(f"hardware: {hardware_line()}", flush=True)
    python = _torch_python(args.torch_venv)
    split = decode_split(_samples(), base_size_for(INPUT), "decoding imagenet-sample-100")
    with tempfile.TemporaryDirectory() as tmp:
        images_file, labels_file = Path(tmp) / "images.npy", Path(tmp) / "labels.npy"
        np.save(images_file, split.images)
        np.save(labels_file, split.labels)
        print(f"{len(split)} images, batch {args.batch}, {args.steps} steps each", flush=True)
        ours = _ours(images_file, split.labels, args.steps, args.batch)
        theirs = _theirs(python, images_file, labels_file, args.steps, args.batch)
    _report(ours, theirs)


def _report(ours: dict, theirs: dict) -> None:
    print(f"\nalexnet parameters (tf_keras): {ours['params']:,}  (PyTorch: {theirs['params']:,})")
    print(f"{'framework':<28} {'img/s':>8} {'loss, first 5 steps':>22} {'last 5 steps':>14}")
    for name, r in (("alexedge (tf_keras 2.21)", ours), (f"PyTorch {theirs['version']}", theirs)):
        first, last = _mean(r["losses"][:5]), _mean(r["losses"][-5:])
        print(f"{name:<28} {r['img_s']:>8.1f} {first:>22.3f} {last:>14.3f}")
    print(f"\nthroughput ratio ours/PyTorch: {ours['img_s'] / theirs['img_s']:.2f}")


if __name__ == "__main__":
    main()
