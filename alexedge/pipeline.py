"""``alexedge pipeline``: ``train`` -> ``compress`` -> ``package`` -> ``report`` on one run folder.

The pipeline is the four commands in a row, through the same library functions
(``train_run``, ``compress_run``, ``package_run``, ``write_report``), so a run made here
and one made command by command hold the same files, variant names and validated
``variants.json``. What it adds: the built-in dataset when no ``--data`` is given, one
validation of every input before the first file is written, stage timings in
``pipeline.json``, and the rule that nothing is packaged when a variant failed its
agreement floor (the run ends with that error, after the report is written).

Its defaults are a first run's (``FIRST_RUN_TRAIN``, ``FIRST_RUN_COMPRESS``): short on any
2-core CPU, with bf16 or without, and each thing cut one option away. This module
imports neither TensorFlow nor the image libraries, so the CLI reads those defaults for
``--help`` at no start-up cost.
"""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alexedge.atomic import write_json
from alexedge.compress.config import CompressConfig
from alexedge.compress.search.config import SearchConfig
from alexedge.config import config_to_dict
from alexedge.hardware import describe_hardware
from alexedge.progress import say
from alexedge.quiet import import_tensorflow
from alexedge.run import PIPELINE_MARKER, check_replaceable_folder
from alexedge.train.config import Augmentation, TrainConfig
from alexedge.train.run_config import DataConfig, RunConfig

if TYPE_CHECKING:
    from alexedge.data.decode import DecodedSplit
    from alexedge.data.synth import SynthConfig
    from alexedge.train.session import RunOutcome

__all__ = [
    "FIRST_RUN_COMPRESS",
    "FIRST_RUN_TRAIN",
    "PipelineConfig",
    "PipelineResult",
    "run_pipeline",
]

_DATA = "data"  # where the built-in dataset is written inside the run folder

# What a first run needs. Training is most of the run, so its recipe learns the built-in
# data in 6 epochs rather than 15: AdamW at batch 64, without label smoothing, PCA
# lighting or dropout (regularizers that pay over long runs; in a short one the model is
# still underfitting: train and validation top-1 stay level). In float32: bf16 (--precision
# auto) is faster only with AMX, and this short recipe lost about 4 points of top-1 in it.
FIRST_RUN_TRAIN = TrainConfig(
    epochs=6,
    batch_size=64,
    optimizer="adamw",
    learning_rate=3e-3,
    weight_decay=0.05,
    label_smoothing=0.0,
    augmentation=Augmentation(pca_sigma=0.0),
    model_options={"dropout": 0.0},
)
# The variants the report and the bundle need: int8 of the trained and the pruned model
# (the bundle is the smallest verified uint8 one) beside the float32 file every size ratio
# is taken against (always made); one pruning fine-tune epoch, at a tenth of training's
# AdamW peak (the fine-tune keeps the run's optimizer, and CompressConfig's rate is SGD's:
# at it AdamW wrecked the pruned model); no per-layer error pass (a diagnosis, not a result).
FIRST_RUN_COMPRESS = CompressConfig(
    quantize=("int8",),
    finetune_epochs=1,
    finetune_learning_rate=3e-4,
    layer_errors=False,
)


@dataclass(frozen=True)
class PipelineConfig:
    """The whole chain: the stage configs themselves, each validating its own fields.

    ``data`` None means: synthesize the built-in dataset ``synth`` into ``OUT/data``.
    """

    out: Path
    data: DataConfig | None = None
    synth: SynthConfig = field(default_factory=lambda: _built_in_dataset())
    train: TrainConfig = FIRST_RUN_TRAIN
    compress: CompressConfig = FIRST_RUN_COMPRESS
    search: SearchConfig | None = None  # --max-loss: search instead of the fixed family
    force: bool = False

    def data_config(self) -> DataConfig:
        """The dataset ``train`` reads: the user's, or the built-in one inside ``out``."""
        return self.data or DataConfig(self.out / _DATA, "folders")


@dataclass(frozen=True)
class PipelineResult:
    out: Path
    doc: dict[str, Any]  # the run's variants.json
    table: str
    timings: dict[str, float]  # wall seconds per stage
    cpu_seconds: dict[str, float]  # user + system, threads and child processes included


