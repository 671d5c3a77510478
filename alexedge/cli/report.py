"""``alexedge report``: the run's report, written by the one report writer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import handle_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("report")(handle_errors(report))


def report(
    run: Annotated[
        Path, typer.Argument(help="A run folder (made by train, compress or pipeline).")
    ],
    out: Annotated[Path | None, typer.Option(help="Folder for the report (default: RUN).")] = None,
) -> None:
    """Write RUN's report: REPORT.md, report.json, variants.csv and figures.

    Figures: accuracy and latency vs size with the Pareto front, training curves, conv1
    filters, saliency maps, confusion; tables: per-class damage of every compressed
    variant and per-layer parameters, multiply-adds and sparsity. Sections whose inputs
    are missing (a run not compressed yet) are noted, not fatal.
    """
    from alexedge.report import write_report

    result = write_report(run, out)
    typer.echo(result.table or "compression has not run: no variants in this run")
    typer.echo(f"\nReport: {result.report}")
