"""Honest selection: the images that choose the winner are not the images that report it.

A search that picks the best of many candidates on the validation images and then
reports the winner's accuracy on the same images reports the luckiest draw, not the
model. So the validation split is cut once, by a fixed seeded rule, into a *selection*
half (every candidate is measured there and the limits are checked there) and a
*reporting* half (only the winner and the float model are measured there). The cut is
stratified, half of each class, so the per-class limit sees every class.

How far to trust a 1-point decision: on n images one image is 100/n points, and a
top-1 share p has a binomial standard error of sqrt(p(1 - p)/n). What separates two
models on the same images is the images they disagree on (paired flips): the float
model right and the candidate wrong, or the reverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SPLIT_RULE",
    "Flips",
    "SelectionSplit",
    "binomial_se_points",
    "class_losses",
    "paired_flips",
    "split_selection",
    "worst_class",
]

SPLIT_RULE = (
    "per class, numpy default_rng(seed).permutation of its validation images (classes in "
    "label order, one generator); the first floor(n/2) select, the rest report"
)


@dataclass(frozen=True)
class SelectionSplit:
    """Indices into the validation split; ``selection`` and ``reporting`` are disjoint."""

    selection: np.ndarray
    reporting: np.ndarray
    seed: int
    rule: str = SPLIT_RULE


def split_selection(labels: np.ndarray, seed: int) -> SelectionSplit:
    """Half of each class's validation images (rounded down) select; the rest report."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    selection, reporting = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        half = len(members) // 2
        selection.append(members[:half])
        reporting.append(members[half:])
    return SelectionSplit(_sorted(selection), _sorted(reporting), seed)


def _sorted(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


@dataclass(frozen=True)
class Flips:
    """Images whose correctness differs between a reference model and a candidate."""

    lost: int  # the reference right, the candidate wrong
    gained: int  # the reference wrong, the candidate right
    images: int

    @property
    def loss_points(self) -> float:
        return 100.0 * (self.lost - self.gained) / self.images if self.images else 0.0

    @property
    def se_points(self) -> float:
        """Standard error of ``loss_points`` from the paired flips (McNemar's variance)."""
        if not self.images:
            return 0.0
        n, d = self.images, self.lost - self.gained
        return 100.0 * math.sqrt(max(0.0, self.lost + self.gained - d * d / n)) / n

    def to_dict(self) -> dict[str, float | int]:
        return {
            "lost": self.lost,
            "gained": self.gained,
            "images": self.images,
            "loss_points": round(self.loss_points, 4),
            "se_points": round(self.se_points, 4),
        }


def paired_flips(reference_correct: np.ndarray, candidate_correct: np.ndarray) -> Flips:
    ref = np.asarray(reference_correct, bool)
    cand = np.asarray(candidate_correct, bool)
    return Flips(int(np.sum(ref & ~cand)), int(np.sum(~ref & cand)), len(ref))


def binomial_se_points(top1: float, images: int) -> float:
    """Binomial standard error, in points, of a top-1 share measured on ``images``."""
    return 100.0 * math.sqrt(top1 * (1 - top1) / images) if images else float("inf")


def class_losses(
    labels: np.ndarray,
    reference_correct: np.ndarray,
    candidate_correct: np.ndarray,
    num_classes: int,
) -> np.ndarray:
    """Top-1 points each class loses against the reference (0 for a class with no image)."""
    labels = np.asarray(labels)
    losses = np.zeros(num_classes)
    for c in range(num_classes):
        members = labels == c
        if members.any():
            ref = np.mean(np.asarray(reference_correct)[members])
            cand = np.mean(np.asarray(candidate_correct)[members])
            losses[c] = 100.0 * (ref - cand)
    return losses


def worst_class(
    labels: np.ndarray,
    reference_correct: np.ndarray,
    candidate_correct: np.ndarray,
    num_classes: int,
) -> tuple[int, float]:
    """The class that loses the most top-1 points against the reference, and those points
    (the lowest label on a tie): what the per-class limit is checked on."""
    losses = class_losses(labels, reference_correct, candidate_correct, num_classes)
    worst = int(np.argmax(losses))
    return worst, float(losses[worst])
