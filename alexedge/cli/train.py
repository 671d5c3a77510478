"""``alexedge train``, ``evaluate`` and ``models``: options -> ``RunConfig`` -> library call.

Recipe options default to None, meaning "not given": the value then comes from
``--config``/``--preset`` or the recipe picked from the data, so a config file can be
re-run with a few options changed. Each recipe option's parameter is named as the field
it sets (``TrainConfig``, its ``Augmentation`` or a model option), so adding an option is
a field and a parameter with its help. TensorFlow is imported inside the commands only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from alexedge.cli.errors import handle_errors
from alexedge.cli.options import show_config_defaults
from alexedge.errors import ConfigError
from alexedge.quiet import import_tensorflow
from alexedge.train.backbone import FREEZE_EPOCHS
from alexedge.train.config import Augmentation, TrainConfig
from alexedge.train.run_config import DataConfig

__all__ = ["register"]

_RECIPE = "Recipe (default: --config/--preset, else picked from the data; shown: quick recipe)"
_INPUT = "Input (default: --config, else auto without a cache)"
_FINE_TUNE = "Fine-tune (with --init-from RUN)"
# ``train``'s options that are not recipe options: the run's and the dataset's.
_RUN_OPTIONS = ("data", "out", "config", "preset", "resume", "init_from")
_DATA_OPTIONS = ("classes", "classes_file", "layout", "val_fraction")


def register(app: typer.Typer) -> None:
    """Add the ``train``, ``evaluate`` and ``models`` commands to ``app``."""
    app.command("train")(handle_errors(train))
    app.command("evaluate")(handle_errors(evaluate))
    app.command("models")(handle_errors(models))


def _opt(help_text: str, *names: str) -> Any:
    return typer.Option(*names, help=help_text, rich_help_panel=_RECIPE)


def train(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Dataset folder (any layout `alexedge data` reads).")
    ] = None,
    model: Annotated[str | None, _opt("Model name (see `alexedge models`).")] = None,
    classes: Annotated[int | None, typer.Option(help="Use the first N classes.")] = None,
    classes_file: Annotated[
        Path | None, typer.Option(help="Use the classes named in this file, one a line.")
    ] = None,
    layout: Annotated[
        str | None, typer.Option(help="auto, folders, imagenet or tiny-imagenet.")
    ] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Held-out share per class if the data has no val split.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="New run folder. Default: runs/<time>.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Train the run described by this config.toml again.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="A tuned recipe, e.g. tiny-imagenet (see presets.py).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this run folder from its last finished epoch.")
    ] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune this finished run for --data's classes: every layer copied but "
            "the classifier head, which starts fresh; the run's model, --size and model "
            "options are the defaults, its input normalization is kept.",
            rich_help_panel=_FINE_TUNE,
        ),
    ] = None,
    freeze_epochs: Annotated[
        int | None,
        typer.Option(
            help="Train the new head alone for the first N epochs, the copied layers frozen "
            f"(batch norm in inference mode). Default with --init-from: {FREEZE_EPOCHS}, at "
            "most --epochs minus 1 (measured: the same top-1 as 0); --epochs: a linear probe.",
            rich_help_panel=_FINE_TUNE,
            show_default=False,
        ),
    ] = None,
    finetune_lr_scale: Annotated[
        float | None,
        typer.Option(
            help="After the frozen epochs every layer trains at the schedule's rate times this. "
            "Measured on a 15-epoch fine-tune of 50 images a class, lower rates underfitted "
            "(0.3: -3 pt top-1, 0.1: -4 to -6 pt); a long fine-tune may want less.",
            rich_help_panel=_FINE_TUNE,
        ),
    ] = None,
    input_size: Annotated[int | None, _opt("Input size in pixels.", "--size")] = None,
    width: Annotated[float | None, _opt("Conv channel multiplier.")] = None,
    fc_units: Annotated[int | None, _opt("Units of the hidden FC layers.")] = None,
    dropout: Annotated[float | None, _opt("Dropout rate of the FC layers.")] = None,
    towers: Annotated[
        int | None, _opt("alexnet only: 2 = the paper's two-tower convs, 1 = ungrouped.")
    ] = None,
    pool2: Annotated[
        bool | None,
        _opt(
            "alexnet-reduced only: --no-pool2 keeps conv3-5 at conv2's resolution (the "
            "paper's 13x13 maps at 56 px input instead of 6x6; 1.3x the MACs at width 0.5).",
            "--pool2/--no-pool2",
        ),
    ] = None,
    epochs: Annotated[int | None, _opt("Epochs.")] = None,
    batch_size: Annotated[int | None, _opt("Global batch size.")] = None,
    optimizer: Annotated[str | None, _opt("sgd or adamw.")] = None,
    learning_rate: Annotated[
        float | None, _opt("Peak learning rate (adamw default 1e-3).", "--lr")
    ] = None,
    momentum: Annotated[float | None, _opt("SGD momentum / AdamW beta_1.")] = None,
    nesterov: Annotated[bool | None, _opt("Nesterov momentum.", "--nesterov/--no-nesterov")] = None,
    weight_decay: Annotated[float | None, _opt("Decoupled weight decay (adamw 0.05).")] = None,
    schedule: Annotated[str | None, _opt("cosine or step (÷10 at --step-epochs).")] = None,
    warmup_epochs: Annotated[int | None, _opt("Linear warmup epochs.")] = None,
    step_epochs: Annotated[str | None, _opt("Step schedule epochs, e.g. 30,60.")] = None,
    plateau_patience: Annotated[int | None, _opt("LR ÷10 after N flat epochs (0 off).")] = None,
    early_stopping_patience: Annotated[
        int | None, _opt("Stop after N flat epochs (0 off).")
    ] = None,
    average_epochs: Annotated[
        int | None,
        _opt(
            "The model is the mean of the last N epochs' weights (SWA), batch-norm statistics "
            "re-estimated; 0: the epoch with the best validation top-1, a choice made on "
            "the images that then measure it."
        ),
    ] = None,
    swa_lr: Annotated[
        float | None,
        _opt(
            "With --average-epochs N: train those N epochs at this constant learning rate, "
            "the cosine decaying to it before them (SWA); 0: decay through them."
        ),
    ] = None,
    loss: Annotated[str | None, _opt("crossentropy or hinge (Crammer-Singer SVM).")] = None,
    label_smoothing: Annotated[float | None, _opt("Label smoothing (crossentropy).")] = None,
    pca_sigma: Annotated[
        float | None, _opt("PCA colour noise sigma (paper 0.1).", "--pca-lighting")
    ] = None,
    random_resized_crop: Annotated[
        bool | None, _opt("Inception-style crops.", "--random-resized-crop/--fixed-crop")
    ] = None,
    min_crop_area: Annotated[
        float | None, _opt("Smallest area share of a random-resized crop (Inception 0.08).")
    ] = None,
    erasing: Annotated[
        float | None, _opt("Random-erasing probability per image (0 off; Zhong et al. 0.5).")
    ] = None,
    trivial_augment: Annotated[
        bool | None,
        _opt(
            "TrivialAugment: one random op (colour, contrast, equalize, rotate, shear, ...) "
            "at a random strength per image.",
            "--trivial-augment/--no-trivial-augment",
        ),
    ] = None,
    mixup: Annotated[float | None, _opt("Mixup Beta alpha (0 off; e.g. 0.2).")] = None,
    cutmix: Annotated[
        float | None, _opt("CutMix Beta alpha (0 off; e.g. 1.0). With --mixup: one per batch.")
    ] = None,
    plain_epochs: Annotated[
        int | None,
        _opt(
            "Train the last N epochs on plain crops and flips: no mixup, CutMix, erasing or "
            "TrivialAugment (0: augment to the end)."
        ),
    ] = None,
    time_budget: Annotated[
        float | None,
        _opt(
            "Minutes the whole run may take here: after epoch 1 the epochs are set to fit "
            "(--epochs at most) and the learning-rate schedule spans exactly those (0: none)."
        ),
    ] = None,
    precision: Annotated[
        str | None,
        _opt(
            "auto (mixed_float16 on Tensor-Core GPUs, mixed_bfloat16 on CPUs with AVX512-BF16 or "
            "AMX, else float32), float32, mixed_float16 or mixed_bfloat16."
        ),
    ] = None,
    xla: Annotated[bool | None, _opt("Compile the train step with XLA.", "--xla/--no-xla")] = None,
    strategy: Annotated[str | None, _opt("auto, mirrored or multiworker (TF_CONFIG).")] = None,
    seed: Annotated[int | None, _opt("Seed for splits, init, shuffling, augmentation.")] = None,
    input_mode: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Where training images live between epochs. memory: decoded once into RAM "
            "(fastest; refused if they need more than half the free memory). stream: decoded "
            "from their files every epoch, for datasets larger than memory (ImageNet). "
            "auto: memory when the split fits, else stream.",
            rich_help_panel=_INPUT,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="With streamed input: keep the decoded images in this folder after the "
            "first epoch, so later epochs and resumed runs skip decoding. Needs images x S x "
            "S x 3 bytes of disk (S = 256 for --size 224); shuffling then uses a 1 GB buffer.",
            rich_help_panel=_INPUT,
        ),
    ] = None,
) -> None:
    """Train a model into a run folder: checkpoints, history, TensorBoard logs, metrics.

    Example: `alexedge train --data DIR --model alexnet-reduced --classes 20`.
    `--config RUN/config.toml` trains a finished run again; `--resume RUN` continues
    a stopped one. Datasets larger than memory are read from disk every epoch
    (`--input stream`, optionally `--cache-dir`).
    """
    recipe = dict(locals())  # every parameter above, by name; None = not given
    del recipe["ctx"]
    for name in _RUN_OPTIONS:
        del recipe[name]
    data_options = {name: recipe.pop(name) for name in _DATA_OPTIONS}
    recipe["step_epochs"] = _int_list(step_epochs, "--step-epochs")
    recipe["cache_dir"] = None if cache_dir is None else str(cache_dir)
    if resume is not None:
        given = {**recipe, **data_options, "out": out, "config": config, "preset": preset}
        given["init_from"] = init_from
        _refuse_with_resume(ctx, given)
        import_tensorflow()
        from alexedge.train.session import resume_run

        outcome = resume_run(resume, data)
    else:
        run_config, recipe_line = _run_config(data, config, preset, recipe, data_options, init_from)
        typer.echo(recipe_line)
        import_tensorflow()
        from alexedge.train.session import train_run

        outcome = train_run(
            run_config, out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
        )
    _print_outcome(outcome)


show_config_defaults(train, TrainConfig(), Augmentation(), DataConfig(Path()))


def _int_list(text: str | None, option: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(
            f"{option} takes comma-separated epochs, e.g. 30,60; got {text!r}"
        ) from None


def _refuse_with_resume(ctx: typer.Context, options: dict[str, Any]) -> None:
    given = [k for k, v in options.items() if v is not None]
    if given:
        flags = {param.name: param.opts[0] for param in ctx.command.params}
        names = ", ".join(flags[k] for k in given)
        raise ConfigError(
            f"--resume continues a run with its own config.toml; drop {names} "
            "(only --data may point at moved data)"
        )


def _run_config(
    data: Path | None,
    config: Path | None,
    preset: str | None,
    recipe: dict[str, Any],
    data_options: dict[str, Any],
    init_from: Path | None = None,
) -> tuple[Any, str]:
    """The run's config and the line saying where its recipe and input size came from.

    Without ``--config`` or ``--preset`` the recipe is picked from the data
    (``presets.recipe_for_data``); recipe options override whichever base it is.
    ``init_from``: the backbone's architecture replaces the base's
    (``backbone.fine_tune_config``).
    """
    from alexedge.data.dataset import check_root
    from alexedge.train.presets import data_shape, get_preset, recipe_for_data
    from alexedge.train.run_config import DataConfig, RunConfig, read_run_config, train_config_with

    if config is not None and preset is not None:
        raise ConfigError("give either --config or --preset, not both")
    base = read_run_config(config) if config is not None else None
    if base is None and data is None:
        raise ConfigError("--data is required (or --config RUN/config.toml)")
    data_values: dict[str, Any] = dict(vars(base.data)) if base else {"root": data}
    if data is not None:
        data_values["root"] = data
    if data_options["classes"] is not None or data_options["classes_file"] is not None:
        data_values.update(classes=None, classes_file=None)
    data_values.update({k: v for k, v in data_options.items() if v is not None})
    data_config = DataConfig(**data_values)
    check_root(data_config.root)  # a mistyped folder fails before anything is read
    given = [k for k, v in recipe.items() if v is not None]
    changed = f", with {len(given)} option(s) changed" if given else ""
    if base is not None:
        train_base, line, size_from = base.train, f"recipe: {config}{changed}", "the config's"
    elif preset is not None:
        train_base, line = get_preset(preset), f"recipe: preset {preset}{changed}"
        size_from = f"preset {preset}'s"
    else:
        picked = recipe_for_data(data_shape(data_config.load(recipe["seed"] or 0)))
        train_base, size_from = picked.config, f"the {picked.name} recipe's"
        line = (
            f"recipe: {picked.name}, picked from the data ({picked.why}){changed}; "
            "--preset NAME or --config FILE chooses another"
        )
    if init_from is not None:
        from alexedge.train.backbone import fine_tune_config, read_backbone

        train = fine_tune_config(train_base, read_backbone(init_from), **recipe)
        size_from = f"the backbone's, {init_from}"
    else:
        train = train_config_with(train_base, **recipe)
    if recipe["input_size"] is not None:
        size_from = "given"
    line += f"; input {train.input_size} px ({size_from}; --size N chooses another)"
    return RunConfig(data_config, train), line


def _print_outcome(outcome: Any) -> None:
    result = outcome.result
    if outcome.epochs_before == result.epochs_run:
        typer.echo(f"nothing to resume: the run finished after {result.epochs_run} epochs")
    elif outcome.epochs_before:
        typer.echo(f"resumed after epoch {outcome.epochs_before}")
    typer.echo(f"epochs: {result.epochs_run}  best validation top-1: {result.best_top1:.4f}")
    typer.echo(f"model: {result.weights}")
    _print_metrics(outcome.metrics)
    where = "run folder" if outcome.chief else "worker done; the chief writes the run folder"
    typer.echo(f"{where}: {outcome.run_dir}")


def _print_metrics(metrics: dict[str, Any]) -> None:
    for name in ("centre_crop", "ten_crop"):
        if name in metrics:
            m = metrics[name]
            label = name.replace("_", "-")
            typer.echo(f"{label:<12} top-1 {m['top1']:.4f}  top-5 {m['top5']:.4f}")


def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder made by `alexedge train`.")],
    data: Annotated[
        Path | None, typer.Option(help="Dataset folder (default: the one the run recorded).")
    ] = None,
    ten_crop: Annotated[
        bool, typer.Option(help="Also score the paper's 10-crop (corners, centre, mirrors).")
    ] = False,
) -> None:
    """Score RUN/best.keras on the run's validation split; writes RUN/metrics.json."""
    from alexedge.run import check_trained_run

    check_trained_run(run)
    import_tensorflow()
    from alexedge.train.evaluate import evaluate_run

    metrics = evaluate_run(run, data, ten_crop)
    typer.echo(f"{metrics['images']} validation images")
    _print_metrics(metrics)


def models() -> None:
    """List the registered models: input size, parameters and multiply-adds."""
    import_tensorflow()
    from alexedge.train.models.summary import describe_models

    rows = describe_models()
    typer.echo(f"{'name':<18} {'input':>7} {'classes':>8} {'parameters':>13} {'mult-adds':>15}")
    for r in rows:
        typer.echo(
            f"{r.name:<18} {r.input_size:>7} {r.num_classes:>8} {r.params:>13,} {r.macs:>15,}"
            f"  {r.description}"
        )
