"""The ``alexedge`` command: a thin Typer layer over library functions, one module per group.

Every command parses options, builds a config, calls one library function and prints.
Expected failures (``AlexEdgeError``) become one line on stderr and exit code 2 (see
``errors``); heavy imports (TensorFlow) happen inside the commands that need them, so
``--help`` and the edge-only install stay fast and TensorFlow-free, and TensorFlow's
start-up lines are hidden unless ``--verbose`` (``alexedge.quiet``).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
import typer.rich_utils

from alexedge.cli import compress, data, edge, embed, package, pipeline, report, train
from alexedge.quiet import VERBOSE_ENV

__all__ = ["app", "main"]


def _stacked_flag(param: Any) -> Any:
    """``--pool2`` over ``--no-pool2`` in one cell, for the help table only (a copy)."""
    negatives = [name for name in getattr(param, "secondary_opts", ()) if name.startswith("--")]
    if not negatives:
        return param
    shown = copy.copy(param)
    positives = [name for name in param.opts if name.startswith("--")]
    shown.opts = ["\n".join(positives + negatives)] + [n for n in param.opts if n not in positives]
    shown.secondary_opts = [n for n in param.secondary_opts if n not in negatives]
    return shown


def _with_stacked_flags(print_panel: Callable[..., None]) -> Callable[..., None]:
    """Typer gives ``--no-*`` flags a column of their own; with the long names of ``train``
    the four name columns leave rich a help column of about 20 characters at 80 columns,
    so every help line wraps after two or three words. One name column fixes every command."""

    @functools.wraps(print_panel)
    def print_stacked(*, params: list[Any], **kwargs: Any) -> None:
        print_panel(params=[_stacked_flag(param) for param in params], **kwargs)

    return print_stacked


def _joined_lines(paragraphs: list[str], markup_mode: str) -> str:
    """A command's help after its first line, each paragraph's source line breaks joined:
    Typer keeps them, so a docstring wrapped at 100 columns broke every line at 80 into a
    full one and a one-word one. A paragraph starting with ``\\b`` keeps its lines (Click's
    marker for preformatted text)."""
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


# Typer has no public setting for either; without these private functions (another Typer
# version) the help keeps Typer's own layout, and test_help_width shows it.
if hasattr(typer.rich_utils, "_print_options_panel"):
    typer.rich_utils._print_options_panel = _with_stacked_flags(
        typer.rich_utils._print_options_panel
    )
if hasattr(typer.rich_utils, "_fix_linebreaks"):
    typer.rich_utils._fix_linebreaks = _joined_lines

app = typer.Typer(
    help="Train AlexNet-style image classifiers, compress them, export TFLite and ship them "
    "to phones.\n\nStart with `alexedge pipeline`: it runs everything on a built-in dataset.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help=f"Show TensorFlow's and LiteRT's own start-up log lines (or set {VERBOSE_ENV}=1).",
        ),
    ] = False,
) -> None:
    if verbose:
        os.environ[VERBOSE_ENV] = "1"


# The order `alexedge --help` lists them in: the path a model takes.
for _group in (pipeline, train, compress, package, report, edge, embed, data):
    _group.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
