"""``alexedge compress`` names the machine its latency columns hold for, above the table.

The compression itself is faked (it writes the ``variants.json`` a compress on another
machine wrote): the line printed must name that machine, not the one printing.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from report_rows import measurement, variants_doc
from typer.testing import CliRunner

from alexedge.hardware import describe_hardware, hardware_line

ELSEWHERE = {**describe_hardware(), "cpu": "Other Test CPU", "logical_cores": 64}
assert hardware_line(ELSEWHERE) != hardware_line()


def _app() -> typer.Typer:
    from alexedge.cli.compress import register

    app = typer.Typer()
    app.callback()(lambda: None)  # keep `compress` a named subcommand
    register(app)
    return app


def _fake_compress(doc: dict):
    def compress_run(run_dir: Path, config: object, **kwargs: object) -> SimpleNamespace:
        (run_dir / "variants.json").write_text(json.dumps(doc))
        return SimpleNamespace(raise_for_failures=lambda: None)

    return compress_run


@pytest.mark.parametrize(
    ("hardware", "first_line"),
    [
        (ELSEWHERE, f"Latencies measured on: {hardware_line(ELSEWHERE)}."),
        (None, "Latencies measured on: an unrecorded machine"),
    ],
    ids=["recorded", "before-the-record"],
)
def test_the_table_opens_with_the_machine_that_measured_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hardware: dict | None, first_line: str
) -> None:
    import alexedge.run
    from alexedge.compress import planner

    doc = variants_doc([measurement("float32", "float32")])
    if hardware is not None:
        doc["hardware"] = hardware
    monkeypatch.setattr(planner, "compress_run", _fake_compress(doc))
    monkeypatch.setattr(alexedge.run, "check_trained_run", lambda run: None)
    result = CliRunner().invoke(_app(), ["compress", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(first_line)
    assert lines[2].startswith("| variant |") and lines[4].startswith("| float32 |")
