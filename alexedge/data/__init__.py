"""Datasets on disk: discovery of image folders, decoding, the built-in synthetic dataset.

Nothing here imports TensorFlow; the tf.data input pipeline lives in
``alexedge.train.input_pipeline``. Names are imported on first use (PEP 562), so the
edge runtime, which reads image files through ``alexedge.data.files``, does not load
the synthetic-dataset generator or the downloader with this package.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CLASS_NAMES",
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "CheckReport",
    "ImageDataset",
    "Sample",
    "SynthConfig",
    "check_images",
    "format_check_report",
    "is_image_file",
    "list_images",
    "load_dataset",
    "synthesize_dataset",
]

_HOME = {
    "CLASS_NAMES": "synth",
    "IMAGE_SUFFIXES": "files",
    "LAYOUTS": "layouts",
    "CheckReport": "check",
    "ImageDataset": "dataset",
    "Sample": "dataset",
    "SynthConfig": "synth",
    "check_images": "check",
    "format_check_report": "check",
    "is_image_file": "files",
    "list_images": "files",
    "load_dataset": "dataset",
    "synthesize_dataset": "synth",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'alexedge.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"alexedge.data.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
