"""The linear probe: logistic regression on frozen features, measured like any run.

How much of a task a representation already solves is measured by the best linear
classifier on it (the standard "linear evaluation protocol"): the network is not
touched, so the score is the representation's, not a fine-tune's. scikit-learn's
``LogisticRegression`` (L-BFGS, multinomial, L2) on standardized features is the
well-kept implementation of exactly that; top-1 and top-5 come from the project's one
top-k (``alexedge.metrics``), so they compare with every other number in a report.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from alexedge.errors import ConfigError, DataError
from alexedge.metrics import top_k_scores
from alexedge.transfer.feature_file import Features

__all__ = ["ProbeConfig", "ProbeResult", "linear_probe"]


@dataclass(frozen=True)
class ProbeConfig:
    """``c``: inverse L2 strength (scikit-learn's ``C``); ``max_iter``: L-BFGS steps."""

    c: float = 1.0
    max_iter: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.c > 0:
            raise ConfigError(f"--c must be positive, got {self.c}")
        if self.max_iter < 1:
            raise ConfigError(f"--max-iter must be at least 1, got {self.max_iter}")


@dataclass(frozen=True)
class ProbeResult:
    """Validation top-1/top-5 of the probe, and what it was trained on."""

    top1: float
    top5: float
    train_top1: float
    train_images: int
    val_images: int
    classes: int
    dimensions: int
    layer: str
    source: str
    seconds: float
    converged: bool
    config: ProbeConfig

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def linear_probe(train: Features, val: Features, config: ProbeConfig | None = None) -> ProbeResult:
    """Fit on ``train``'s labelled vectors, score on ``val``'s.

    Raises:
        DataError: unlabelled vectors, fewer than two classes, vectors of different
            lengths or layers, or class lists that differ between the two files.
    """
    config = config or ProbeConfig()
    _check_pair(train, val)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = len(train.class_names)
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=config.c, max_iter=config.max_iter, random_state=config.seed),
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(train.features, train.labels)
    seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    scores = top_k_scores(_class_probs(model, val.features, classes), val.labels)
    train_top1 = top_k_scores(_class_probs(model, train.features, classes), train.labels)["top1"]
    return ProbeResult(
        top1=scores["top1"],
        top5=scores["top5"],
        train_top1=train_top1,
        train_images=len(train.labels),
        val_images=len(val.labels),
        classes=classes,
        dimensions=train.features.shape[1],
        layer=train.layer,
        source=train.source,
        seconds=seconds,
        converged=converged,
        config=config,
    )


def _class_probs(model: Any, vectors: np.ndarray, classes: int) -> np.ndarray:
    """Probabilities in class-index columns (a class absent from training scores 0)."""
    probs = np.zeros((len(vectors), classes), dtype=np.float64)
    probs[:, model.classes_] = model.predict_proba(vectors)
    return probs


def _check_pair(train: Features, val: Features) -> None:
    for name, part in (("training", train), ("validation", val)):
        if not part.labelled.all():
            raise DataError(
                f"the {name} features have {int((~part.labelled).sum())} unlabelled images; "
                "a probe needs a dataset folder's labels (alexedge embed RUN DATA)"
            )
    if train.class_names != val.class_names:
        raise DataError(
            "the training and validation features name different classes; embed both "
            "splits of one dataset (--split train and --split val)"
        )
    if len(np.unique(train.labels)) < 2:
        raise DataError("the training features hold fewer than two classes")
    if train.features.shape[1] != val.features.shape[1] or train.layer != val.layer:
        raise DataError(
            f"training vectors are {train.layer} ({train.features.shape[1]} values), "
            f"validation vectors {val.layer} ({val.features.shape[1]}); embed both alike"
        )
