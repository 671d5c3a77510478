"""The linear probe on frozen features: what it scores, what it refuses, its command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alexedge.cli import app
from alexedge.errors import DataError
from alexedge.transfer import Features, ProbeConfig, linear_probe, write_features


def _split(n: int, seed: int, signal: float = 3.0, classes: int = 6, names=None) -> Features:
    """Classes that differ along a few of 10 dimensions, ``signal`` standard deviations apart."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    means = np.random.default_rng(99).normal(0, signal, (classes, 10))
    vectors = means[labels] + rng.normal(0, 1, (n, 10))
    names = names or tuple(f"c{i}" for i in range(classes))
    return Features(vectors, labels, tuple(f"{i}.png" for i in range(n)), names, "fc7", "m")


def test_probe_scores_a_separable_task_high_and_noise_at_chance() -> None:
    result = linear_probe(_split(120, 0), _split(60, 1))
    assert result.top1 > 0.9 and result.top5 == 1.0 and result.converged
    assert (result.train_images, result.val_images, result.classes, result.dimensions) == (
        120,
        60,
        6,
        10,
    )
    noise = linear_probe(_split(120, 0, signal=0.0), _split(600, 1, signal=0.0))
    assert noise.top1 < 0.3  # chance is 1/6
    assert noise.top5 < 1.0  # top-5 of 6 classes misses about one image in six


def test_probe_uses_the_project_top_k() -> None:
    # Two classes only: top-5 is capped at the class count, as every alexedge top-5 is.
    result = linear_probe(_split(40, 0, classes=2), _split(20, 1, classes=2))
    assert result.top5 == 1.0


def test_probe_refuses_what_it_cannot_measure() -> None:
    train = _split(60, 0)
    unlabelled = Features(train.features, [-1] * 60, train.files, train.class_names, "fc7", "m")
    with pytest.raises(DataError, match="unlabelled"):
        linear_probe(unlabelled, train)
    other = _split(30, 1, names=tuple("abcdef"))
    with pytest.raises(DataError, match="different classes"):
        linear_probe(train, other)
    conv = Features(train.features[:, :4], train.labels, train.files, train.class_names, "c", "m")
    with pytest.raises(DataError, match="embed both alike"):
        linear_probe(train, conv)


def test_probe_command_writes_json(tmp_path: Path) -> None:
    write_features(tmp_path / "train.npz", _split(120, 0))
    write_features(tmp_path / "val.npz", _split(60, 1))
    result = CliRunner().invoke(
        app, ["probe", str(tmp_path / "train.npz"), str(tmp_path / "val.npz"), "--c", "0.5"]
    )
    assert result.exit_code == 0, result.output
    assert "linear probe on fc7 (10 values, 120 training images, 6 classes): top-1" in result.output
    doc = json.loads((tmp_path / "probe.json").read_text("utf-8"))
    assert doc["config"] == {"c": 0.5, "max_iter": 1000, "seed": 0}
    assert doc["top1"] == pytest.approx(
        linear_probe(_split(120, 0), _split(60, 1), ProbeConfig(c=0.5)).top1
    )
    bad = CliRunner().invoke(app, ["probe", str(tmp_path / "train.npz"), str(tmp_path / "no.npz")])
    assert bad.exit_code == 2 and "no.npz: no such features file" in bad.output
