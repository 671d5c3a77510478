"""``features.npz``: one vector per image with its label and file, the unit of transfer work.

``alexedge embed`` writes it (from a Keras model or an embedder ``.tflite``), and the
linear probe and the clusters read it, so a probe can run on vectors computed on a phone
runtime as well as on the training machine's. numpy only: the edge runtime writes it too.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexedge.atomic import write_bytes
from alexedge.errors import DataError

__all__ = ["UNKNOWN_LABEL", "Features", "read_features", "write_features"]

# The label of an image given as a plain file: no folder layout said its class.
UNKNOWN_LABEL = -1
_ARRAYS = ("features", "labels", "files", "class_names", "layer", "source")


@dataclass(frozen=True)
class Features:
    """Vectors (N, D) float32 of ``layer`` of ``source``, label ``-1`` where unknown."""

    features: np.ndarray
    labels: np.ndarray
    files: tuple[str, ...]
    class_names: tuple[str, ...]
    layer: str
    source: str

    def __post_init__(self) -> None:
        vectors = np.asarray(self.features, dtype=np.float32)
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if vectors.ndim != 2:
            raise ValueError(f"features must be (N, D), got shape {vectors.shape}")
        if not len(vectors) == len(labels) == len(self.files):
            raise ValueError(
                f"{len(vectors)} vectors, {len(labels)} labels and {len(self.files)} files"
            )
        if labels.size and (labels.min() < UNKNOWN_LABEL or labels.max() >= len(self.class_names)):
            raise ValueError(
                f"labels must be -1 or class indices below {len(self.class_names)}, "
                f"got {labels.min()}..{labels.max()}"
            )
        object.__setattr__(self, "features", vectors)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "files", tuple(str(f) for f in self.files))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    @property
    def labelled(self) -> np.ndarray:
        """Mask of the rows whose class is known."""
        return self.labels != UNKNOWN_LABEL


def write_features(path: str | os.PathLike[str], features: Features) -> Path:
    """Write ``features`` to ``path`` atomically (the name is kept as given)."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        features=features.features,
        labels=features.labels,
        files=np.array(features.files, dtype=str),
        class_names=np.array(features.class_names, dtype=str),
        layer=np.array(features.layer),
        source=np.array(features.source),
    )
    return write_bytes(path, buffer.getvalue())


def read_features(path: str | os.PathLike[str]) -> Features:
    """A ``features.npz`` written by ``alexedge embed``; ``DataError`` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such features file; write one with `alexedge embed`")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in _ARRAYS if name not in data.files]
            if missing:
                raise DataError(
                    f"{path}: not an alexedge features file (no {', '.join(missing)}); "
                    "write one with `alexedge embed`"
                )
            arrays = {name: data[name] for name in _ARRAYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from e
    try:
        return Features(
            features=arrays["features"],
            labels=arrays["labels"],
            files=tuple(arrays["files"].tolist()),
            class_names=tuple(arrays["class_names"].tolist()),
            layer=str(arrays["layer"]),
            source=str(arrays["source"]),
        )
    except ValueError as e:
        raise DataError(f"{path}: inconsistent features file ({e})") from e
