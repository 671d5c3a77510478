"""``alexedge pipeline``: options -> ``PipelineConfig`` (its stage configs) -> ``run_pipeline``.

Options default to None, "not given": each stage config then keeps the pipeline's first-run
default (``FIRST_RUN_TRAIN``, ``FIRST_RUN_COMPRESS``), which ``--help`` shows. A parameter is
named as the field it sets (``--size`` sets ``input_size``, and the built-in images' ``size``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from alexedge.cli.errors import handle_errors
from alexedge.cli.options import given, parsed, show_config_defaults
from alexedge.cli.search_options import (
    MaxClassLoss,
    MaxLoss,
    Objective,
    SearchBudget,
    SelectionData,
    search_config,
)
from alexedge.compress.config import parse_float_list, parse_name_list
from alexedge.compress.search.config import SearchConfig
from alexedge.errors import ConfigError
from alexedge.modes import QUANTIZATION_MODES
from alexedge.pipeline import FIRST_RUN_COMPRESS, FIRST_RUN_TRAIN

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
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="Training precision: auto (mixed_bfloat16 on CPUs with AVX512-BF16 or AMX, "
            "mixed_float16 on Tensor-Core GPUs, else float32), float32, mixed_float16 or "
            "mixed_bfloat16."
        ),
    ] = None,
    classes: Annotated[
        int | None,
        typer.Option(
            help="Use the first N classes (default: all; the built-in dataset's 20).",
            show_default=False,
        ),
    ] = None,
    classes_file: Annotated[
        Path | None,
        typer.Option(
            help="With --data: use the classes named in this file (one wnid/folder a line)."
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(help="With --data: its layout, auto, folders, imagenet or tiny-imagenet."),
    ] = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(help="With --data: held-out share per class when it has no val split."),
    ] = None,
    per_class: Annotated[
        int | None, typer.Option(help="Built-in dataset: training images per class.")
    ] = None,
    input_size: Annotated[
        int | None, typer.Option("--size", help="Model input size (and built-in image size), px.")
    ] = None,
    finetune_epochs: Annotated[
        int | None,
        typer.Option(help="Epochs of each compression fine-tune (pruning, QAT, clustering)."),
    ] = None,
    sparsities: Annotated[
        str | None,
        typer.Option(
            "--sparsity", help="Pruning targets in [0, 1), comma-separated; 0 for no pruning."
        ),
    ] = None,
    quantize: Annotated[
        str | None,
        typer.Option(
            help=f"TFLite modes, comma-separated: {', '.join(QUANTIZATION_MODES)} (float32 "
            "of the trained model is always made: sizes are compared with it)."
        ),
    ] = None,
    layer_errors: Annotated[
        bool | None,
        typer.Option(
            "--layer-errors/--no-layer-errors",
            help="Measure each int8 variant's per-layer error against float (worst first, in "
            "variants.json and the report).",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for data synthesis, shuffling, augmentation.")
    ] = None,
    max_loss: MaxLoss = None,
    max_class_loss: MaxClassLoss = None,
    objective: Objective = None,
    budget_minutes: SearchBudget = None,
    selection_data: SelectionData = None,
    force: Annotated[
        bool, typer.Option(help="Replace OUT if it is an earlier alexedge run folder.")
    ] = False,
) -> None:
    """Train -> compress (prune, quantize, export, measure, verify) -> package -> report.

    The same steps as `alexedge train`, `compress`, `package` and `report` in a row, on
    one run folder. Prints the accuracy-vs-size table at the end; everything else lands
    in OUT (REPORT.md, variants.json, variants/*.tflite, android_assets/, checkpoints).
    Nothing is packaged when a variant fails its agreement check (exit code 2).

    A first run is kept short on any CPU: 6 float32 training epochs of a recipe that
    learns the built-in data in that many (AdamW, no label smoothing, PCA lighting or
    dropout), one pruning fine-tune epoch, int8 variants only beside the float32
    reference, no per-layer error pass. Each long path is one option away: --epochs N,
    --precision auto (bf16 where the CPU has it), --finetune-epochs 3, --quantize
    float32,dynamic,float16,int8, --layer-errors (or `alexedge compress RUN`, whose
    defaults make all of them, on the finished run).
    """
    from alexedge.pipeline import PipelineConfig, run_pipeline

    train = FIRST_RUN_TRAIN.replace(
        **given(epochs=epochs, precision=precision, input_size=input_size, seed=seed)
    )
    compress = dataclasses.replace(
        FIRST_RUN_COMPRESS,
        **given(
            sparsities=parsed(parse_float_list, sparsities, "--sparsity"),
            quantize=parsed(parse_name_list, quantize, "--quantize"),
            finetune_epochs=finetune_epochs,
            layer_errors=layer_errors,
            seed=seed,
        ),
    )
    dataset = given(
        classes=classes, classes_file=classes_file, layout=layout, val_fraction=val_fraction
    )
    built_in = given(classes=classes, per_class=per_class, size=input_size, seed=seed)
    data_config, synth = _datasets(data, dataset, built_in)
    config = PipelineConfig(
        out=out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"),
        data=data_config,
        synth=synth,
        train=train,
        compress=compress,
        search=search_config(
            max_loss,
            max_class_loss,
            objective,
            budget_minutes,
            selection_data,
            family={"sparsities": sparsities, "quantize": quantize},
        ),
        force=force,
    )
    result = run_pipeline(config)
    typer.echo(result.table)
    typer.echo(f"\nRun folder: {result.out}  (report: {result.out / 'REPORT.md'})")


# Not SynthConfig: its module costs every command's start-up a third of a second (numpy, PIL).
show_config_defaults(pipeline, FIRST_RUN_TRAIN, FIRST_RUN_COMPRESS, SearchConfig())


def _datasets(
    data: Path | None, dataset: dict[str, Any], built_in: dict[str, Any]
) -> tuple[Any, Any]:
    """``--data``'s ``DataConfig`` or None, and the built-in dataset's recipe; an option
    of the dataset not used is refused rather than ignored."""
    from alexedge.data.synth import SynthConfig
    from alexedge.train.run_config import DataConfig

    if data is None:
        for name in ("classes_file", "layout", "val_fraction"):
            if name in dataset:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(
                    f"{flag} needs --data (the built-in dataset has its own classes, "
                    "layout and split)"
                )
        return None, SynthConfig(**built_in)
    if "per_class" in built_in:
        raise ConfigError("--per-class sizes the built-in dataset; drop it with --data")
    return DataConfig(data, **dataset), SynthConfig()
