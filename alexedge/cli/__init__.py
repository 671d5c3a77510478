"""The ``alexedge`` command: a thin Typer layer over library functions.

Every command parses options, builds a config, calls one library function and
prints. Expected failures (``AlexEdgeError``) become one line on stderr and exit
code 2; heavy imports (TensorFlow) happen inside the commands that need them, so
``--help`` and the edge-only install stay fast and TensorFlow-free.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from alexedge import cli_compress, cli_train
from alexedge.cli_errors import fail as _fail
from alexedge.cli_errors import handle_errors
from alexedge.errors import AlexEdgeError

# Quiet TensorFlow's C++ start-up chatter before anything can import it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

app = typer.Typer(
    help="Train AlexNet-style image classifiers, compress them, export TFLite and ship them "
    "to phones.\n\nStart with `alexedge pipeline`: it runs everything on a built-in dataset.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Make, check and download datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.command()
@handle_errors
def pipeline(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder-per-class dataset (DATA/train/<class>, DATA/val/<class>). "
            "Default: synthesize the built-in dataset into OUT/data."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder for every artifact. Default: runs/<timestamp>.")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 15,
    classes: Annotated[
        int | None, typer.Option(help="Use the first N classes (default: all; 20 for built-in).")
    ] = None,
    classes_file: Annotated[
        Path | None,
        typer.Option(help="Use the classes named in this file (one wnid/folder a line)."),
    ] = None,
    layout: Annotated[
        str, typer.Option(help="Dataset layout: auto, folders, imagenet or tiny-imagenet.")
    ] = "auto",
    val_fraction: Annotated[
        float, typer.Option(help="Held-out share per class when the data has no val split.")
    ] = 0.1,
    per_class: Annotated[
        int, typer.Option(help="Built-in dataset: training images per class.")
    ] = 400,
    size: Annotated[int, typer.Option(help="Model input size in pixels.")] = 64,
    finetune_epochs: Annotated[int, typer.Option(help="Pruning fine-tune epochs.")] = 3,
    sparsity: Annotated[float, typer.Option(help="Pruning target sparsity in [0, 1).")] = 0.75,
    seed: Annotated[
        int, typer.Option(help="Seed for data synthesis, shuffling, augmentation.")
    ] = 0,
    force: Annotated[
        bool, typer.Option(help="Replace OUT if it is an earlier alexedge run folder.")
    ] = False,
) -> None:
    """Train -> evaluate -> prune -> export TFLite variants -> measure -> package -> report.

    Prints the accuracy-vs-size table at the end; everything else lands in OUT
    (REPORT.md, variants.json, variants/*.tflite, android_assets/, checkpoints).
    """
    from alexedge.config import CompressConfig, PipelineConfig, TrainConfig
    from alexedge.pipeline import run_pipeline

    config = PipelineConfig(
        out=out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"),
        data=data,
        classes=classes,
        classes_file=classes_file,
        layout=layout,
        val_fraction=val_fraction,
        train=TrainConfig(epochs=epochs, input_size=size, seed=seed),
        compress=CompressConfig(sparsity=sparsity, finetune_epochs=finetune_epochs, seed=seed),
        synth_per_class=per_class,
        synth_size=max(size, 16),
        force=force,
    )
    result = run_pipeline(config)
    typer.echo(result.table)
    typer.echo(f"\nRun folder: {result.out}  (report: {result.out / 'REPORT.md'})")


@data_app.command("synth")
@handle_errors
def data_synth(
    out: Annotated[
        Path, typer.Argument(help="Folder to create (OUT/train/<class>, OUT/val/<class>).")
    ],
    classes: Annotated[int, typer.Option(help="Number of classes.")] = 20,
    per_class: Annotated[int, typer.Option(help="Training images per class.")] = 400,
    val_per_class: Annotated[int, typer.Option(help="Validation images per class.")] = 50,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 64,
    seed: Annotated[int, typer.Option(help="Same seed, byte-identical dataset.")] = 0,
    force: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Write the built-in procedurally generated dataset as real JPEG files."""
    from alexedge.data.synth import SynthConfig, synthesize_dataset

    config = SynthConfig(
        classes=classes, per_class=per_class, val_per_class=val_per_class, size=size, seed=seed
    )
    if force and out.is_dir() and any(out.iterdir()):
        if not (out / "synth_config.json").is_file():
            raise AlexEdgeError(f"{out}: not a synthesized dataset; refusing to delete it")
        shutil.rmtree(out)
    path = synthesize_dataset(config, out)
    typer.echo(f"wrote {classes} classes x ({per_class} train + {val_per_class} val) to {path}")


@data_app.command("check")
@handle_errors
def data_check(
    folder: Annotated[Path, typer.Argument(help="Folder to scan (recursively) for image files.")],
    workers: Annotated[int | None, typer.Option(help="Parallel decoders.")] = None,
) -> None:
    """Decode every image file and list the unreadable ones with the reason (exit 1 if any)."""
    from alexedge.data.check import check_images, format_check_report

    report = check_images(folder, workers)
    typer.echo(format_check_report(report))
    if not report.ok:
        raise typer.Exit(1)


@data_app.command("fetch")
@handle_errors
def data_fetch(
    lists: Annotated[Path, typer.Argument(help="Folder of <class>.txt files, one URL a line.")],
    out: Annotated[Path, typer.Argument(help="Destination: OUT/<class>/<file>.")],
    workers: Annotated[int, typer.Option(help="Parallel downloads.")] = 8,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to connect.")] = 5.0,
    read_timeout: Annotated[float, typer.Option(help="Seconds of silence while reading.")] = 15.0,
    retries: Annotated[int, typer.Option(help="Retries for timeouts, 5xx and 429.")] = 3,
    max_bytes: Annotated[int, typer.Option(help="Abort files larger than this.")] = 20_000_000,
    min_bytes: Annotated[int, typer.Option(help="Drop files smaller than this.")] = 5_000,
    retry_failed: Annotated[
        bool, typer.Option(help="Retry URLs that failed in an earlier run.")
    ] = False,
) -> None:
    """Download images from per-class URL lists; resumable, placeholder-aware."""
    from alexedge.data.fetch import FetchConfig, fetch_dataset, format_summary

    summary = fetch_dataset(
        FetchConfig(
            lists=lists,
            out=out,
            workers=workers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            max_bytes=max_bytes,
            min_bytes=min_bytes,
            retry_failed=retry_failed,
        )
    )
    typer.echo(format_summary(summary))


@app.command()
@handle_errors
def classify(
    model: Annotated[Path, typer.Argument(help="A .tflite classifier.")],
    images: Annotated[list[Path], typer.Argument(help="Image files or folders (walked).")],
    labels: Annotated[
        Path | None, typer.Option(help="labels.txt (default: beside the model).")
    ] = None,
    top: Annotated[int, typer.Option(help="How many classes to print per image.")] = 5,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
    threads: Annotated[int | None, typer.Option(help="Interpreter threads.")] = None,
) -> None:
    """Classify images on-device style: needs only numpy, Pillow and a TFLite interpreter.

    Prints each image's path, then lines like `alp - score: 0.5758`.
    Bad images are reported and skipped; the exit code is 1 if any failed.
    """
    from alexedge.edge_runtime import run_classify

    if top < 1:
        raise _fail(f"--top must be at least 1, got {top}")
    code = run_classify(model, images, labels, top, json_output, threads)
    if code:
        raise typer.Exit(code)


@app.command()
@handle_errors
def models() -> None:
    """List the registered models: input size, parameters and multiply-adds."""
    from alexedge.train.models.summary import describe_models

    rows = describe_models()
    typer.echo(f"{'name':<18} {'input':>7} {'classes':>8} {'parameters':>13} {'mult-adds':>15}")
    for r in rows:
        typer.echo(
            f"{r.name:<18} {r.input_size:>7} {r.num_classes:>8} {r.params:>13,} {r.macs:>15,}"
            f"  {r.description}"
        )


@app.command()
@handle_errors
def report(run: Annotated[Path, typer.Argument(help="A run folder with variants.json.")]) -> None:
    """Rewrite RUN/REPORT.md from RUN/variants.json and print the variants table."""
    import json

    from alexedge.atomic import write_text
    from alexedge.report import render_report, variants_table

    source = run / "variants.json"
    if not source.is_file():
        raise AlexEdgeError(f"{source}: not found; run `alexedge pipeline` first")
    try:
        doc = json.loads(source.read_text())
        text, table = render_report(doc), variants_table(doc)
    except (ValueError, KeyError, TypeError) as e:
        raise AlexEdgeError(f"{source}: not a valid variants.json ({e})") from e
    write_text(run / "REPORT.md", text)
    typer.echo(table)


cli_train.register(app)
cli_compress.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
