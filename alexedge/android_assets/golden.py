"""``golden/``: validation images with the answers the edge runtime gives for them.

The most common complaint about shipped TFLite classifiers is that the app disagrees
with Python, nearly always because the app preprocesses differently (squashed
instead of centre-cropped, BGR, normalized twice). An app's instrumented test
classifies these files with its own code and compares with ``golden.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.atomic import write_bytes, write_json
from alexedge.data.dataset import Sample
from alexedge.edge_runtime import Classifier
from alexedge.errors import DataError
from alexedge.preprocess import base_size_for

__all__ = ["GOLDEN_JSON", "GoldenImage", "pick_golden", "write_golden"]

GOLDEN_JSON = "golden.json"
_TOP = 5
# Scores are float32 (or multiples of 1/256): six decimals keep every digit that matters.
_DECIMALS = 6


@dataclass(frozen=True)
class GoldenImage:
    path: Path
    true_label: str


def pick_golden(
    samples: Sequence[Sample], class_names: Sequence[str], count: int
) -> list[GoldenImage]:
    """Up to ``count`` images taking classes in turn, so the set is not all one class."""
    if not samples:
        raise DataError("the run's dataset has no validation images to copy into golden/")
    queues: dict[int, list[Sample]] = {}
    for sample in samples:
        queues.setdefault(sample.label, []).append(sample)
    picked: list[Sample] = []
    while len(picked) < min(count, len(samples)):
        for label in sorted(queues):
            if queues[label] and len(picked) < count:
                picked.append(queues[label].pop(0))
    return [GoldenImage(Path(s.path), class_names[s.label]) for s in picked]


def write_golden(folder: Path, model_path: Path, images: Sequence[GoldenImage]) -> dict[str, Any]:
    """Copy ``images`` into ``folder`` and write their expected top-5 as ``golden.json``.

    The answers come from ``Classifier`` on ``model_path`` (the bundled model, with
    its labels), exactly as ``alexedge classify`` would print them.
    """
    classifier = Classifier(model_path)
    size = classifier.input_size
    entries = []
    for i, image in enumerate(images):
        name = f"{i:02d}{image.path.suffix.lower()}"
        write_bytes(folder / name, image.path.read_bytes())
        top = classifier.classify(folder / name, top=min(_TOP, classifier.num_classes))
        entries.append(
            {
                "file": name,
                "true_label": image.true_label,
                "top5": [
                    {"label": p.label, "index": p.index, "score": round(p.score, _DECIMALS)}
                    for p in top
                ],
            }
        )
    doc = {
        "model": f"../{model_path.name}",
        "preprocessing": (
            f"RGB; resize the shorter side to {base_size_for(size)} (bilinear), take the centre "
            f"{size}x{size} crop, feed raw 0-255 pixel values"
        ),
        "expect": (
            "the same top-1 label for every image; scores within a few hundredths when the app "
            "resizes with another filter"
        ),
        "images": entries,
    }
    write_json(folder / GOLDEN_JSON, doc)
    return doc
