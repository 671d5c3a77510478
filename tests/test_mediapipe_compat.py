"""MediaPipe Tasks ``ImageClassifier`` loads a bundled model unchanged and agrees with us.

Phone apps run the bundle through MediaPipe Tasks, which reads the embedded metadata
(labels, normalization) and refuses models it cannot interpret. Every mode is checked,
int16x8 (int16 kernels) and int4 (INT4 dequantization) included: a runtime without those
kernels loads the file and fails only when it allocates tensors. mediapipe pins
absl-py ~= 2.3 and tfmot needs ~= 1.2, so it runs in its own virtual environment,
built once and cached outside the repository (``~/.cache/alexedge/``; a marker file
written after a successful install makes a killed install start again). About 20 s to
build with a reachable registry, about 5 s per run once cached. Without the registry
the tests are skipped with the pip error as the reason; any other install failure fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from alexedge.android_assets import PackageConfig, package_run
from alexedge.android_assets.runtime import INT4_NOTE
from alexedge.cli import app
from alexedge.compress.config import CompressConfig
from alexedge.edge_runtime import Classifier
from alexedge.preprocess import eval_transform
from alexedge.run import reload_dataset

sys.path.insert(0, str(Path(__file__).parent))
from compress_helpers import make_trained_run
from registry import pip_install_or_skip

pytestmark = pytest.mark.registry

MEDIAPIPE_VERSION = "1.2.3"
CHECK_SCRIPT = Path(__file__).with_name("mediapipe_check.py")
MIN_IMAGES = 20


def _has_quantizer() -> bool:
    try:
        import litert_quantizer  # noqa: F401
    except ImportError:
        return False
    return True


# int4 needs the optional alexedge[int4] extra (in [all], which CI installs).
MODES = ("float32", "int8", "int16x8", *(("int4",) if _has_quantizer() else ()))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "alexedge"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time (two pytest runs at once share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mediapipe_python() -> Path:
    """The Python of the cached MediaPipe environment, built on first use."""
    root = _cache_dir() / f"mediapipe-venv-{MEDIAPIPE_VERSION}"
    marker, python = root / ".alexedge-installed", root / "bin" / "python"
    with _locked(root.with_name(root.name + ".lock")):
        if marker.is_file() and python.is_file():
            return python
        shutil.rmtree(root, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(root)
        pip_install_or_skip(python, f"mediapipe=={MEDIAPIPE_VERSION}")
        probe = "from mediapipe.tasks.python.vision import ImageClassifier"
        subprocess.run([python, "-c", probe], check=True, capture_output=True, timeout=120)
        marker.write_text(f"mediapipe=={MEDIAPIPE_VERSION}\n")
    return python


def run_mediapipe(python: Path, model: Path, images: list[Path]) -> list[dict]:
    proc = subprocess.run(
        [python, CHECK_SCRIPT, model, *images], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"MediaPipe refused {model}:\n{proc.stderr[-4000:]}"
    doc = json.loads(proc.stdout)
    assert doc["mediapipe"] == MEDIAPIPE_VERSION
    return doc["results"]


@pytest.fixture(scope="module")
def mediapipe() -> Path:
    return mediapipe_python()


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny trained run with a variant of every mode (int8 with uint8 I/O)."""
    from alexedge.compress.planner import compress_run

    root = tmp_path_factory.mktemp("mediapipe")
    run = make_trained_run(root, classes=3, per_class=24, val_per_class=20)
    config = CompressConfig(
        sparsities=(0,),
        quantize=MODES,
        finetune_epochs=1,
        calibration_images=16,
        layer_errors=False,  # the bundle does not read it; test_layer_errors covers it
    )
    compress_run(run, config)
    return root, run


@pytest.fixture(scope="module")
def model_inputs(packaged: tuple[Path, Path]) -> tuple[np.ndarray, list[Path]]:
    """Validation images already through ``eval_transform``, as arrays and as PNG files.

    MediaPipe gets exactly the pixels the edge runtime gets (an image of the model's
    input size is not resized), so the comparison is about the model and its metadata,
    not about two resize filters.
    """
    root, run = packaged
    folder = root / "inputs"
    folder.mkdir()
    size = Classifier(run / "variants" / "float32.tflite").input_size
    pixels = np.stack([eval_transform(s.path, size) for s in reload_dataset(run).val])
    files = []
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
        files.append(folder / f"{i:03d}.png")
    assert len(files) >= MIN_IMAGES
    return pixels, files


def _needs(variant: str) -> None:
    if variant not in MODES:
        pytest.skip(f'{variant} needs litert-quantizer: pip install "alexedge[int4]"')


@pytest.mark.parametrize(
    ("variant", "input_dtype"),
    [("float32", "float32"), ("int8", "uint8"), ("int16x8", "float32"), ("int4", "float32")],
)
def test_mediapipe_reads_bundle_and_agrees(
    mediapipe: Path,
    packaged: tuple[Path, Path],
    model_inputs: tuple[np.ndarray, list[Path]],
    variant: str,
    input_dtype: str,
) -> None:
    _needs(variant)
    root, run = packaged
    out = root / f"bundle-{variant}"
    package_run(run, PackageConfig(variant=variant, out=out))
    ours = Classifier(out / "model.tflite")
    assert ours.input_dtype == np.dtype(input_dtype)
    pixels, files = model_inputs
    probs = ours.predict(pixels)
    results = run_mediapipe(mediapipe, out / "model.tflite", files)
    assert len(results) == len(files) >= MIN_IMAGES
    # The edge runtime's scores: MediaPipe applied the metadata's identity normalization
    # to the float input and fed the uint8 input its pixel bytes, as the edge runtime does.
    for row, result in zip(probs, results, strict=True):
        best = result["categories"][0]
        # Names, not indices: MediaPipe found the labels in the embedded metadata.
        assert best["name"] == ours.labels[int(np.argmax(row))], result["file"]
        assert best["score"] == pytest.approx(float(row.max()), abs=1e-4), result["file"]


@pytest.mark.parametrize("variant", ["int16x8", "int4"])
def test_bundle_names_the_runtime_an_int4_model_needs(
    packaged: tuple[Path, Path], tmp_path: Path, variant: str
) -> None:
    """TFLite 2.16.1 and older (org.tensorflow:tensorflow-lite) refuse INT4 dequantization
    when allocating tensors; MediaPipe and LiteRT run it. An int4 bundle says so in
    manifest.json and USAGE.md; int16x8 runs on those older versions too, so it says nothing."""
    _needs(variant)
    _, run = packaged
    bundle = package_run(run, PackageConfig(variant=variant, out=tmp_path / "bundle"))
    expected = [INT4_NOTE] if variant == "int4" else []
    assert list(bundle.notes) == expected
    manifest = json.loads((bundle.folder / "manifest.json").read_text("utf-8"))
    assert manifest["runtime_notes"] == expected
    usage = (bundle.folder / "USAGE.md").read_text("utf-8")
    assert usage.count("- Runtime: ") == len(expected)
    assert all(note in usage for note in expected)
    # ... and `alexedge package` prints it, so nobody has to open the manifest to learn it
    result = CliRunner().invoke(
        app, ["package", str(run), "--variant", variant, "--out", str(tmp_path / "cli")]
    )
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("note: ")] == [
        f"note: {note}" for note in expected
    ]
