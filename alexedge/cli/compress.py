"""``alexedge compress RUN``: the CLI face of ``alexedge.compress.planner.compress_run``.

Options are parsed and validated into a ``CompressConfig`` before anything heavy is
imported, so bad input costs no TensorFlow start-up and leaves the run folder untouched.
Each option's parameter is named as the field it sets and defaults to None, "not given":
the field's default, in ``CompressConfig`` alone, is what ``--help`` shows.
The run's report is rewritten at the end, as the pipeline does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from alexedge.compress.config import CompressConfig, parse_float_list, parse_name_list
from alexedge.compress.search.config import SearchConfig
from alexedge.modes import MODES
from alexedge.quiet import import_tensorflow

__all__ = ["register"]

_MODES_HELP = "; ".join(f"{m.name}: {m.description}" for m in MODES.values())


def compress(
    run: Annotated[Path, typer.Argument(help="A training run folder (with best.keras).")],
    sparsities: Annotated[
        str | None,
        typer.Option(
            "--sparsity", help="Pruning targets in [0, 1), comma-separated; 0 for no pruning."
        ),
    ] = None,
    quantize: Annotated[
        str | None,
        typer.Option(help=f"TFLite modes, comma-separated ({_MODES_HELP})."),
    ] = None,
    qat: Annotated[
        bool | None,
        typer.Option(
            "--qat/--no-qat",
            help="Also quantization-aware training (pruning-preserving when pruned).",
        ),
    ] = None,
    qat_int4: Annotated[
        bool | None,
        typer.Option(
            "--qat-int4/--no-qat-int4",
            help="Also fine-tune each pruned model (the trained one if nothing is pruned) with "
            "its Conv/Dense weights on the int4 grid, zeros kept, and export it as int4 "
            "(needs int4 in --quantize): the int4 file then computes what that model does.",
        ),
    ] = None,
    clusters: Annotated[
        int | None,
        typer.Option(
            help="Shared weight values per layer, for each pruned model (the trained one if "
            "nothing is pruned); 0: no clustering."
        ),
    ] = None,
    finetune_epochs: Annotated[
        int | None, typer.Option(help="Epochs of each fine-tune (pruning, clustering, QAT).")
    ] = None,
    finetune_mixing: Annotated[
        bool | None,
        typer.Option(
            "--finetune-mixing/--no-finetune-mixing",
            help="Mix batches (mixup/CutMix) in fine-tunes as the run's recipe did; by "
            "default fine-tunes keep its crops and flips on real images, which kept more "
            "top-1 after pruning.",
        ),
    ] = None,
    io_type: Annotated[
        str | None,
        typer.Option("--io", help="Input/output type of int8 models: uint8, int8 or float32."),
    ] = None,
    per_channel: Annotated[
        bool | None,
        typer.Option(
            "--per-channel/--per-tensor",
            help="One int8 scale per output channel (safer) or per tensor (smaller file).",
        ),
    ] = None,
    representative: Annotated[
        Path | None,
        typer.Option(help="Folder of images for int8 calibration (default: training images)."),
    ] = None,
    calibration_images: Annotated[
        int | None, typer.Option(help="How many representative images calibrate int8.")
    ] = None,
    skip_layers: Annotated[
        str | None,
        typer.Option(help='Layers never pruned or clustered, comma-separated ("": none).'),
    ] = None,
    allocation: Annotated[
        str | None,
        typer.Option(help="Per-layer sparsity: uniform, or size (ERK: more in dense layers)."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Where the run's dataset is now, if it moved.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for fine-tuning and calibration.")] = None,
    layer_errors: Annotated[
        bool | None,
        typer.Option(
            "--layer-errors/--no-layer-errors",
            help="Measure each int8, int16x8 and int4 variant's per-layer error against float "
            "(worst first, in variants.json and the report; int8 isolated per layer by the "
            "TFLite debugger, int16x8/int4 accumulated through the network).",
        ),
    ] = None,
    float_layers: Annotated[
        str | None,
        typer.Option(
            help="Conv/Dense layers to keep in float in an extra int8 variant, comma-separated "
            "(e.g. conv1,fc8)."
        ),
    ] = None,
    auto_float: Annotated[
        int | None,
        typer.Option(
            help="Also an int8 variant with the K worst layers of the error report in float "
            "(0: none)."
        ),
    ] = None,
    max_loss: MaxLoss = None,
    max_class_loss: MaxClassLoss = None,
    objective: Objective = None,
    budget_minutes: SearchBudget = None,
    selection_data: SelectionData = None,
) -> None:
    """Prune, cluster, quantize and export a trained run as verified TFLite variants.

    Writes RUN/variants/<name>.tflite and RUN/variants.json (sizes, gzip sizes, zeros,
    top-1/top-5 with the edge runtime, latency, agreement with the Keras model). Exits
    non-zero when a variant disagrees with its Keras model beyond its floor.
    """
    options = dict(locals())  # every parameter above, by name; None = not given
    for name in ("run", "representative", "data"):  # the command's own, not the config's
        del options[name]
    search = search_config(*(options.pop(name) for name in _SEARCH), family=options)
    options["sparsities"] = parsed(parse_float_list, sparsities, "--sparsity")
    options["quantize"] = parsed(parse_name_list, quantize, "--quantize")
    options["skip_layers"] = parsed(_names, skip_layers, "--skip-layers")
    options["float_layers"] = parsed(_names, float_layers, "--float-layers")
    config = CompressConfig(**given(**options))
    from alexedge.run import check_trained_run

    check_trained_run(run)
    import_tensorflow()
    if search is not None:
        _search(run, config, search, representative, data)
        return
    from alexedge.compress.planner import compress_run
    from alexedge.report import write_report

    result = compress_run(run, config, representative=representative, data_root=data, strict=False)
    report = write_report(run)
    typer.echo(report.table)
    typer.echo(f"\nVariants: {run / 'variants'}  (measurements: {run / 'variants.json'})")
    result.raise_for_failures()


show_config_defaults(compress, CompressConfig(), SearchConfig())

_SEARCH = ("max_loss", "max_class_loss", "objective", "budget_minutes", "selection_data")


def _search(
    run: Path,
    config: CompressConfig,
    search: SearchConfig,
    representative: Path | None,
    data: Path | None,
) -> None:
    from alexedge.compress.search.runner import search_run
    from alexedge.report import write_report

    result = search_run(run, config, search, representative=representative, data_root=data)
    report = write_report(run)
    typer.echo(report.table)
    chosen = result.selected or f"none met --max-loss {search.max_loss:g}"
    typer.echo(f"\nSelected: {chosen}  (every candidate: {run / 'REPORT.md'}, variants.json)")


def _names(text: str, option: str) -> tuple[str, ...]:
    # Unlike --quantize, an empty list is a choice here: --skip-layers "" prunes every layer.
    return tuple(part.strip() for part in text.split(",") if part.strip())


def register(app: typer.Typer) -> None:
    app.command("compress")(handle_errors(compress))
