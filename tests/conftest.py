"""Fixtures every test file may use: one tiny TFLite classifier and one learnable dataset.

Both are made once per session and shared, so they are read-only: a test that changes a
file copies it to its own ``tmp_path`` first. The functions behind them are plain
imports (``tflite_models``, ``train_data``) for helpers that are not tests themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tflite_models import tiny_classifier, to_tflite
from train_data import write_colour_dataset

TINY_TFLITE_SIZE = 16
TINY_TFLITE_CLASSES = 4


@pytest.fixture(scope="session")
def tiny_tflite() -> Callable[[str], bytes]:
    """``tiny_tflite(quantize)``: the bytes of one tiny classifier (16x16 RGB, 4 classes,
    softmax output, pixels rescaled by 1/255 inside the model) converted as ``quantize``
    (``tflite_models.QUANTIZE``); each variant is converted once per session."""
    model = None
    files: dict[str, bytes] = {}

    def make(quantize: str = "float32") -> bytes:
        nonlocal model
        if quantize not in files:
            model = model or tiny_classifier(TINY_TFLITE_SIZE, TINY_TFLITE_CLASSES)
            files[quantize] = to_tflite(model, quantize=quantize, calibration=8)
        return files[quantize]

    return make


@pytest.fixture(scope="session")
def colour_dataset(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``colour_dataset(classes=3, per_class=12, val_per_class=4, size=32)``: the folder of
    ``train_data.write_colour_dataset`` with those arguments, written once per session."""
    written: dict[tuple[int, int, int, int], Path] = {}

    def make(classes: int = 3, per_class: int = 12, val_per_class: int = 4, size: int = 32):
        key = (classes, per_class, val_per_class, size)
        if key not in written:
            root = tmp_path_factory.mktemp("colour")
            written[key] = write_colour_dataset(root, classes, per_class, val_per_class, size)
        return written[key]

    return make
