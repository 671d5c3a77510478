"""``alexedge compress``: help, and bad input as one clear line, exit 2, nothing written.

The run folders here are fabricated (real dataset and run files, but ``best.keras``
is a placeholder): every check must happen before the model is loaded, so none of
these tests pays for TensorFlow and none may leave a file behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from train_data import write_colour_dataset
from typer.testing import CliRunner

from alexedge.atomic import write_json
from alexedge.config import config_to_dict
from alexedge.data.dataset import load_dataset
from alexedge.run import write_dataset_ref
from alexedge.train.config import TrainConfig


def _app() -> typer.Typer:
    from alexedge.cli.compress import register

    app = typer.Typer()
    app.callback()(lambda: None)  # keep `compress` a named subcommand
    register(app)
    return app


def _fake_run(root: Path, model_file: bool = True) -> Path:
    data = write_colour_dataset(root / "data", classes=2, per_class=3, val_per_class=2, size=32)
    run = root / "run"
    run.mkdir()
    write_dataset_ref(run, load_dataset(data), 0.1, 0)
    write_json(run / "config.json", config_to_dict(TrainConfig(input_size=32)))
    stats = {"mean": [1, 1, 1], "std": [1, 1, 1], "pca_eigval": [0, 0, 0], "pixels": 1}
    write_json(run / "data_stats.json", {**stats, "pca_eigvec": [[1, 0, 0]] * 3})
    if model_file:
        (run / "best.keras").write_bytes(b"not loaded: input checks come first")
    return run


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(_app(), ["compress", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--sparsity", "--quantize", "--qat", "--qat-int4", "--clusters", "--io"):
        assert option in result.output
    assert "--finetune-epochs" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--quantize", "int8,int3"], "unknown quantization mode(s) ['int3']"),
        (["--sparsity", "1.0"], "sparsity must be in [0, 1), got 1.0"),
        (["--sparsity", "0.5,-0.2"], "sparsity must be in [0, 1), got -0.2"),
        (["--sparsity", "lots"], "--sparsity: 'lots' is not a number"),
        (["--io", "int16"], "unknown --io 'int16'"),
        (["--clusters", "1"], "--clusters must be 0 (off) or from 2 to 256"),
        (["--qat", "--quantize", "float16"], "--qat makes full-integer models"),
        (["--qat-int4", "--quantize", "int8"], "--qat-int4 trains for the int4 export"),
        (["--representative", "no/such/dir"], "no such representative dataset folder"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    run = _fake_run(tmp_path)
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(_app(), ["compress", str(run), *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert _snapshot(tmp_path) == before, "bad input left files behind"


def test_run_without_a_trained_model(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, model_file=False)
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(_app(), ["compress", str(run)])
    assert result.exit_code == 2
    assert "no trained model (best.keras)" in result.stderr
    assert _snapshot(tmp_path) == before


def test_representative_folder_without_readable_images(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    bad = tmp_path / "calib"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"")
    (bad / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (bad / "notes.txt").write_text("not an image")
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(_app(), ["compress", str(run), "--representative", str(bad)])
    assert result.exit_code == 2
    assert "none of the 2 image files tried could be read" in result.stderr
    assert _snapshot(tmp_path) == before


def test_bad_input_in_a_real_process_prints_one_line(tmp_path: Path) -> None:
    """No traceback and no TensorFlow chatter on stderr, exit code 2."""
    script = (
        "import typer\n"
        "from alexedge.cli.compress import register\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "register(app)\n"
        "app()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", script, "compress", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'}: no such run folder"
    ]
