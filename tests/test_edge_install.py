"""`pip install "alexedge[edge]"` gives a working `alexedge classify` without TensorFlow.

Builds a real virtual environment from this checkout (about 20 s with a warm pip
cache), so the edge extra's dependency list itself is under test, not just imports.
"""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from registry import pip_install_or_skip

pytestmark = pytest.mark.registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def edge_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edge-venv")
    venv.EnvBuilder(with_pip=True).create(root)
    pip_install_or_skip(root / "bin" / "python", f"{REPO}[edge]", timeout=600)
    return root


def test_edge_extra_has_no_tensorflow(edge_venv: Path) -> None:
    probe = "import importlib.util as u; print(u.find_spec('tensorflow'), u.find_spec('tf_keras'))"
    out = subprocess.run(
        [edge_venv / "bin" / "python", "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["None", "None"]


def test_edge_extra_classifies(edge_venv: Path, tmp_path: Path, tiny_tflite) -> None:
    (tmp_path / "model.tflite").write_bytes(tiny_tflite("float32"))
    (tmp_path / "labels.txt").write_text("alp\nbeach\ncliff\ndune\n")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    proc = subprocess.run(
        [edge_venv / "bin" / "alexedge", "classify", "model.tflite", "a.jpg", "--top", "2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].endswith("a.jpg") and len(lines) == 3
    for line in lines[1:]:
        label, score = line.split(" - score: ")
        assert label in {"alp", "beach", "cliff", "dune"} and 0.0 <= float(score) <= 1.0
