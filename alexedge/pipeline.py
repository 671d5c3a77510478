"""``alexedge pipeline``: ``train`` -> ``compress`` -> ``package`` -> ``report`` on one run folder.

The pipeline is the four commands in a row, through the same library functions
(``train_run``, ``compress_run``, ``package_run``, ``write_report``), so a run made here
and one made command by command hold the same files, variant names and validated
``variants.json``. What it adds: the built-in dataset when no ``--data`` is given, one
validation of every input before the first file is written, stage timings in
``pipeline.json``, and the rule that nothing is packaged when a variant failed its
agreement floor (the run ends with that error, after the report is written).
"""

from __future__ import annotations

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
from alexedge.data.decode import DecodedSplit
from alexedge.data.synth import SynthConfig, synthesize_dataset
from alexedge.hardware import describe_hardware
from alexedge.progress import say
from alexedge.quiet import import_tensorflow
from alexedge.run import PIPELINE_MARKER, check_replaceable_folder
from alexedge.train.config import TrainConfig
from alexedge.train.run_config import DataConfig, RunConfig

if TYPE_CHECKING:
    from alexedge.train.session import RunOutcome

__all__ = ["PipelineConfig", "PipelineResult", "run_pipeline"]

_DATA = "data"  # where the built-in dataset is written inside the run folder


@dataclass(frozen=True)
class PipelineConfig:
    """The whole chain: the stage configs themselves, each validating its own fields.

    ``data`` None means: synthesize the built-in dataset ``synth`` into ``OUT/data``.
    """

    out: Path
    data: DataConfig | None = None
    synth: SynthConfig = field(default_factory=SynthConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    compress: CompressConfig = field(default_factory=CompressConfig)
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
    timings: dict[str, float]


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
    timings: dict[str, float] = {}
    _mark(config, "running", timings)
    try:
        doc = _run_stages(config, synth, timings)
    except BaseException:
        _mark(config, "failed", timings)
        raise
    _mark(config, "done", timings)
    from alexedge.report import variants_table
    from alexedge.report.markdown import hardware_note

    table = f"{hardware_note(doc)}\n\n{variants_table(doc)}"
    return PipelineResult(config.out, doc, table, timings)


def _run_stages(
    config: PipelineConfig, synth: SynthConfig | None, timings: dict[str, float]
) -> dict[str, Any]:
    from alexedge.android_assets import PackageConfig, package_run
    from alexedge.compress.planner import compress_run
    from alexedge.report import write_report
    from alexedge.train.session import train_run

    out = config.out
    if synth is not None:
        with _stage("synthesize dataset", timings):
            synthesize_dataset(synth, out / _DATA)
    with _stage("train", timings):
        run = RunConfig(config.data_config(), config.train)
        trained = train_run(run, out, allowed=(PIPELINE_MARKER, _DATA))
    if config.search is not None:
        return _searched(config, config.search, trained, timings)
    say(_compress_estimate(out, config.compress))
    with _stage("compress", timings):
        result = compress_run(out, config.compress, strict=False, decoded=_in_memory(trained))
    if result.failed:
        say("not packaging: a variant failed its agreement check (see REPORT.md)")
    elif not any(v["io"] == "uint8" for v in result.doc["variants"]):
        say("not packaging: no uint8-input variant (`alexedge package RUN --variant NAME`)")
    else:
        with _stage("package", timings):
            package_run(out, PackageConfig(force=True))
    with _stage("report", timings):
        write_report(out)
    result.raise_for_failures()  # after the report, so the failed rows can be read there
    return result.doc


def _searched(
    config: PipelineConfig, search: SearchConfig, trained: RunOutcome, timings: dict[str, float]
) -> dict[str, Any]:
    """``--max-loss``: the compression search instead of the family; the selected file is
    what gets packaged."""
    from alexedge.android_assets import PackageConfig, package_run
    from alexedge.compress.search.runner import search_run
    from alexedge.report import write_report

    with _stage("compress search", timings):
        found = search_run(config.out, config.compress, search, decoded=_in_memory(trained))
    if found.selected is None:
        say(f"not packaging: no candidate met --max-loss {search.max_loss:g} (see REPORT.md)")
    else:
        with _stage("package", timings):
            package_run(config.out, PackageConfig(force=True))
    with _stage("report", timings):
        write_report(config.out)
    return found.doc


def _in_memory(trained: RunOutcome) -> tuple[DecodedSplit, DecodedSplit] | None:
    """The splits training decoded, when both are in memory (not streamed from files)."""
    data = trained.data
    if data is None or not isinstance(data.train, DecodedSplit):
        return None
    return (data.train, data.val) if isinstance(data.val, DecodedSplit) else None


@contextmanager
def _stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    say(f"{name} ...")
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 3)
    say(f"{name}: {timings[name]:.1f} s")


def _mark(config: PipelineConfig, status: str, timings: dict[str, float]) -> None:
    record = {
        "status": status,
        "config": config_to_dict(config),
        "timings_s": timings,
        "hardware": describe_hardware(),
    }
    write_json(config.out / PIPELINE_MARKER, record)


def _compress_estimate(out: Path, compress: CompressConfig) -> str:
    from alexedge.train.callbacks import read_history
    from alexedge.train.eta import epoch_estimate, fine_tune_line

    seconds = epoch_estimate([float(row["seconds"]) for row in read_history(out)])
    return fine_tune_line(seconds, len(compress.pruning_targets), compress.finetune_epochs)
