"""Issue 31's chain end to end on the built-in data, through the commands a user types:
embed both splits, probe, cluster into the report, bundle the embedder, embed with it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from alexedge.cli import app
from alexedge.data.synth import SynthConfig, synthesize_dataset
from alexedge.transfer import read_features

sys.path.insert(0, str(Path(__file__).parent))
from train_data import tiny_config


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_embed_probe_clusters_report_and_embedder_on_built_in_data(tmp_path: Path) -> None:
    from alexedge.train.run_config import DataConfig, RunConfig
    from alexedge.train.session import train_run

    data = synthesize_dataset(
        SynthConfig(classes=3, per_class=12, val_per_class=6, size=32), tmp_path / "data", False
    )
    run = tmp_path / "run"
    train_run(RunConfig(DataConfig(data), tiny_config(epochs=1)), run)

    _ok("embed", run, "--split", "train", "--out", tmp_path / "train.npz")
    out = _ok("embed", run, data, "--out", tmp_path / "val.npz", "--clusters", "--pca-dims", "8")
    assert "clusters: k=3 on 8 PCA components, AMI" in out
    assert (run / "clusters.json").is_file() and (run / "clusters.png").is_file()
    assert "top-1" in _ok("probe", tmp_path / "train.npz", tmp_path / "val.npz")
    probe = json.loads((tmp_path / "probe.json").read_text("utf-8"))
    assert (probe["train_images"], probe["val_images"], probe["classes"]) == (36, 18, 3)

    _ok("report", run)
    report = (run / "REPORT.md").read_text("utf-8")
    assert "## Clusters of fc7 features" in report and "(clusters.png)" in report

    _ok("package", run, "--embedder")
    model = run / "android_embedder" / "model.tflite"
    _ok("embed", model, data, "--out", tmp_path / "edge.npz")
    keras, edge = read_features(tmp_path / "val.npz"), read_features(tmp_path / "edge.npz")
    assert edge.files == keras.files and edge.class_names == keras.class_names
    np.testing.assert_allclose(edge.features, keras.features, rtol=1e-4, atol=1e-4)
