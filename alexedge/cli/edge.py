"""``alexedge classify`` and ``alexedge bench``: the edge runtime's commands, TensorFlow-free."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import fail, handle_errors
from alexedge.errors import ConfigError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("classify")(handle_errors(classify))
    app.command("bench")(handle_errors(bench))


def _values(text: str | None, option: str) -> tuple[float, ...] | None:
    """``"127.5"`` or ``"123.7,116.3,103.5"`` -> floats; one or three (R, G, B)."""
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"{option} takes one number or three (R,G,B), got {text!r}") from None
    if len(values) not in (1, 3):
        raise ConfigError(f"{option} takes one number or three (R,G,B), got {len(values)}")
    return values


def classify(
    model: Annotated[Path, typer.Argument(help="A .tflite classifier (ours or third-party).")],
    images: Annotated[list[Path], typer.Argument(help="Image files or folders (walked).")],
    labels: Annotated[
        Path | None,
        typer.Option(help="labels.txt (default: the model's metadata, else one beside it)."),
    ] = None,
    top: Annotated[int, typer.Option(help="How many classes to print per image.")] = 5,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
    threads: Annotated[int | None, typer.Option(help="Interpreter threads.")] = None,
    mean: Annotated[
        str | None,
        typer.Option(
            help="Subtracted from raw 0-255 pixels before the model sees them: one value or "
            "three (R,G,B). Default: the model's metadata or manifest.json, else 0. A model "
            "trained on [-1, 1] wants 127.5."
        ),
    ] = None,
    std: Annotated[
        str | None,
        typer.Option(
            help="Divides the pixels after --mean: one value or three. Default: the model's "
            "metadata or manifest.json, else 1."
        ),
    ] = None,
    resize: Annotated[
        str,
        typer.Option(
            help="crop: resize the shorter side and take the centre square, as validation "
            "did in training; squash: resize the whole image to the input square, as many "
            "phone camera pipelines do."
        ),
    ] = "crop",
    workers: Annotated[
        int | None, typer.Option(help="Image decoding threads (default: one per core, at most 4).")
    ] = None,
) -> None:
    """Classify images on-device style: needs only numpy, Pillow and a TFLite interpreter.

    Prints each image's path, then lines like `alp - score: 0.5758`. Labels and input
    normalization come from the model's own TFLite metadata when it has them.
    Bad images are reported and skipped; the exit code is 1 if any failed.
    """
    from alexedge.edge_runtime.classify_command import run_classify

    if top < 1:
        raise fail(f"--top must be at least 1, got {top}")
    if resize not in ("crop", "squash"):
        raise fail(f"--resize must be crop or squash, got {resize!r}")
    if workers is not None and workers < 1:
        raise fail(f"--workers must be at least 1, got {workers}")
    code = run_classify(
        model,
        images,
        labels,
        top,
        json_output,
        threads,
        mean=_values(mean, "--mean"),
        std=_values(std, "--std"),
        resize=resize,
        workers=workers,
    )
    if code:
        raise typer.Exit(code)


def bench(
    model: Annotated[
        Path,
        typer.Argument(help="A .tflite model, or a run folder (every variant it lists)."),
    ],
    threads: Annotated[
        str | None,
        typer.Option(help="Thread counts to time, comma-separated (default: 1 and all cores)."),
    ] = None,
    runs: Annotated[int, typer.Option(help="Timed invokes per thread count.")] = 50,
    warmup: Annotated[int, typer.Option(help="Untimed invokes before timing.")] = 5,
    batch: Annotated[
        int | None,
        typer.Option(help="Images per invoke (models with a dynamic batch dimension only)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the results as one JSON document.")
    ] = False,
) -> None:
    """Time a .tflite model: cold start, median / p90 / min latency and images/s per thread count.

    Also prints the input/output types and the machine. Given a run folder, times each
    variant on this machine and names the fastest that met its agreement floor. Needs
    only the edge extra.
    """
    from alexedge.edge_runtime.bench import (
        BenchConfig,
        bench_to_json,
        format_bench,
        parse_threads,
        run_bench,
    )
    from alexedge.edge_runtime.compare import (
        compare_variants,
        comparison_to_json,
        format_comparison,
        is_run_folder,
    )

    config = BenchConfig(runs=runs, warmup=warmup, batch=batch)
    if threads is not None:
        config = BenchConfig(parse_threads(threads), runs, warmup, batch)
    if is_run_folder(model):
        compared = compare_variants(model, config)
        text = format_comparison(compared)
        typer.echo(json.dumps(comparison_to_json(compared), indent=2) if json_output else text)
        return
    result = run_bench(model, config)
    typer.echo(json.dumps(bench_to_json(result), indent=2) if json_output else format_bench(result))
