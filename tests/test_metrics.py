"""Top-1 and top-5 against values counted by hand, through every path that reports them.

An "oracle" model reads which of six images it is given from the image's red level and
answers with a fixed score table, so the expected accuracy is known before anything
runs: top-1 2/6, top-5 5/6, with ties broken toward the lower class index.
Paths: the shared ``alexedge.metrics``, Keras evaluation (centre crop and 10-crop), the
edge runtime on real PNG files of the same model exported to TFLite, and a run's
recorded training history against its recorded evaluation.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tflite_models import to_tflite

from alexedge.data.dataset import Sample
from alexedge.data.decode import DecodedSplit
from alexedge.metrics import ranked_classes, top_k_accuracy, top_k_scores

LEVEL = 40  # image i is filled with red = LEVEL * i
LABELS = np.array([0, 1, 2, 3, 4, 0])
# Class scores per image, best first by construction (hand-counted rank of the label):
SCORES = np.array(
    [
        [6, 5, 4, 3, 2, 1],  # label 0 ranks 1st                       top-1 and top-5
        [4, 5, 3, 6, 2, 1],  # label 1 ranks 2nd                       top-5
        [6, 5, 2, 4, 3, 1],  # label 2 ranks 5th                       top-5
        [6, 5, 4, 1, 3, 2],  # label 3 ranks 6th                       neither
        [1, 2, 6, 3, 6, 4],  # label 4 ties class 2 for 1st; 2 wins     top-5
        [6, 2, 3, 6, 1, 4],  # label 0 ties class 3 for 1st; 0 wins     top-1 and top-5
    ],
    np.float32,
)
TOP1, TOP5 = 2 / 6, 5 / 6
SIZE = 16


def test_the_shared_definition_on_the_hand_counted_table() -> None:
    assert top_k_accuracy(SCORES, LABELS, 1) == pytest.approx(TOP1)
    assert top_k_accuracy(SCORES, LABELS, 5) == pytest.approx(TOP5)
    assert top_k_scores(SCORES, LABELS) == pytest.approx({"top1": TOP1, "top5": TOP5})
    assert ranked_classes(SCORES, 2)[4].tolist() == [2, 4]  # tie: lower index first
    assert top_k_accuracy(SCORES[:, :3], LABELS % 3, 5) == pytest.approx(
        np.mean([1, 1, 1, 1, 1, 1])  # k caps at the class count
    )


def _oracle():
    import tensorflow as tf
    import tf_keras as keras

    table = tf.constant(SCORES)
    inputs = keras.Input((SIZE, SIZE, 3))
    index = keras.layers.Lambda(
        lambda x: tf.cast(tf.round(x[:, 0, 0, 0] / LEVEL), tf.int32), name="which"
    )(inputs)
    logits = keras.layers.Lambda(lambda i: tf.gather(table, i), name="scores")(index)
    return keras.Model(inputs, keras.layers.Softmax()(logits))


def _images(size: int) -> np.ndarray:
    images = np.zeros((len(LABELS), size, size, 3), np.uint8)
    images[..., 0] = (LEVEL * np.arange(len(LABELS)))[:, None, None]
    return images


def test_keras_evaluation_centre_and_ten_crop() -> None:
    from alexedge.train.evaluate import evaluate_model

    split = DecodedSplit(_images(20), LABELS.astype(np.int32), tuple("abcdef"), ())
    metrics = evaluate_model(_oracle(), split, SIZE, ten_crop=True)
    for view in ("centre_crop", "ten_crop"):
        assert metrics[view] == pytest.approx({"top1": TOP1, "top5": TOP5}), view


def test_edge_runtime_on_files(tmp_path: Path) -> None:
    from alexedge.edge_runtime import evaluate_tflite
    from alexedge.edge_runtime.metadata import ImageInputMetadata, ModelMetadata, write_metadata

    data = to_tflite(_oracle())
    meta = ModelMetadata(name="oracle", input=ImageInputMetadata(mean=(0.0,), std=(1.0,)))
    model = tmp_path / "oracle.tflite"
    model.write_bytes(write_metadata(data, meta, {"labels.txt": b"a\nb\nc\nd\ne\nf\n"}))
    samples = []
    for i, image in enumerate(_images(SIZE)):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        samples.append(Sample(str(tmp_path / f"{i}.png"), int(LABELS[i])))
    result = evaluate_tflite(model, samples, progress=False)
    assert (result.top1, result.top5) == pytest.approx((TOP1, TOP5))
    assert result.predictions.tolist() == [0, 3, 0, 0, 2, 0]


def test_history_and_evaluation_of_a_run_agree(tmp_path: Path) -> None:
    """Keras' own metrics during training and alexedge's evaluation count alike."""
    from compress_helpers import make_trained_run

    run = make_trained_run(tmp_path, epochs=2)
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    best = max(rows, key=lambda r: float(r["val_top1"]))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["centre_crop"]["top1"] == pytest.approx(float(best["val_top1"]), abs=1e-6)
    assert metrics["centre_crop"]["top5"] == pytest.approx(float(best["val_top5"]), abs=1e-6)
