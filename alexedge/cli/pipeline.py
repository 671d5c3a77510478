"""``alexedge pipeline``: options -> ``PipelineConfig`` -> ``run_pipeline``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import handle_errors
from alexedge.modes import DEFAULT_MODES, QUANTIZATION_MODES

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("pipeline")(handle_errors(pipeline))


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
    finetune_epochs: Annotated[
        int, typer.Option(help="Epochs of each compression fine-tune (pruning, QAT, clustering).")
    ] = 3,
    sparsity: Annotated[
        str,
        typer.Option(help="Pruning targets in [0, 1), comma-separated; 0 for no pruning."),
    ] = "0.75",
    quantize: Annotated[
        str,
        typer.Option(help=f"TFLite modes, comma-separated: {', '.join(QUANTIZATION_MODES)}."),
    ] = ",".join(DEFAULT_MODES),
    seed: Annotated[
        int, typer.Option(help="Seed for data synthesis, shuffling, augmentation.")
    ] = 0,
    force: Annotated[
        bool, typer.Option(help="Replace OUT if it is an earlier alexedge run folder.")
    ] = False,
) -> None:
    """Train -> compress (prune, quantize, export, measure, verify) -> package -> report.

    The same steps as `alexedge train`, `compress`, `package` and `report` in a row, on
    one run folder. Prints the accuracy-vs-size table at the end; everything else lands
    in OUT (REPORT.md, variants.json, variants/*.tflite, android_assets/, checkpoints).
    Nothing is packaged when a variant fails its agreement check (exit code 2).
    """
    from alexedge.compress.config import CompressConfig, parse_float_list, parse_name_list
    from alexedge.pipeline import PipelineConfig, run_pipeline
    from alexedge.train.config import TrainConfig

    config = PipelineConfig(
        out=out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"),
        data=data,
        classes=classes,
        classes_file=classes_file,
        layout=layout,
        val_fraction=val_fraction,
        train=TrainConfig(epochs=epochs, input_size=size, seed=seed),
        compress=CompressConfig(
            sparsities=parse_float_list(sparsity, "--sparsity"),
            quantize=parse_name_list(quantize, "--quantize"),
            finetune_epochs=finetune_epochs,
            seed=seed,
        ),
        synth_per_class=per_class,
        synth_size=max(size, 16),
        force=force,
    )
    result = run_pipeline(config)
    typer.echo(result.table)
    typer.echo(f"\nRun folder: {result.out}  (report: {result.out / 'REPORT.md'})")
