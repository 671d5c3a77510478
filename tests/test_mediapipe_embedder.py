"""MediaPipe Tasks ``ImageEmbedder`` runs the embedder bundle and agrees with the edge runtime.

An app computes vectors with MediaPipe and compares them with vectors computed
elsewhere (a gallery embedded once by ``alexedge embed``): both must be the same
vectors, up to float rounding, for the same pixels. MediaPipe runs in its own cached
virtual environment (``test_mediapipe_compat.mediapipe_python``); images are fed at
the model's input size, so neither side resizes and the comparison is about the model
file and its metadata.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alexedge.android_assets.embedder import EmbedderConfig, package_embedder
from alexedge.android_assets.package import PackageConfig
from alexedge.edge_runtime import Embedder, cosine_similarity
from alexedge.preprocess import eval_transform
from alexedge.run import reload_dataset

sys.path.insert(0, str(Path(__file__).parent))
from compress_helpers import make_trained_run
from test_mediapipe_compat import CHECK_SCRIPT, MEDIAPIPE_VERSION, mediapipe_python

pytestmark = pytest.mark.registry

MIN_COSINE = 0.99


@pytest.fixture(scope="module")
def mediapipe() -> Path:
    return mediapipe_python()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_run(tmp_path_factory.mktemp("mp-embedder"), classes=3, per_class=16)


@pytest.fixture(scope="module")
def images(run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, list[Path]]:
    """Validation images through ``eval_transform``, as arrays and as PNG files."""
    folder = tmp_path_factory.mktemp("mp-embedder-inputs")
    size = 32
    pixels = np.stack([eval_transform(s.path, size) for s in reload_dataset(run).val])
    files = []
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
        files.append(folder / f"{i:03d}.png")
    return pixels, files


def _mediapipe_vectors(python: Path, model: Path, files: list[Path]) -> tuple[np.ndarray, set]:
    proc = subprocess.run(
        [python, CHECK_SCRIPT, "--embed", model, *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"MediaPipe refused {model}:\n{proc.stderr[-4000:]}"
    doc = json.loads(proc.stdout)
    assert doc["mediapipe"] == MEDIAPIPE_VERSION
    assert [r["file"] for r in doc["results"]] == [str(f) for f in files]
    heads = {r["head_name"] for r in doc["results"]}
    return np.array([r["embedding"] for r in doc["results"]], dtype=np.float32), heads


def _nearest(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    return np.argsort(-(q @ g.T), axis=1, kind="stable")[:, :3]


@pytest.mark.parametrize(
    ("mode", "layer"), [("float32", None), ("int8", None), ("float32", "conv5")]
)
def test_mediapipe_embedder_agrees_with_ours(
    mediapipe: Path,
    run: Path,
    images: tuple[np.ndarray, list[Path]],
    tmp_path: Path,
    mode: str,
    layer: str | None,
) -> None:
    bundle = package_embedder(
        run, EmbedderConfig(mode=mode, layer=layer, bundle=PackageConfig(out=tmp_path / "b"))
    )
    model = bundle.folder / "model.tflite"
    pixels, files = images
    ours = Embedder(model).embed(pixels)
    theirs, heads = _mediapipe_vectors(mediapipe, model, files)
    assert heads == {bundle.layer}  # the layer, read from the embedded metadata
    assert theirs.shape == ours.shape == (len(files), bundle.dimensions)
    cosines = cosine_similarity(theirs, ours)
    assert cosines.min() >= MIN_COSINE, cosines
    # A gallery search: the three nearest gallery images of every query are the same.
    half = len(files) // 2
    np.testing.assert_array_equal(
        _nearest(theirs[half:], theirs[:half]), _nearest(ours[half:], ours[:half])
    )
