"""``alexedge compress RUN``: the CLI face of ``alexedge.compress.planner.compress_run``.

Options are parsed and validated into a ``CompressConfig`` before anything heavy is
imported, so bad input costs no TensorFlow start-up and leaves the run folder untouched.
The run's report is rewritten at the end, as the pipeline does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alexedge.cli.errors import handle_errors
from alexedge.modes import DEFAULT_MODES, MODES
from alexedge.quiet import import_tensorflow

__all__ = ["register"]

_MODES_HELP = "; ".join(f"{m.name}: {m.description}" for m in MODES.values())


def compress(
    run: Annotated[Path, typer.Argument(help="A training run folder (with best.keras).")],
    sparsity: Annotated[
        str, typer.Option(help="Pruning targets in [0, 1), comma-separated; 0 for no pruning.")
    ] = "0.75",
    quantize: Annotated[
        str,
        typer.Option(help=f"TFLite modes, comma-separated ({_MODES_HELP})."),
    ] = ",".join(DEFAULT_MODES),
    qat: Annotated[
        bool,
        typer.Option(help="Also quantization-aware training (pruning-preserving when pruned)."),
    ] = False,
    qat_int4: Annotated[
        bool,
        typer.Option(
            help="Also fine-tune each pruned model (the trained one if nothing is pruned) with "
            "its Conv/Dense weights on the int4 grid, zeros kept, and export it as int4 "
            "(needs int4 in --quantize): the int4 file then computes what that model does."
        ),
    ] = False,
    clusters: Annotated[
        int,
        typer.Option(
            help="Shared weight values per layer, for each pruned model (the trained one if "
            "nothing is pruned); 0: no clustering."
        ),
    ] = 0,
    finetune_epochs: Annotated[
        int, typer.Option(help="Epochs of each fine-tune (pruning, clustering, QAT).")
    ] = 3,
    finetune_mixing: Annotated[
        bool,
        typer.Option(
            help="Mix batches (mixup/CutMix) in fine-tunes as the run's recipe did; by "
            "default fine-tunes keep its crops and flips on real images, which kept more "
            "top-1 after pruning."
        ),
    ] = False,
    io: Annotated[
        str, typer.Option(help="Input/output type of int8 models: uint8, int8 or float32.")
    ] = "uint8",
    per_channel: Annotated[
        bool,
        typer.Option(
            "--per-channel/--per-tensor",
            help="One int8 scale per output channel (safer) or per tensor (smaller file).",
        ),
    ] = True,
    representative: Annotated[
        Path | None,
        typer.Option(help="Folder of images for int8 calibration (default: training images)."),
    ] = None,
    calibration_images: Annotated[
        int, typer.Option(help="How many representative images calibrate int8.")
    ] = 200,
    skip_layers: Annotated[
        str, typer.Option(help="Layers never pruned or clustered, comma-separated.")
    ] = "conv1",
    allocation: Annotated[
        str, typer.Option(help="Per-layer sparsity: uniform, or size (ERK: more in dense layers).")
    ] = "uniform",
    data: Annotated[
        Path | None, typer.Option(help="Where the run's dataset is now, if it moved.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for fine-tuning and calibration.")] = 0,
    layer_errors: Annotated[
        bool,
        typer.Option(
            help="Measure each int8, int16x8 and int4 variant's per-layer error against float "
            "(worst first, in variants.json and the report; int8 isolated per layer by the "
            "TFLite debugger, int16x8/int4 accumulated through the network)."
        ),
    ] = True,
    float_layers: Annotated[
        str,
        typer.Option(
            help="Conv/Dense layers to keep in float in an extra int8 variant, comma-separated "
            "(e.g. conv1,fc8)."
        ),
    ] = "",
    auto_float: Annotated[
        int,
        typer.Option(
            help="Also an int8 variant with the K worst layers of the error report in float "
            "(0: none)."
        ),
    ] = 0,
) -> None:
    """Prune, cluster, quantize and export a trained run as verified TFLite variants.

    Writes RUN/variants/<name>.tflite and RUN/variants.json (sizes, gzip sizes, zeros,
    top-1/top-5 with the edge runtime, latency, agreement with the Keras model). Exits
    non-zero when a variant disagrees with its Keras model beyond its floor.
    """
    from alexedge.compress.config import CompressConfig, parse_float_list, parse_name_list

    config = CompressConfig(
        sparsities=parse_float_list(sparsity, "--sparsity"),
        quantize=parse_name_list(quantize, "--quantize"),
        qat=qat,
        qat_int4=qat_int4,
        clusters=clusters,
        finetune_epochs=finetune_epochs,
        finetune_mixing=finetune_mixing,
        io_type=io,
        per_channel=per_channel,
        calibration_images=calibration_images,
        skip_layers=tuple(s.strip() for s in skip_layers.split(",") if s.strip()),
        allocation=allocation,
        seed=seed,
        layer_errors=layer_errors,
        float_layers=parse_name_list(float_layers, "--float-layers") if float_layers else (),
        auto_float=auto_float,
    )
    from alexedge.run import check_trained_run

    check_trained_run(run)
    import_tensorflow()
    from alexedge.compress.planner import compress_run
    from alexedge.report import write_report

    result = compress_run(run, config, representative=representative, data_root=data, strict=False)
    report = write_report(run)
    typer.echo(report.table)
    typer.echo(f"\nVariants: {run / 'variants'}  (measurements: {run / 'variants.json'})")
    result.raise_for_failures()


def register(app: typer.Typer) -> None:
    app.command("compress")(handle_errors(compress))
