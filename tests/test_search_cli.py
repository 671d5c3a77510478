"""``alexedge compress --max-loss``: bad search options are one line, exit 2, nothing written
(the fabricated run of ``test_compress_cli`` has no loadable model: checks come first);
``alexedge pipeline --max-loss`` refuses the options a search replaces the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from test_compress_cli import _app, _fake_run, _snapshot
from typer.testing import CliRunner


def test_help_lists_the_search_options() -> None:
    result = CliRunner().invoke(_app(), ["compress", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--max-loss", "--max-class-loss", "--objective", "--search-budget"):
        assert option in result.output
    assert "--selection-data" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-class-loss", "5"], "--max-class-loss: only with --max-loss PT (a search)"),
        (["--objective", "latency"], "--objective: only with --max-loss"),
        (["--max-loss", "-1"], "--max-loss must be >= 0 points, got -1.0"),
        (["--max-loss", "1", "--max-class-loss", "-2"], "--max-class-loss must be >= 0"),
        (["--max-loss", "1", "--objective", "speed"], "--objective must be one of size, latency"),
        (["--max-loss", "1", "--search-budget", "0"], "--search-budget must be > 0 minutes"),
        (["--max-loss", "1", "--sparsity", "0.5"], "--max-loss searches its own ladder: drop"),
        (["--max-loss", "1", "--qat-int4"], "drop --qat-int4"),
    ],
)
def test_bad_search_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    run = _fake_run(tmp_path)
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(_app(), ["compress", str(run), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sparsity", "0.5"], "--max-loss searches its own ladder: drop --sparsity"),
        (["--quantize", "int8", "--sparsity", "0"], "drop --sparsity, --quantize"),
    ],
)
def test_the_pipeline_refuses_what_a_search_replaces_as_compress_does(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    from alexedge.cli.pipeline import register

    app = typer.Typer()
    app.callback()(lambda: None)  # keep `pipeline` a named subcommand
    register(app)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["pipeline", "--out", str(out), "--max-loss", "1", *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not list(tmp_path.iterdir()), "nothing is written before the refusal"
