"""``alexedge pipeline``: train -> evaluate -> prune -> export -> measure -> package -> report.

Each stage is a function over a ``_Run`` (the run folder plus what earlier stages
produced); this module only sequences them and records timings. All inputs are
validated before the first file is written.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexedge.atomic import write_json
from alexedge.config import PipelineConfig, config_to_dict
from alexedge.data.dataset import ImageDataset, load_dataset
from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.data.synth import SynthConfig, synthesize_dataset
from alexedge.errors import ConfigError
from alexedge.train.run_config import DataConfig

__all__ = ["PipelineResult", "check_output_folder", "run_pipeline"]

_MARKER = "pipeline.json"


@dataclass
class _Run:
    config: PipelineConfig
    out: Path
    dataset: ImageDataset | None = None
    train_split: DecodedSplit | None = None
    val_split: DecodedSplit | None = None
    stats: ChannelStats | None = None
    models: dict[str, Any] = field(default_factory=dict)  # "float" / "pruned" Keras models
    keras: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineResult:
    out: Path
    report: dict[str, Any]
    table: str


def _say(message: str) -> None:
    print(f"[alexedge] {message}", file=sys.stderr, flush=True)


@contextmanager
def _stage(run: _Run, name: str):
    _say(f"{name} ...")
    start = time.perf_counter()
    yield
    run.timings[name] = time.perf_counter() - start
    _say(f"{name}: {run.timings[name]:.1f} s")


def check_output_folder(out: Path, force: bool) -> None:
    """Refuse a non-empty folder unless ``force`` and it is an earlier alexedge run.

    ``--force`` deletes the folder, so it is only honoured for folders this tool
    made (they hold ``pipeline.json``): a typo cannot wipe a home directory.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not force:
        raise ConfigError(f"{out}: folder exists and is not empty (use --force to replace it)")
    if not (out / _MARKER).is_file():
        raise ConfigError(f"{out}: not an alexedge run folder; refusing to delete it with --force")


def _user_data(config: PipelineConfig) -> DataConfig:
    assert config.data is not None
    return DataConfig(
        config.data, config.layout, config.classes, config.classes_file, config.val_fraction
    )


def run_pipeline(config: PipelineConfig) -> PipelineResult:
    check_output_folder(config.out, config.force)
    dataset = _user_data(config).load(config.train.seed) if config.data else None
    synth = None if dataset else _synth_config(config)
    if config.out.exists():
        shutil.rmtree(config.out)
    config.out.mkdir(parents=True)
    run = _Run(config, config.out, dataset)
    write_json(run.out / _MARKER, {"status": "running", "config": config_to_dict(config)})
    if synth is not None:
        with _stage(run, "synthesize dataset"):
            synthesize_dataset(synth, run.out / "data")
            run.dataset = load_dataset(run.out / "data", config.classes)
    from alexedge import pipeline_stages as stages  # TensorFlow loads only from here on

    for name, step in _steps(stages):
        with _stage(run, name):
            step(run)
    write_json(run.out / _MARKER, {"status": "done", "config": config_to_dict(config)})
    from alexedge.report import variants_table

    return PipelineResult(run.out, run.report, variants_table(run.report))


def _steps(stages: Any) -> list[tuple[str, Callable[[_Run], None]]]:
    return [
        ("decode images", stages.decode),
        ("train", stages.train),
        ("evaluate Keras model", stages.evaluate_keras),
        ("prune and fine-tune", stages.prune),
        ("export TFLite variants", stages.export),
        ("measure variants", stages.measure),
        ("package Android assets", stages.package),
        ("write report", stages.report),
    ]


def _synth_config(config: PipelineConfig) -> SynthConfig:
    return SynthConfig(
        classes=config.classes or 20,
        per_class=config.synth_per_class,
        val_per_class=config.synth_val_per_class,
        size=config.synth_size,
        seed=config.train.seed,
    )
