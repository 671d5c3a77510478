"""Per-class damage: which classes a compressed variant breaks while the average looks fine.

Compares, class by class on the validation split, the top-1 of a variant with the
top-1 of the float Keras model on the same images. An int8 export that costs 0.3 pt
on average can still lose half of one class; this is how a user finds it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["ClassDamage", "class_damage", "per_class_top1", "worst_classes"]


@dataclass(frozen=True)
class ClassDamage:
    index: int
    name: str
    images: int
    float_top1: float
    variant_top1: float

    @property
    def loss(self) -> float:
        """Top-1 points (as a share) the variant lost on this class; negative: it gained."""
        return self.float_top1 - self.variant_top1

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "loss": self.loss}


def per_class_top1(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(images, top1)`` per class; top-1 is 0 for a class with no images."""
    images = np.bincount(labels, minlength=num_classes)
    hits = np.bincount(labels[predictions == labels], minlength=num_classes)
    return images, np.divide(hits, images, out=np.zeros(num_classes), where=images > 0)


def class_damage(
    labels: np.ndarray,
    float_predictions: np.ndarray,
    variant_predictions: np.ndarray,
    class_names: tuple[str, ...],
) -> list[ClassDamage]:
    """Every class with validation images, the largest loss first (then more images)."""
    n = len(class_names)
    images, reference = per_class_top1(labels, float_predictions, n)
    _, variant = per_class_top1(labels, variant_predictions, n)
    rows = [
        ClassDamage(c, class_names[c], int(images[c]), float(reference[c]), float(variant[c]))
        for c in range(n)
        if images[c] > 0
    ]
    return sorted(rows, key=lambda r: (-r.loss, -r.images, r.index))


def worst_classes(damage: list[ClassDamage], limit: int = 5) -> list[ClassDamage]:
    """The classes that lost top-1, at most ``limit`` of them; empty when none lost."""
    return [r for r in damage if r.loss > 0][:limit]
