"""The embedder bundle (``alexedge package RUN --embedder``) and the TF-free embedder.

The file must give the Keras extractor's vectors through the edge runtime, carry the
metadata MediaPipe's ImageEmbedder reads (checked by MediaPipe itself in
``test_mediapipe_embedder.py``), and ``alexedge embed`` on it must run without
TensorFlow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alexedge.android_assets.embedder import MIN_COSINE, EmbedderConfig, package_embedder
from alexedge.android_assets.package import PackageConfig
from alexedge.cli import app
from alexedge.edge_runtime import Embedder, cosine_similarity, read_metadata
from alexedge.errors import ConfigError
from alexedge.run import reload_dataset
from alexedge.transfer import EmbedConfig, embed

sys.path.insert(0, str(Path(__file__).parent))
from compress_helpers import make_trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_run(tmp_path_factory.mktemp("embedder"), classes=3, per_class=16)


@pytest.fixture(scope="module")
def bundle(run: Path):
    return package_embedder(run, EmbedderConfig())


def test_bundle_holds_a_checked_float_embedder_with_metadata(run: Path, bundle) -> None:
    folder = bundle.folder
    assert folder == run / "android_embedder"
    assert sorted(p.name for p in folder.iterdir()) == [
        "USAGE.md",
        "golden",
        "manifest.json",
        "model.tflite",
    ]
    meta = read_metadata(folder / "model.tflite")
    assert meta.output.name == "fc7" and meta.output.labels_file == ""
    assert (meta.input.mean, meta.input.std) == ((0.0,), (1.0,))  # MediaPipe needs them
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["layer"] == "fc7" and manifest["dimensions"] == bundle.dimensions == 16
    agreement = manifest["cosine_to_keras"]
    assert agreement["images"] == 3 * 20  # every validation image: fewer than CHECK_IMAGES
    assert agreement["min"] >= 0.9999 and agreement["below_0.99"] == 0
    golden = json.loads((folder / "golden" / "golden.json").read_text("utf-8"))
    embedder = Embedder(folder / "model.tflite")
    assert embedder.layer == "fc7" and embedder.dimensions == 16
    for entry in golden["images"]:
        vector = embedder.embed_files([folder / "golden" / entry["file"]])[0]
        np.testing.assert_allclose(vector, entry["embedding"], atol=1e-5)


def test_edge_vectors_are_the_keras_vectors(run: Path, bundle) -> None:
    data = [Path(reload_dataset(run).root)]
    keras = embed(run, data)
    edge = embed(bundle.folder / "model.tflite", data)
    assert edge.files == keras.files and edge.labels.tolist() == keras.labels.tolist()
    assert edge.layer == "fc7" and edge.source.endswith("model.tflite")
    np.testing.assert_allclose(edge.features, keras.features, rtol=1e-4, atol=1e-4)
    with pytest.raises(ConfigError, match="exported at layer 'fc7'"):
        embed(bundle.folder / "model.tflite", data, EmbedConfig(layer="conv5"))


def test_int8_embedder_agrees_and_conv_layers_export(run: Path, tmp_path: Path) -> None:
    int8 = package_embedder(
        run, EmbedderConfig(mode="int8", bundle=PackageConfig(out=tmp_path / "int8"))
    )
    assert int8.agreement.median >= MIN_COSINE and int8.mode == "int8"
    assert Embedder(tmp_path / "int8" / "model.tflite").input_dtype == np.uint8
    conv = package_embedder(
        run, EmbedderConfig(layer="conv5", bundle=PackageConfig(out=tmp_path / "conv5"))
    )
    data = [Path(reload_dataset(run).root)]
    keras = embed(run, data, EmbedConfig(layer="conv5"))
    edge = embed(tmp_path / "conv5" / "model.tflite", data)
    assert conv.layer == edge.layer == "conv5"
    assert cosine_similarity(edge.features, keras.features).min() > 0.9999


def test_embed_on_a_tflite_needs_no_tensorflow(run: Path, bundle, tmp_path: Path) -> None:
    script = """
import sys

class BlockTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras", "keras", "sklearn"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, BlockTensorFlow())
from alexedge.cli import app
app(sys.argv[1:])
"""
    out = tmp_path / "edge.npz"
    model = bundle.folder / "model.tflite"
    args = ["embed", str(model), str(reload_dataset(run).root), "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "at layer fc7: 16 values each" in result.stdout
    assert out.is_file()


def test_package_cli_embedder_options(run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["package", str(run), "--embedder", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "packaged the fc7 embedder (float32, 16 values" in result.output
    again = runner.invoke(app, ["package", str(run), "--embedder", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    for args, message in (
        (["--layer", "fc7"], "add --embedder"),
        (["--embedder", "--variant", "int8"], "not a --variant"),
        (["--embedder", "--embedder-mode", "int4"], "choose one of float32, int8"),
        (["--embedder", "--layer", "fc9"], "--layer 'fc9'"),
    ):
        bad = runner.invoke(app, ["package", str(run), "--out", str(tmp_path / "x"), *args])
        assert bad.exit_code == 2, (args, bad.output)
        assert message in bad.output and len(bad.output.strip().splitlines()) == 1, bad.output
    assert not (tmp_path / "x").exists()
