"""PCA + k-means clusters of features, their scores, their file and their report section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alexedge.errors import ConfigError, DataError
from alexedge.transfer import ClusterConfig, Features, cluster_features, read_clusters
from alexedge.transfer.clusters import CLUSTERS_JSON, purity, write_clusters


def _blobs(classes: int = 3, per_class: int = 20, dims: int = 8, spread: float = 0.3, seed=0):
    """Well-separated Gaussian blobs, one per class, in ``dims`` dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (classes, dims))
    labels = np.repeat(np.arange(classes), per_class)
    vectors = centres[labels] + rng.normal(0, spread, (len(labels), dims))
    names = tuple(f"c{i}" for i in range(classes))
    files = tuple(f"{i}.png" for i in range(len(labels)))
    return Features(vectors, labels, files, names, "fc7", "model.keras")


def test_separated_classes_are_recovered_and_shuffled_labels_score_chance() -> None:
    features = _blobs()
    result = cluster_features(features, ClusterConfig(pca_dims=5))
    assert result.clusters == 3 and result.pca_dims == 5 and result.images == 60
    assert result.ami == pytest.approx(1.0) and result.ari == pytest.approx(1.0)
    assert result.purity == 1.0
    assert result.points.shape == (60, 2) and 0 < result.explained_variance <= 1
    shuffled = np.random.default_rng(1).permutation(features.labels)
    chance = cluster_features(
        Features(features.features, shuffled, features.files, features.class_names, "fc7", "m")
    )
    assert abs(chance.ami) < 0.1 and abs(chance.ari) < 0.1 and chance.purity < 0.6


def test_seeded_and_k_from_the_labels_or_given() -> None:
    features = _blobs(classes=4, spread=3.0)
    first, second = cluster_features(features), cluster_features(features)
    np.testing.assert_array_equal(first.assignments, second.assignments)
    assert first.clusters == 4
    assert cluster_features(features, ClusterConfig(clusters=2)).clusters == 2
    unlabelled = Features(features.features, [-1] * 80, features.files, (), "fc7", "m")
    with pytest.raises(DataError, match="--clusters-k"):
        cluster_features(unlabelled)
    result = cluster_features(unlabelled, ClusterConfig(clusters=4))
    assert result.ami is None and result.purity is None and result.clusters == 4
    with pytest.raises(ConfigError):
        ClusterConfig(pca_dims=1)


def test_purity_by_hand() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    assignments = np.array([5, 5, 5, 7, 7, 7])  # cluster 5: 0,0,1 -> 2; cluster 7: 1,1,2 -> 2
    assert purity(labels, assignments) == pytest.approx(4 / 6)


def test_written_and_read_back(tmp_path: Path) -> None:
    result = cluster_features(_blobs())
    json_path, points_path = write_clusters(tmp_path, result)
    assert points_path.name == "clusters.npz"
    doc = json.loads(json_path.read_text("utf-8"))
    assert doc["ami"] == pytest.approx(result.ami) and doc["class_names"] == ["c0", "c1", "c2"]
    back = read_clusters(tmp_path)
    assert back.scores() == result.scores()
    np.testing.assert_array_equal(back.points, result.points)
    np.testing.assert_array_equal(back.assignments, result.assignments)
    assert read_clusters(tmp_path / "nothing") is None
    (tmp_path / CLUSTERS_JSON).write_text("{not json", "utf-8")
    with pytest.raises(DataError, match=CLUSTERS_JSON):
        read_clusters(tmp_path)


def test_report_shows_the_clusters_of_a_run(tmp_path: Path) -> None:
    from alexedge.report import write_report

    run = tmp_path / "run"
    run.mkdir()
    (run / "history.csv").write_text("epoch,loss\n1,0.5\n", "utf-8")
    result = write_report(run)
    assert "Clusters" not in result.report.read_text("utf-8")
    write_clusters(run, cluster_features(_blobs()))
    result = write_report(run)
    text = result.report.read_text("utf-8")
    assert "## Clusters of fc7 features" in text
    assert "| 1.000 | 1.000 | 100.0% |" in text
    assert result.figures["clusters"] == "clusters.png" and (run / "clusters.png").is_file()
    assert "![Features by class on two principal components](clusters.png)" in text
    doc = json.loads((run / "report.json").read_text("utf-8"))
    assert doc["clusters"]["purity"] == 1.0


def test_vectors_are_compared_by_direction() -> None:
    """Cosine geometry: an image's vector scaled up (a brighter, stronger response) stays
    in its cluster, and the scores do not move."""
    features = _blobs(spread=2.0)
    scales = np.random.default_rng(2).uniform(0.2, 50, (len(features.labels), 1))
    scaled = Features(
        features.features * scales, features.labels, features.files, features.class_names, "a", "m"
    )
    plain, stretched = cluster_features(features), cluster_features(scaled)
    assert stretched.ami == pytest.approx(plain.ami) and stretched.l2_normalized
    raw = cluster_features(scaled, ClusterConfig(l2_normalize=False))
    assert raw.ami < plain.ami - 0.1 and not raw.l2_normalized
