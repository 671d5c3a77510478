"""Clusters of feature vectors: PCA, then k-means, scored against the true classes.

The classic recipe for grouping images by a network's activations: PCA first (k-means'
Euclidean distances are dominated by noise in hundreds of weak directions; 50 components
keep the structure), then k-means with k = the number of classes, seeded so a run is
repeatable. Vectors are L2-normalised first, so distances follow the cosine similarity
an embedder is searched with, and a few images with very large activations do not take
over the principal components (and the picture). How well the clusters recover the
classes is scored with adjusted mutual information and the adjusted Rand index (both 0
for chance, 1 for the classes exactly, whatever the cluster numbering) and purity (the
share of images in their cluster's majority class: easy to read, but it rises with k).
The first two principal components give the 2-D picture, coloured by class.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.atomic import write_bytes, write_json
from alexedge.errors import ConfigError, DataError
from alexedge.transfer.feature_file import Features

__all__ = [
    "CLUSTERS_FIGURE",
    "CLUSTERS_JSON",
    "CLUSTERS_POINTS",
    "ClusterConfig",
    "ClusterResult",
    "cluster_features",
    "read_clusters",
    "write_clusters",
]

CLUSTERS_JSON = "clusters.json"
CLUSTERS_POINTS = "clusters.npz"
CLUSTERS_FIGURE = "clusters.png"


@dataclass(frozen=True)
class ClusterConfig:
    """``pca_dims``: components kept before k-means; ``clusters``: k (``None``: the
    number of classes); ``seed``: PCA's and k-means' randomness; ``l2_normalize``: unit
    vectors first (cosine geometry)."""

    pca_dims: int = 50
    clusters: int | None = None
    seed: int = 0
    l2_normalize: bool = True

    def __post_init__(self) -> None:
        if self.pca_dims < 2:
            raise ConfigError(f"--pca-dims must be at least 2, got {self.pca_dims}")
        if self.clusters is not None and self.clusters < 2:
            raise ConfigError(f"--clusters-k must be at least 2, got {self.clusters}")


@dataclass(frozen=True)
class ClusterResult:
    """Scores (``None`` without labels) and the 2-D points of the picture."""

    clusters: int
    images: int
    pca_dims: int
    explained_variance: float  # share of the variance the kept components hold
    ami: float | None
    ari: float | None
    purity: float | None
    layer: str
    source: str
    seed: int
    class_names: tuple[str, ...] = ()
    l2_normalized: bool = True
    points: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.float32), repr=False)
    labels: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    assignments: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)

    def scores(self) -> dict[str, Any]:
        """Everything but the arrays: what ``clusters.json`` holds."""
        doc = asdict(self)
        for name in ("points", "labels", "assignments"):
            doc.pop(name)
        doc["class_names"] = list(self.class_names)
        return doc


def cluster_features(features: Features, config: ClusterConfig | None = None) -> ClusterResult:
    """PCA to ``pca_dims``, k-means, and the scores against the labels when all are known.

    Raises:
        DataError: fewer images than clusters, or no k (no labels and no ``clusters``).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    config = config or ClusterConfig()
    vectors = features.features.astype(np.float64)
    if config.l2_normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
    labelled = bool(features.labelled.all()) and len(features.labels) > 0
    k = config.clusters or (len(np.unique(features.labels)) if labelled else 0)
    if k < 2:
        raise DataError(
            "clustering needs k: give --clusters-k, or embed a dataset folder whose labels "
            "give the number of classes"
        )
    if len(vectors) < max(k, 3):
        raise DataError(f"{len(vectors)} images cannot make {k} clusters")
    dims = min(config.pca_dims, *vectors.shape)
    if dims < 2:
        raise DataError(f"{vectors.shape[1]}-value vectors: the 2-D picture needs at least two")
    pca = PCA(n_components=dims, random_state=config.seed)
    reduced = pca.fit_transform(vectors)
    kmeans = KMeans(n_clusters=k, n_init=10, random_state=config.seed)
    assignments = kmeans.fit_predict(reduced).astype(np.int64)
    scores = _scores(features.labels, assignments) if labelled else (None, None, None)
    return ClusterResult(
        clusters=k,
        images=len(vectors),
        pca_dims=dims,
        explained_variance=float(np.sum(pca.explained_variance_ratio_)),
        ami=scores[0],
        ari=scores[1],
        purity=scores[2],
        layer=features.layer,
        source=features.source,
        seed=config.seed,
        class_names=features.class_names,
        l2_normalized=config.l2_normalize,
        points=reduced[:, :2].astype(np.float32),
        labels=features.labels,
        assignments=assignments,
    )


def _scores(labels: np.ndarray, assignments: np.ndarray) -> tuple[float, float, float]:
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    return (
        float(adjusted_mutual_info_score(labels, assignments)),
        float(adjusted_rand_score(labels, assignments)),
        purity(labels, assignments),
    )


def purity(labels: np.ndarray, assignments: np.ndarray) -> float:
    """Share of images whose class is their cluster's most common class."""
    majority = sum(int(np.bincount(labels[assignments == c]).max()) for c in np.unique(assignments))
    return majority / len(labels)


def write_clusters(run_dir: Path, result: ClusterResult) -> tuple[Path, Path]:
    """``clusters.json`` (scores) and ``clusters.npz`` (the picture's points), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, points=result.points, labels=result.labels, assignments=result.assignments)
    points = write_bytes(Path(run_dir) / CLUSTERS_POINTS, buffer.getvalue())
    return write_json(Path(run_dir) / CLUSTERS_JSON, result.scores()), points


def read_clusters(run_dir: Path) -> ClusterResult | None:
    """The run's cluster results, ``None`` when it has none; ``DataError`` when damaged."""
    path, points_path = Path(run_dir) / CLUSTERS_JSON, Path(run_dir) / CLUSTERS_POINTS
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["class_names"] = tuple(doc.get("class_names", ()))
        arrays: dict[str, np.ndarray] = {}
        if points_path.is_file():
            with np.load(points_path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("points", "labels", "assignments")}
        return ClusterResult(**doc, **arrays)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise DataError(
            f"{path}: damaged cluster results ({e}); write them again with "
            "alexedge embed RUN --clusters"
        ) from e
