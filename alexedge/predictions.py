"""``RUN/predictions.npz``: per-image top-1 of every model, the input of damage and confusion.

Part of the run-folder contract (``alexedge.run``), written by ``alexedge compress``
and read by ``alexedge report``:

- ``labels``: int64 ``(N,)``, the true class of each validation image, in the order of
  the run's (decoded) validation split;
- ``keras:<source>``: int64 ``(N,)``, top-1 of each Keras model (``keras:float``,
  ``keras:pruned75``, ...), the ``source`` names of ``variants.json``;
- ``variant:<name>``: int64 ``(N,)``, top-1 of each TFLite variant (``variant:int8``).

Per-image predictions rather than per-class scores, so later reports can compute
anything (confusion, damage, agreement) without running a model again.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alexedge.atomic import write_bytes
from alexedge.errors import DataError
from alexedge.run import PREDICTIONS

__all__ = ["PREDICTIONS", "Predictions", "read_predictions", "write_predictions"]

_KERAS = "keras:"
_VARIANT = "variant:"


@dataclass(frozen=True)
class Predictions:
    labels: np.ndarray
    keras: dict[str, np.ndarray] = field(default_factory=dict)
    variants: dict[str, np.ndarray] = field(default_factory=dict)


def write_predictions(
    run_dir: Path,
    labels: np.ndarray,
    keras: Mapping[str, np.ndarray],
    variants: Mapping[str, np.ndarray],
) -> Path:
    """Write ``run_dir/predictions.npz`` atomically; arrays are stored as int64."""
    arrays = {"labels": np.asarray(labels, np.int64)}
    arrays |= {f"{_KERAS}{k}": np.asarray(v, np.int64) for k, v in keras.items()}
    arrays |= {f"{_VARIANT}{k}": np.asarray(v, np.int64) for k, v in variants.items()}
    _check(arrays, run_dir / PREDICTIONS, num_classes=None)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_bytes(run_dir / PREDICTIONS, buffer.getvalue())


def read_predictions(path: Path, num_classes: int | None = None) -> Predictions:
    """Load and check the file; every problem is one ``DataError`` naming it.

    ``num_classes``: when given, every index must be below it.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz ({e}); run `alexedge compress` again") from e
    _check(arrays, path, num_classes)
    return Predictions(
        arrays["labels"],
        {k[len(_KERAS) :]: v for k, v in arrays.items() if k.startswith(_KERAS)},
        {k[len(_VARIANT) :]: v for k, v in arrays.items() if k.startswith(_VARIANT)},
    )


def _check(arrays: Mapping[str, np.ndarray], path: Path, num_classes: int | None) -> None:
    problems = [] if "labels" in arrays else ["no 'labels' array"]
    unknown = [k for k in arrays if k != "labels" and not k.startswith((_KERAS, _VARIANT))]
    problems += [f"unknown key {k!r} (expected keras:<source> or variant:<name>)" for k in unknown]
    n = len(arrays["labels"]) if "labels" in arrays and arrays["labels"].ndim == 1 else None
    for key, a in arrays.items():
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            problems.append(f"{key!r} is {a.dtype} {a.shape}, not a 1-D integer array")
        elif n is not None and len(a) != n:
            problems.append(f"{key!r} has {len(a)} entries, 'labels' has {n}")
        elif len(a) and (a.min() < 0 or (num_classes is not None and a.max() >= num_classes)):
            bound = "the class count" if num_classes is None else num_classes
            problems.append(f"{key!r} holds class indices outside [0, {bound})")
    if problems:
        raise DataError(
            f"{path}: " + "; ".join(problems) + "; run `alexedge compress` again to rewrite it"
        )
