"""PyTorch side of ``bench_train_alexnet_torch.py``: the paper's AlexNet, trained for N steps.

Runs in a virtual environment with torch and numpy only (never beside TensorFlow).
Arguments: images.npy (N, 259, 259, 3 uint8 base images), labels.npy, steps, batch,
warm-up steps. Prints one JSON line: version, params, per-step losses, img/s.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

INPUT = 227
CLASSES = 1000


def alexnet(mean: np.ndarray, std: np.ndarray) -> nn.Module:
    """Krizhevsky et al. 2012 as in alexedge's ``alexnet``: two towers as groups=2.

    PyTorch's LRN divides alpha by the window size n, the paper's does not: alpha
    5e-4 / 5 = the paper's 1e-4 per squared activation, with k = 2.
    """

    def lrn() -> nn.Module:
        return nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)

    class Normalize(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x - self.mean) / self.std

    return nn.Sequential(
        Normalize(),
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, CLASSES),
    )  # fmt: skip


def batches(images: np.ndarray, labels: np.ndarray, batch: int, rng: np.random.Generator):
    """Random 227 crops of the base images and horizontal flips, NCHW float32."""
    base = images.shape[1]
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(order) - batch + 1, batch):
            idx = order[start : start + batch]
            top, left = rng.integers(0, base - INPUT + 1, 2)
            crops = images[idx, top : top + INPUT, left : left + INPUT].astype(np.float32)
            if rng.random() < 0.5:
                crops = crops[:, :, ::-1]
            x = torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2)))
            yield x, torch.from_numpy(labels[idx].astype(np.int64))


def main() -> None:
    images_file, labels_file, steps, batch, warmup = sys.argv[1:6]
    steps, batch, warmup = int(steps), int(batch), int(warmup)
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    images, labels = np.load(images_file), np.load(labels_file)
    pixels = images.reshape(-1, 3).astype(np.float64)
    model = alexnet(pixels.mean(axis=0), pixels.std(axis=0))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=0.01,
        momentum=0.9,
        nesterov=True,
    )
    loss_fn = nn.CrossEntropyLoss()
    data = batches(images, labels, batch, np.random.default_rng(0))
    losses, ends = [], []
    model.train()
    for _ in range(steps):
        x, y = next(data)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
        ends.append(time.perf_counter())
    timed = ends[warmup - 1 :]
    params = sum(p.numel() for p in model.parameters())
    img_s = (len(timed) - 1) * batch / (timed[-1] - timed[0])
    print(
        json.dumps(
            {"version": torch.__version__, "params": params, "losses": losses, "img_s": img_s}
        )
    )


if __name__ == "__main__":
    main()
