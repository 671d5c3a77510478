"""``alexedge train`` as a library call: dataset -> run folder -> fit -> metrics.

``train_run`` starts a run folder, ``resume_run`` continues one. Every check that can
fail on the user's input (model name, input size, classes, output folder) runs before
the first file is written or an image decoded. Only the chief of a multi-worker
cluster writes the folder; the other workers train alongside and write nothing.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import alexedge.train.loop as loop
from alexedge.atomic import write_json
from alexedge.data.stats import ChannelStats
from alexedge.data.stream import prepare_cache_dir
from alexedge.errors import ConfigError, ModelError
from alexedge.hardware import describe_hardware
from alexedge.progress import say
from alexedge.run import (
    BEST_MODEL,
    DATA_STATS,
    TRAIN_CONFIG,
    check_new_run_folder,
    reload_dataset,
    remove_stale_temporaries,
)
from alexedge.train.backbone import Backbone, read_backbone
from alexedge.train.callbacks import read_state
from alexedge.train.config import TrainConfig
from alexedge.train.distribute import is_chief, make_strategy
from alexedge.train.eta import start_line
from alexedge.train.evaluate import evaluate_model, update_metrics
from alexedge.train.models import get_spec
from alexedge.train.models.registry import resolve_options
from alexedge.train.precision import detect_precision
from alexedge.train.prepare import PreparedData, prepare_data, write_data_files
from alexedge.train.run_config import (
    RUN_CONFIG,
    RunConfig,
    read_run_config,
    write_run_config,
)
from alexedge.train.transfer import CopyPlan, check_backbone_fits, load_backbone_model

__all__ = ["RunOutcome", "check_model", "resume_run", "train_run"]


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    result: loop.TrainResult
    metrics: dict[str, Any]  # empty on workers other than the chief
    epochs_before: int  # epochs already done when this call started (resume)
    chief: bool = True  # False on the workers of a cluster that write nothing
    train_images: int = 0  # training images (after skipping the unreadable files known)
    # The splits as trained on, so a caller that goes on in the same process (the
    # pipeline's compress stage) need not decode them again.
    data: PreparedData | None = field(default=None, repr=False, compare=False)


def check_model(config: TrainConfig) -> TrainConfig:
    """``config`` with every model option the family takes, checked before any work.

    ``precision="auto"`` becomes this machine's choice (``detect_precision``).
    Raises ``ModelError`` for an unknown model, an input too small for it, an option
    its family does not have or a value it refuses.
    """
    spec = get_spec(config.model)
    if config.input_size < spec.min_input_size:
        raise ModelError(
            f"{config.model} needs input of at least {spec.min_input_size}x"
            f"{spec.min_input_size}, got --size {config.input_size}"
        )
    precision = detect_precision() if config.precision == "auto" else config.precision
    return config.replace(
        model_options=resolve_options(config.model, config.model_options), precision=precision
    )


def train_run(config: RunConfig, out: Path, allowed: tuple[str, ...] = ()) -> RunOutcome:
    """Train ``config`` into the new run folder ``out``.

    ``allowed``: names that may already be in ``out`` (the pipeline's marker and data).
    """
    started = time.monotonic()
    config = RunConfig(config.data, check_model(config.train))
    chief = is_chief(make_strategy(config.train.strategy))  # before any other TF work
    if chief:
        say(start_line(config.train.epochs, config.train.time_budget))
    dataset = config.data.load(config.train.seed)
    if chief:
        check_new_run_folder(out, allowed)
    backbone = None
    if config.train.init_from:
        backbone, plan = _check_backbone(config.train, dataset.num_classes)
        config = RunConfig(config.data, config.train.replace(init_from=str(backbone.run)))
    prepare_cache_dir(config.train.cache_dir)
    data = prepare_data(dataset, config.train.input_size, input_mode=config.train.input_mode)
    if backbone is not None:
        data = _with_backbone_normalization(data, backbone)
    if chief:
        recorded = dataclasses.replace(
            config.data, root=Path(dataset.root).resolve(), layout=dataset.layout
        )
        out.mkdir(parents=True, exist_ok=True)
        write_run_config(out / RUN_CONFIG, RunConfig(recorded, config.train))
        write_json(out / TRAIN_CONFIG, dataclasses.asdict(config.train))
        write_data_files(out, data, config.data.val_fraction, config.train.seed)
        if backbone is not None:
            say(plan.line(backbone))
            record = {**backbone.record(), "copied": plan.copied, "fresh": plan.fresh}
            update_metrics(out, {"init_from": record})
    return _fit_and_evaluate(data, config.train, out, chief, 0, started)


def _check_backbone(config: TrainConfig, num_classes: int) -> tuple[Backbone, CopyPlan]:
    """The backbone run and which layers it gives, before anything is written."""
    backbone = read_backbone(Path(config.init_from))
    source = load_backbone_model(backbone)
    model = loop.build_network(config, num_classes, backbone.stats)
    return backbone, check_backbone_fits(config, model, source, backbone)


def _with_backbone_normalization(data: PreparedData, backbone: Backbone) -> PreparedData:
    # The copied layers learned on inputs normalized by the backbone's mean/std; the
    # new images' colour basis still drives their PCA lighting.
    stats = dataclasses.replace(data.stats, mean=backbone.stats.mean, std=backbone.stats.std)
    return dataclasses.replace(data, stats=stats)


def resume_run(run_dir: Path, data_root: Path | None = None) -> RunOutcome:
    """Continue ``run_dir`` from its last finished epoch, with its own config and data.

    ``data_root`` points at the dataset when it has moved since the run started.
    """
    if not (run_dir / RUN_CONFIG).is_file():
        raise ConfigError(f"{run_dir}: not an alexedge train run folder (no {RUN_CONFIG})")
    config = read_run_config(run_dir / RUN_CONFIG)
    started = time.monotonic()
    config = RunConfig(config.data, check_model(config.train))
    chief = is_chief(make_strategy(config.train.strategy))
    dataset = reload_dataset(run_dir, data_root)
    prepare_cache_dir(config.train.cache_dir)
    data = prepare_data(
        dataset, config.train.input_size, _saved_stats(run_dir), config.train.input_mode
    )
    before = read_state(run_dir).epochs_done
    if chief:
        remove_stale_temporaries(run_dir)
    return _fit_and_evaluate(data, config.train, run_dir, chief, before, started)


def _saved_stats(run_dir: Path) -> ChannelStats | None:
    path = run_dir / DATA_STATS
    return ChannelStats.from_dict(json.loads(path.read_text())) if path.is_file() else None


def _fit_and_evaluate(
    data: PreparedData,
    config: TrainConfig,
    run_dir: Path,
    chief: bool,
    before: int,
    started: float,
) -> RunOutcome:
    classes = data.dataset.num_classes
    result = loop.train(data.train, data.val, classes, data.stats, config, run_dir, started)
    metrics: dict[str, Any] = {}
    if chief:
        metrics = evaluate_model(result.model, data.val, config.input_size, ten_crop=True)
        update_metrics(
            run_dir,
            {
                **metrics,
                "split": "val",
                "images": len(data.val),
                "checkpoint": BEST_MODEL,
                "weights": result.weights,
                "epochs": result.epochs_run,
                "hardware": describe_hardware(),
                **_timing(config, result, started),
            },
        )
    return RunOutcome(run_dir, result, metrics, before, chief, len(data.train), data)


def _timing(config: TrainConfig, result: loop.TrainResult, started: float) -> dict[str, Any]:
    """This call's seconds (a resumed run's: since it resumed) and the budget's plan."""
    seconds = time.monotonic() - started
    if not config.time_budget:
        return {"run_seconds": round(seconds, 1)}
    budget = config.time_budget * 60
    say(f"run took {seconds:.0f} s of its {budget:.0f} s time budget ({seconds / budget:.0%})")
    plan = {"minutes": config.time_budget, "planned_epochs": result.planned_epochs}
    return {"run_seconds": round(seconds, 1), "time_budget": plan}
