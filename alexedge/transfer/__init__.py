"""Reusing a trained network: its features, a linear probe on them, and their clusters.

``embed`` turns images into one vector each (``features.npz``), from a run's Keras model
or from an embedder ``.tflite`` without TensorFlow; ``linear_probe`` measures how much
of a task those vectors solve with a linear classifier; ``cluster_features`` groups
them with PCA and k-means and scores the groups against the classes. Names are imported
on first use (PEP 562): reading a features file loads neither TensorFlow nor scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "SPLITS",
    "ClusterConfig",
    "ClusterResult",
    "EmbedConfig",
    "Features",
    "ProbeConfig",
    "ProbeResult",
    "cluster_features",
    "embed",
    "feature_model",
    "layer_choices",
    "linear_probe",
    "read_clusters",
    "read_features",
    "write_clusters",
    "write_features",
]

_HOME = {
    "SPLITS": "images",
    "ClusterConfig": "clusters",
    "ClusterResult": "clusters",
    "EmbedConfig": "embedding",
    "Features": "feature_file",
    "ProbeConfig": "probe",
    "ProbeResult": "probe",
    "cluster_features": "clusters",
    "embed": "embedding",
    "feature_model": "extractor",
    "layer_choices": "extractor",
    "linear_probe": "probe",
    "read_clusters": "clusters",
    "read_features": "feature_file",
    "write_clusters": "clusters",
    "write_features": "feature_file",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'alexedge.transfer' has no attribute {name!r}")
    return getattr(importlib.import_module(f"alexedge.transfer.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
