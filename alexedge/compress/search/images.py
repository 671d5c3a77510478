"""The search's two sets of images, as model input, with the float model's answers on them.

``selection`` chooses (every candidate is measured there), ``reporting`` reports (only
the selected file and the float32 reference are measured there). By default they are the
two halves of ``selection.split_selection``; with ``--selection-data DIR`` the images of
``DIR/<class>/`` select and the whole validation split reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.compress.family import predict_probs
from alexedge.compress.inputs import RunInputs
from alexedge.compress.search.selection import (
    binomial_se_points,
    paired_flips,
    split_selection,
    worst_class,
)
from alexedge.data.files import list_images
from alexedge.errors import DataError
from alexedge.metrics import ranked_classes
from alexedge.preprocess import center_crops, eval_transform

__all__ = ["Half", "SearchImages", "search_images"]


@dataclass(frozen=True)
class Half:
    """Model-input crops, labels and file names, with the float Keras model's probabilities."""

    crops: np.ndarray
    labels: np.ndarray
    files: tuple[str, ...]
    float_probs: np.ndarray

    @property
    def float_correct(self) -> np.ndarray:
        return ranked_classes(self.float_probs, 1)[:, 0] == self.labels

    @property
    def float_top1(self) -> float:
        return float(np.mean(self.float_correct)) if len(self.labels) else 0.0

    @property
    def float_scores(self) -> tuple[np.ndarray, np.ndarray]:
        return self.float_probs, self.labels


@dataclass(frozen=True)
class SearchImages:
    selection: Half
    reporting: Half
    class_names: tuple[str, ...]
    source: str  # "validation split" or the --selection-data folder
    seed: int | None  # the split's seed; None with --selection-data
    rule: str | None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self, max_loss: float) -> str:
        n = len(self.selection.labels)
        return (
            f"search: {n} images select ({self.source}), {len(self.reporting.labels)} report; "
            f"on {n} images one image is {100 / max(1, n):.2f} pt, and a top-1 at the limit "
            f"(float - {max_loss:g} pt) has a binomial standard error of "
            f"{self._se(max_loss):.2f} pt"
        )

    def _se(self, max_loss: float) -> float:
        """Binomial standard error of a top-1 at the limit: how sharp a decision on
        ``max_loss`` points can be on these images."""
        at_limit = min(1.0, max(0.0, self.selection.float_top1 - max_loss / 100))
        return binomial_se_points(at_limit, len(self.selection.labels))

    def selection_record(self, max_loss: float) -> dict[str, Any]:
        n = len(self.selection.labels)
        return {
            "source": self.source,
            "images": n,
            "seed": self.seed,
            "rule": self.rule,
            "files": list(self.selection.files),
            "float_top1": round(self.selection.float_top1, 6),
            "points_per_image": round(100 / max(1, n), 4),
            "binomial_se_points": round(self._se(max_loss), 4),
        }

    def reporting_record(
        self, selected: str | None, reported: dict[str, np.ndarray]
    ) -> dict[str, Any]:
        """The reporting images, and the selected file measured on them with its paired
        flips against the float model."""
        half = self.reporting
        record: dict[str, Any] = {
            "source": "validation split" if self.seed is None else "the other half",
            "images": len(half.labels),
            "float_top1": round(half.float_top1, 6),
        }
        if selected is None or selected not in reported:
            return record
        correct = reported[selected] == half.labels
        worst, worst_loss = worst_class(half.labels, half.float_correct, correct, self.num_classes)
        flips = paired_flips(half.float_correct, correct)
        return {
            **record,
            "top1": round(float(np.mean(correct)), 6),
            "loss": round(flips.loss_points, 4),
            "worst_class": self.class_names[worst],
            "worst_class_loss": round(worst_loss, 4),
            "flips": flips.to_dict(),
        }


def search_images(inputs: RunInputs, selection_data: Path | None, seed: int) -> SearchImages:
    """The selection and reporting images of the run, with the float model's answers."""
    size = inputs.train_config.input_size
    val = inputs.val_split
    crops = center_crops(val.images, size)
    files = tuple(_relative(p, inputs.dataset.root) for p in val.paths)
    probs = predict_probs(inputs.model, crops)
    whole = Half(crops, np.asarray(val.labels), files, probs)
    names = tuple(inputs.dataset.class_names)
    if selection_data is None:
        split = split_selection(val.labels, seed)
        return SearchImages(
            _subset(whole, split.selection),
            _subset(whole, split.reporting),
            names,
            "validation split, half of each class",
            seed,
            split.rule,
        )
    chosen = _folder_images(selection_data, inputs.dataset.class_ids, names, size)
    selection = Half(*chosen, predict_probs(inputs.model, chosen[0]))
    return SearchImages(selection, whole, names, str(selection_data), None, None)


def _subset(half: Half, index: np.ndarray) -> Half:
    files = tuple(half.files[i] for i in index)
    return Half(half.crops[index], half.labels[index], files, half.float_probs[index])


def _relative(path: str, root: str) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return path


def _folder_images(
    folder: Path, class_ids: tuple[str, ...], names: tuple[str, ...], size: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``folder/<class id or name>/*`` through the evaluation preprocessing."""
    if not folder.is_dir():
        raise DataError(f"--selection-data {folder}: no such folder")
    index = {**{n: i for i, n in enumerate(names)}, **{c: i for i, c in enumerate(class_ids)}}
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in subfolders if p.name not in index]
    if unknown or not subfolders:
        raise DataError(
            f"--selection-data {folder}: needs one folder per class of the run, named as its "
            f"classes ({', '.join(class_ids[:5])}...); unknown: {', '.join(unknown) or 'none'}"
        )
    crops, labels, files = [], [], []
    for sub in subfolders:
        for path in list_images(sub):
            crops.append(eval_transform(str(path), size))
            labels.append(index[sub.name])
            files.append(str(path.relative_to(folder)))
    if not crops:
        raise DataError(f"--selection-data {folder}: no image files in its class folders")
    return np.stack(crops), np.asarray(labels, np.int32), tuple(files)
