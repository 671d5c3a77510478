"""The ``alexedge`` command: a thin Typer layer over library functions, one module per group.

Every command parses options, builds a config, calls one library function and prints.
Expected failures (``AlexEdgeError``) become one line on stderr and exit code 2 (see
``errors``); heavy imports (TensorFlow) happen inside the commands that need them, so
``--help`` and the edge-only install stay fast and TensorFlow-free, and TensorFlow's
start-up lines are hidden unless ``--verbose`` (``alexedge.quiet``).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from alexedge.cli import compress, data, edge, package, pipeline, report, train
from alexedge.quiet import VERBOSE_ENV

__all__ = ["app", "main"]

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
for _group in (pipeline, train, compress, package, report, edge, data):
    _group.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
