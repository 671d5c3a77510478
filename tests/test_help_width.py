"""``alexedge COMMAND --help`` at 80 columns: a help column wide enough to read, full lines.

Typer lays its option table out with a column per flag form; with ``train``'s long
``--no-*`` flags that left about 20 characters for the help at 80 columns.
"""

from __future__ import annotations

import itertools

import pytest
import typer
from typer.testing import CliRunner

from alexedge.cli import app

WIDTH = 80
MIN_HELP_COLUMN = 30


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def _help(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _help_column_widths(lines: list[str]) -> list[int]:
    """The width left for help text on every wrapped line of a panel (first cells blank)."""
    widths = []
    for line in lines:
        if line.startswith("│") and line.rstrip().endswith("│"):
            body = line.rstrip()[1:-1]
            indent = len(body) - len(body.lstrip())
            if body.strip() and indent > 2:
                widths.append(len(body) - indent)
    return widths


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "alexedge")
def test_help_column_is_readable_at_80_columns(path, monkeypatch) -> None:
    lines = _help(path, monkeypatch)
    assert max(len(line) for line in lines) <= WIDTH
    narrowest = min(_help_column_widths(lines), default=WIDTH)
    assert narrowest >= MIN_HELP_COLUMN, "\n".join(lines)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "alexedge")
def test_description_lines_are_full(path, monkeypatch) -> None:
    """Each line of the description but a paragraph's last reaches at least 2/3 of the width."""
    lines = _help(path, monkeypatch)
    first_panel = next((i for i, line in enumerate(lines) if line.startswith("╭")), len(lines))
    prose = [line.strip() for line in lines[:first_panel]]
    for line, following in itertools.pairwise(prose):
        if line and following and not line.startswith("Usage:"):
            assert len(line) >= WIDTH * 2 // 3, "\n".join(lines)