def run_pipeline(config: PipelineConfig) -> PipelineResult:
    """Run every stage into ``config.out``; ``AgreementError`` if a variant failed its floor.

    Raises before writing anything when an input is bad (folder, dataset, model).
    """
    check_replaceable_folder(config.out, config.force)
    synth = config.synth if config.data is None else None
    if synth is None:
        config.data_config().load(config.train.seed)  # fails on bad data before any write
    import_tensorflow()
    from alexedge.train.session import check_model

    check_model(config.train)
    if config.out.exists():
        shutil.rmtree(config.out)
    config.out.mkdir(parents=True)
    clock = _Clock()
    _mark(config, "running", clock)
    try:
        doc = _run_stages(config, synth, clock)
    except BaseException:
        _mark(config, "failed", clock)
        raise
    _mark(config, "done", clock)
    from alexedge.report import variants_table
    from alexedge.report.markdown import hardware_note

    table = f"{hardware_note(doc)}\n\n{variants_table(doc)}"
    return PipelineResult(config.out, doc, table, clock.wall, clock.cpu)


def _built_in_dataset() -> SynthConfig:
    from alexedge.data.synth import SynthConfig

    return SynthConfig()


def _run_stages(config: PipelineConfig, synth: SynthConfig | None, clock: _Clock) -> dict[str, Any]:
    from alexedge.android_assets import PackageConfig, package_run
    from alexedge.compress.planner import compress_run
    from alexedge.data.synth import synthesize_dataset
    from alexedge.report import write_report
    from alexedge.train.session import train_run

    out = config.out
    if synth is not None:
        with clock.stage("synthesize dataset"):
            synthesize_dataset(synth, out / _DATA)
    with clock.stage("train"):
        run = RunConfig(config.data_config(), config.train)
        trained = train_run(run, out, allowed=(PIPELINE_MARKER, _DATA))
    if config.search is not None:
        return _searched(config, config.search, trained, clock)
    say(_compress_estimate(out, config.compress))
    with clock.stage("compress"):
        result = compress_run(out, config.compress, strict=False, decoded=_in_memory(trained))
    if result.failed:
        say("not packaging: a variant failed its agreement check (see REPORT.md)")
    elif not any(v["io"] == "uint8" for v in result.doc["variants"]):
        say("not packaging: no uint8-input variant (`alexedge package RUN --variant NAME`)")
    else:
        with clock.stage("package"):
            package_run(out, PackageConfig(force=True))
    with clock.stage("report"):
        write_report(out)
    result.raise_for_failures()  # after the report, so the failed rows can be read there
    return result.doc


def _searched(
    config: PipelineConfig, search: SearchConfig, trained: RunOutcome, clock: _Clock
) -> dict[str, Any]:
    """``--max-loss``: the compression search instead of the family; the selected file is
    what gets packaged."""
    from alexedge.android_assets import PackageConfig, package_run
    from alexedge.compress.search.runner import search_run
    from alexedge.report import write_report

    with clock.stage("compress search"):
        found = search_run(config.out, config.compress, search, decoded=_in_memory(trained))
    if found.selected is None:
        say(f"not packaging: no candidate met --max-loss {search.max_loss:g} (see REPORT.md)")
    else:
        with clock.stage("package"):
            package_run(config.out, PackageConfig(force=True))
    with clock.stage("report"):
        write_report(config.out)
    return found.doc


def _in_memory(trained: RunOutcome) -> tuple[DecodedSplit, DecodedSplit] | None:
    """The splits training decoded, when both are in memory (not streamed from files)."""
    from alexedge.data.decode import DecodedSplit

    data = trained.data
    if data is None or not isinstance(data.train, DecodedSplit):
        return None
    return (data.train, data.val) if isinstance(data.val, DecodedSplit) else None


@dataclass
class _Clock:
    """Wall and CPU seconds of each stage. CPU seconds (user + system of every thread and
    of the child processes, e.g. the dataset's renderers) compare runs on a busy machine,
    where the wall clock measures the other programs as well."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        say(f"{name} ...")
        wall, cpu = time.perf_counter(), _cpu_seconds()
        yield
        self.wall[name] = round(time.perf_counter() - wall, 3)
        self.cpu[name] = round(_cpu_seconds() - cpu, 3)
        say(f"{name}: {self.wall[name]:.1f} s ({self.cpu[name]:.1f} s of CPU)")


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _mark(config: PipelineConfig, status: str, clock: _Clock) -> None:
    record = {
        "status": status,
        "config": config_to_dict(config),
        "timings_s": clock.wall,
        "cpu_s": clock.cpu,
        "hardware": describe_hardware(),
    }
    write_json(config.out / PIPELINE_MARKER, record)


def _compress_estimate(out: Path, compress: CompressConfig) -> str:
    from alexedge.train.callbacks import read_history
    from alexedge.train.eta import epoch_estimate, fine_tune_line

    seconds = epoch_estimate([float(row["seconds"]) for row in read_history(out)])
    return fine_tune_line(seconds, len(compress.pruning_targets), compress.finetune_epochs)
