"""The CLI: every --help works; bad input gives one clear line, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alexedge.cli import app

COMMANDS = [
    [],
    ["pipeline"],
    ["train"],
    ["evaluate"],
    ["models"],
    ["compress"],
    ["package"],
    ["report"],
    ["classify"],
    ["bench"],
    ["data"],
    ["data", "check"],
    ["data", "synth"],
    ["data", "fetch"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "alexedge")
def test_help_exits_zero(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def _alexedge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alexedge.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--data", "no/such/folder"], "no such folder"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--epochs", "-3"], "--epochs must be at least 1"),
        (["--classes", "1"], "synth: classes must be between 2"),
        (["--data", ".", "--classes", "1"], "--classes must be at least 2"),
        (["--sparsity", "1.5"], "sparsity"),
        (["--sparsity", ""], "--sparsity: give at least one value"),
        (["--per-class", "-1"], "per_class must be between 1"),
        (["--data", ".", "--per-class", "10"], "--per-class sizes the built-in dataset"),
        (["--val-fraction", "1.5"], "--val-fraction needs --data"),
        (["--data", ".", "--val-fraction", "1.5"], "--val-fraction must be in (0, 1)"),
        (["--classes-file", "x.txt"], "--classes-file needs --data"),
        (["--data", ".", "--layout", "nope"], "nope"),
    ],
)
def test_pipeline_bad_input(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = _alexedge("pipeline", "--out", "run", *args, cwd=tmp_path)
    _assert_one_line_error(proc, needle)
    assert not (tmp_path / "run").exists()


def test_pipeline_refuses_data_without_images(tmp_path: Path) -> None:
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "train" / "b").mkdir(parents=True)
    (tmp_path / "empty" / "val").mkdir(parents=True)
    proc = _alexedge("pipeline", "--data", "empty", "--out", "run", cwd=tmp_path)
    _assert_one_line_error(proc, "no training images")
    assert not (tmp_path / "run").exists()


def test_pipeline_refuses_non_empty_out(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "precious.txt").write_text("keep me")
    proc = _alexedge("pipeline", "--out", "run", cwd=tmp_path)
    _assert_one_line_error(proc, "not empty")
    proc = _alexedge("pipeline", "--out", "run", "--force", cwd=tmp_path)
    _assert_one_line_error(proc, "not an alexedge run folder")
    assert (tmp_path / "run" / "precious.txt").read_text() == "keep me"


def test_classify_bad_model_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "model.tflite").write_bytes(b"definitely not a flatbuffer")
    (tmp_path / "img.png").write_bytes(b"")
    proc = _alexedge("classify", "model.tflite", "img.png", cwd=tmp_path)
    assert proc.returncode == 2
    assert "model.tflite" in proc.stderr and "Traceback" not in proc.stderr


def test_report_without_variants(tmp_path: Path) -> None:
    proc = _alexedge("report", str(tmp_path), cwd=tmp_path)
    _assert_one_line_error(proc, "not an alexedge run folder")


def test_data_check_lists_bad_files(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "imgs" / "good.png")
    (tmp_path / "imgs" / "empty.jpg").write_bytes(b"")
    proc = _alexedge("data", "check", "imgs", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "empty.jpg" in proc.stdout and "good.png" not in proc.stdout
