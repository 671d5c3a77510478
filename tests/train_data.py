"""Tiny, learnable data and configs shared by the tests.

In memory, each class tints its images with one colour channel; on disk, each class is a
colour of square (``write_colour_dataset``, also the ``colour_dataset`` fixture). A tiny
model learns both in a few steps: a loss that does not fall is a bug, not bad luck.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import typer

from alexedge.data.decode import DecodedSplit
from alexedge.train.config import MODEL_OPTION_FIELDS, TrainConfig

__all__ = [
    "TINY_REDUCED",
    "assert_one_line_error",
    "color_images",
    "color_split",
    "tiny_config",
    "train_app",
    "write_colour_dataset",
]

# alexnet-reduced's test-sized options (its ModelSpec.tiny_options) at 32x32.
TINY_REDUCED = {"width": 1 / 16, "fc_units": 16}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def color_images(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 90, (len(labels), size, size, 3)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[..., int(label) % 3] += np.uint8(120 + 30 * (int(label) // 3))
    return images


def color_split(n: int, classes: int = 3, size: int = 37, seed: int = 0) -> DecodedSplit:
    """``n`` decoded base images, labels cycling through ``classes``."""
    labels = (np.arange(n) % classes).astype(np.int32)
    paths = tuple(f"img{i}.png" for i in range(n))
    return DecodedSplit(color_images(labels, size, seed), labels, paths, ())


_PALETTE = np.array([[200, 40, 40], [40, 180, 40], [40, 60, 200], [200, 200, 60]], np.float32)


def write_colour_dataset(
    root: Path,
    classes: int = 3,
    per_class: int = 12,
    val_per_class: int = 4,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """A folder-layout dataset (``root/train/class_<i>/*.png``, ``root/val/...``) whose
    class is the colour of a noisy square on a grey, noisy background: a tiny net learns
    it in a few steps, so agreement floors and falling losses mean something on it."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("val", val_per_class)):
        for c in range(classes):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                image = rng.normal(120, 30, (size, size, 3))
                side = int(rng.integers(size // 2, size))
                top, left = rng.integers(0, size - side + 1, 2)
                image[top : top + side, left : left + side] = _PALETTE[c] + rng.normal(
                    0, 25, (side, side, 3)
                )
                pixels = np.clip(image, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return root


def tiny_config(**changes: object) -> TrainConfig:
    """The tiny alexnet-reduced recipe; ``width``, ``fc_units``, ``dropout`` and ``towers``
    given here go into ``model_options`` as ``alexedge train``'s flags do."""
    options = dict(TINY_REDUCED)
    options.update({k: changes.pop(k) for k in MODEL_OPTION_FIELDS if k in changes})
    values: dict[str, object] = {
        "model": "alexnet-reduced",
        "input_size": 32,
        "epochs": 2,
        "batch_size": 8,
        "model_options": options,
    }
    values.update(changes)
    return TrainConfig(**values)  # type: ignore[arg-type]


def train_app() -> typer.Typer:
    """A fresh app with only the training commands (independent of cli.py's wiring)."""
    from alexedge.cli.train import register

    app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True)
    register(app)
    return app


def assert_one_line_error(result, needle: str) -> None:
    """A ``CliRunner`` result that failed with exit 2 and one ``error:`` line, no traceback."""
    text = _ANSI.sub("", result.output)
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2, text
    assert len(errors) == 1 and needle in errors[0], text
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), text
