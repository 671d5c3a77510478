"""Top-1/top-5 of a Keras model on a split: centre crop and the paper's 10-crop.

The centre crop is exactly ``alexedge.preprocess.eval_transform`` of each file (what
the edge runtime feeds a phone model); the 10-crop averages the softmax over the four
corners, the centre and their mirrors (Krizhevsky et al. 2012, sec. 4.1). Both come
from one pass over the split, so ``alexedge evaluate`` streams the validation files
in chunks and needs no more memory for ImageNet than for a small dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tf_keras as keras

from alexedge.atomic import write_json
from alexedge.data.stream import Split, file_split
from alexedge.hardware import describe_hardware
from alexedge.metrics import top_k_scores
from alexedge.preprocess import base_size_for
from alexedge.run import BEST_MODEL, METRICS, reload_dataset
from alexedge.train.input_pipeline import SplitPredictions, predict_split

__all__ = ["evaluate_model", "evaluate_run", "update_metrics"]

_BATCH = 256


def evaluate_model(
    model: keras.Model,
    split: Split,
    input_size: int,
    ten_crop: bool = True,
    description: str | None = None,
) -> dict[str, dict[str, float]]:
    """``{"centre_crop": {"top1", "top5"}}``, plus ``"ten_crop"`` when asked for."""
    return _metrics(_predict(model, split, input_size, ten_crop, description))


def _predict(
    model: keras.Model, split: Split, input_size: int, ten_crop: bool, description: str | None
) -> SplitPredictions:
    return predict_split(
        lambda x: model.predict(x, batch_size=_BATCH, verbose=0),
        split,
        input_size,
        ten_crop,
        chunk_size=_BATCH,
        description=description,
    )


def _metrics(predictions: SplitPredictions) -> dict[str, dict[str, float]]:
    result = {"centre_crop": top_k_scores(predictions.centre, predictions.labels)}
    if predictions.ten_crop is not None:
        result["ten_crop"] = top_k_scores(predictions.ten_crop, predictions.labels)
    return result


def update_metrics(run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """Merge ``metrics`` into ``RUN/metrics.json`` (other keys, e.g. the pipeline's, stay)."""
    path = run_dir / METRICS
    current: dict[str, Any] = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text())
        except ValueError:
            current = {}
    current.update(metrics)
    write_json(path, current)
    return current


def evaluate_run(
    run_dir: Path, data_root: Path | None = None, ten_crop: bool = False
) -> dict[str, Any]:
    """Evaluate ``RUN/best.keras`` on the run's validation split and record it.

    The dataset is the one the run recorded (same classes, label order and split);
    ``data_root`` points at it when it has moved.

    Raises:
        DataError: not a run folder, or the data cannot be read.
        ModelError: the run has no readable best checkpoint.
    """
    from alexedge.train.loop import load_model

    dataset = reload_dataset(run_dir, data_root)
    model = load_model(run_dir / BEST_MODEL)
    input_size = int(model.input_shape[1])
    val = file_split(dataset.val, base_size_for(input_size))
    predictions = _predict(model, val, input_size, ten_crop, "scoring val images")
    metrics = _metrics(predictions)
    images = len(predictions.labels)  # the readable ones
    record = {
        **metrics,
        "split": "val",
        "images": images,
        "checkpoint": BEST_MODEL,
        "hardware": describe_hardware(),
    }
    update_metrics(run_dir, record)
    return record
