"""Everything a report shows, gathered from a run folder: numbers and arrays, no drawing.

Each section is filled independently; a section whose input is missing or cannot be
used gets a one-line note instead, so a run that never compressed (or a machine
without TensorFlow) still gets a report of what there is. Only a *damaged* input
the user must fix (``variants.json`` or ``predictions.npz`` that break their schema)
raises, as an ``AlexEdgeError`` naming the file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.errors import AlexEdgeError, ModelError
from alexedge.predictions import read_predictions
from alexedge.report.confusion_plot import MAX_CONFUSION_CLASSES, confusion_matrix
from alexedge.report.damage import ClassDamage, class_damage
from alexedge.report.history import read_curves
from alexedge.report.layers import LayerRow
from alexedge.report.rows import VariantRow, check_doc, variant_rows
from alexedge.report.saliency import Saliency
from alexedge.run import (
    BEST_MODEL,
    HISTORY,
    LABELS,
    METRICS,
    PREDICTIONS,
    VARIANTS_DIR,
    VARIANTS_JSON,
)
from alexedge.transfer.clusters import ClusterResult, read_clusters

__all__ = ["ReportContent", "collect"]

SALIENCY_IMAGES = 10


@dataclass
class ReportContent:
    run_dir: Path
    doc: dict[str, Any] | None = None
    rows: list[VariantRow] = field(default_factory=list)
    class_names: tuple[str, ...] = ()
    curves: dict[str, list[float]] | None = None
    damage: dict[str, list[ClassDamage]] = field(default_factory=dict)
    confusion: np.ndarray | None = None
    filters: tuple[str, np.ndarray] | None = None
    saliency: Saliency | None = None
    layers: list[LayerRow] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # section -> why it is missing
    init_from: dict[str, Any] | None = None  # the run a fine-tune's weights came from
    clusters: ClusterResult | None = None  # alexedge embed RUN --clusters


# A folder holding none of these is not a run: reporting on it would only say so.
_RUN_FILES = (VARIANTS_JSON, HISTORY, BEST_MODEL)


def collect(run_dir: Path) -> ReportContent:
    if not run_dir.is_dir():
        raise AlexEdgeError(f"{run_dir}: no such run folder")
    if not any((run_dir / name).is_file() for name in _RUN_FILES):
        raise AlexEdgeError(
            f"{run_dir}: not an alexedge run folder (none of {', '.join(_RUN_FILES)}); "
            "make one with alexedge train or alexedge pipeline"
        )
    content = ReportContent(run_dir)
    _variants(content)
    content.class_names = _class_names(run_dir, content.doc)
    _training(content)
    _predictions(content)
    _model_sections(content)
    content.clusters = read_clusters(run_dir)
    return content


def _variants(content: ReportContent) -> None:
    path = content.run_dir / VARIANTS_JSON
    if not path.is_file():
        content.notes["variants"] = (
            f"Compression has not run: no {VARIANTS_JSON} (run `alexedge compress RUN`)."
        )
        return
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{path}: not valid JSON ({e}); rerun `alexedge compress`") from e
    content.doc = check_doc(doc, str(path))
    content.rows = variant_rows(content.doc)
    if not content.rows:
        content.notes["variants"] = f"{VARIANTS_JSON} lists no variants."


def _class_names(run_dir: Path, doc: dict[str, Any] | None) -> tuple[str, ...]:
    path = run_dir / LABELS
    if path.is_file():
        return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    count = doc["dataset"]["classes"] if doc else 0
    return tuple(f"class {i}" for i in range(count))


def _training(content: ReportContent) -> None:
    metrics = content.run_dir / METRICS
    # A fine-tune's origin (``alexedge train --init-from``); unreadable, the section
    # goes without it.
    with contextlib.suppress(OSError, UnicodeDecodeError, ValueError, AttributeError):
        content.init_from = json.loads(metrics.read_text()).get("init_from")
    path = content.run_dir / HISTORY
    if not path.is_file():
        content.notes["training"] = f"No {HISTORY}: this run has no training history."
        return
    content.curves = read_curves(path)


def _predictions(content: ReportContent) -> None:
    path = content.run_dir / PREDICTIONS
    if not path.is_file():
        why = f"No {PREDICTIONS} (written by `alexedge compress`)"
        content.notes["damage"] = f"{why}: per-class damage needs per-image predictions."
        content.notes["confusion"] = f"{why}: the confusion matrix needs per-image predictions."
        return
    predictions = read_predictions(path, len(content.class_names) or None)
    if not content.class_names:  # no labels.txt and no variants.json: name them by index
        highest = max(
            int(a.max(initial=0)) for a in (predictions.labels, *predictions.keras.values())
        )
        content.class_names = tuple(f"class {i}" for i in range(highest + 1))
    names = content.class_names
    reference = predictions.keras.get("float")
    if reference is None:
        content.notes["damage"] = f"{path.name} has no 'keras:float' predictions to compare with."
        content.notes["confusion"] = content.notes["damage"]
        return
    order = [r.name for r in content.rows if r.name in predictions.variants]
    order += [n for n in predictions.variants if n not in order]
    content.damage = {
        n: class_damage(predictions.labels, reference, predictions.variants[n], names)
        for n in order
    }
    if not order:
        content.notes["damage"] = f"{path.name} holds no 'variant:<name>' predictions."
    if len(names) > MAX_CONFUSION_CLASSES:
        content.notes["confusion"] = (
            f"{len(names)} classes: the confusion matrix is drawn up to {MAX_CONFUSION_CLASSES}."
        )
    else:
        content.confusion = confusion_matrix(predictions.labels, reference, len(names))


def _model_sections(content: ReportContent) -> None:
    """conv1 filters, saliency and the per-layer table: they need TF and ``best.keras``."""
    path = content.run_dir / BEST_MODEL
    why = None
    if not all(importlib.util.find_spec(m) for m in ("tensorflow", "tf_keras")):
        why = "TensorFlow is not installed (pip install 'alexedge[train]')"
    elif not path.is_file():
        why = f"no {BEST_MODEL} in the run folder"
    if why:
        for section in ("filters", "saliency", "layers"):
            content.notes[section] = f"Skipped: {why}."
        return
    from alexedge.report.filters_plot import first_conv_kernel
    from alexedge.train.loop import load_model

    model = load_model(path)
    content.filters = first_conv_kernel(model)
    if content.filters is None:
        content.notes["filters"] = "The model has no convolution."
    _saliency(content, model)
    _layers(content, model)


def _saliency(content: ReportContent, model: Any) -> None:
    from alexedge.errors import DataError
    from alexedge.preprocess import eval_transform
    from alexedge.report.saliency import pick_samples, saliency_maps
    from alexedge.run import reload_dataset

    try:
        samples = pick_samples(reload_dataset(content.run_dir).val, SALIENCY_IMAGES)
    except AlexEdgeError as e:  # the data moved or the run has no dataset.json
        content.notes["saliency"] = f"Skipped: the validation images cannot be loaded ({e})."
        return
    size = int(model.input_shape[1])
    images, labels = [], []
    for s in samples:
        try:
            images.append(eval_transform(s.path, size))
            labels.append(s.label)
        except DataError:
            continue  # an unreadable file: the other images still make the figure
    if not images:
        content.notes["saliency"] = "Skipped: none of the chosen validation images is readable."
        return
    content.saliency = saliency_maps(model, np.stack(images), np.asarray(labels))


def _layers(content: ReportContent, model: Any) -> None:
    from alexedge.report.layers import layer_rows

    folder = content.run_dir / VARIANTS_DIR
    files = {}
    if content.doc:
        for v in content.doc["variants"]:
            if (folder / v["file"]).is_file():
                files[v["name"]] = (folder / v["file"]).read_bytes()
    content.layers = layer_rows(model, files)
    if content.doc and not files:
        content.notes["layers"] = f"No variant file found in {folder}: sparsity is not shown."
