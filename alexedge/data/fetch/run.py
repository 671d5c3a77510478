"""Download an image dataset from per-class URL lists, as ImageNet published them.

Link rot is the normal case for such lists: hosts vanish, time out, answer with HTML
error pages or with one "photo unavailable" image for every removed photo. So every
file is checked before it is kept, every URL's fate is recorded in ``manifest.jsonl``
so a rerun resumes instead of starting over, and nothing the lists, the URLs, the
servers or a planted symlink say can make us write outside ``OUT``.

Worker threads only download and check bytes (``http``, ``verify``);
every write under ``OUT`` happens on the calling thread (``store``), so that
state needs no locks and at most one file is ever half-written.
"""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from alexedge.data.fetch.config import FetchConfig
from alexedge.data.fetch.http import Downloader
from alexedge.data.fetch.lists import read_lists
from alexedge.data.fetch.manifest import MANIFEST_NAME, Manifest, Record
from alexedge.data.fetch.paths import checked_path, prepare_out, sweep_temp_files
from alexedge.data.fetch.pool import run_pool, stop_on_signals
from alexedge.data.fetch.store import Store, file_intact
from alexedge.data.fetch.types import Failure, Key, Outcome, Task
from alexedge.data.fetch.verify import DecodeBudget, check_content
from alexedge.progress import progress_bar

__all__ = ["FetchSummary", "fetch_dataset", "format_summary"]


@dataclass(frozen=True)
class FetchSummary:
    """What a run did, over every URL in the lists.

    ``downloaded + skipped_done + duplicates + failed`` is the number of distinct URLs
    listed. ``duplicates`` counts URLs whose image is already kept under another URL
    of the same class, in this run or an earlier one. ``failed`` counts every URL whose
    latest outcome is a failure, including the ``skipped_failed`` ones that failed in
    an earlier run and were not retried. ``manifest`` is the file listing every URL's
    outcome, failures with their reason.
    """

    downloaded: int
    skipped_done: int
    failed: int
    failures_by_reason: dict[str, int]
    skipped_failed: int = 0
    manifest: Path | None = None
    duplicates: int = 0


@dataclass
class _Plan:
    keys: list[Key] = field(default_factory=list)
    todo: list[Task] = field(default_factory=list)
    skipped_done: set[Key] = field(default_factory=set)
    skipped_failed: set[Key] = field(default_factory=set)


def fetch_dataset(config: FetchConfig) -> FetchSummary:
    """Download every listed URL not yet done into ``config.out/<class>/``.

    Safe to interrupt and rerun: finished files are recorded in the manifest as they
    land, and a rerun skips them (and, unless ``retry_failed``, earlier failures).
    Ctrl-C or SIGTERM (from the main thread) stops new requests, cuts the ones in
    flight, closes the manifest and raises ``KeyboardInterrupt`` within a moment.

    Raises:
        DataError: The lists folder is missing, has no ``.txt`` file, a list file
            name cannot be a class folder, or ``out`` cannot hold the dataset (a
            symlink or a file where a folder or the manifest belongs).
        KeyboardInterrupt: Stopped by Ctrl-C or SIGTERM; the manifest is consistent.
    """
    classes = read_lists(config.lists)
    out = prepare_out(config.out, classes)
    checked_path(out, MANIFEST_NAME)  # a planted link is refused before anything is written
    sweep_temp_files(out, classes)
    manifest = Manifest(out)
    stop = threading.Event()
    downloader = Downloader(config, stop)
    try:
        # Filters are process-wide and not thread-safe: set once here, not in workers.
        # Our own pixel cap (verify) replaces Pillow's warning.
        with warnings.catch_warnings(), stop_on_signals(stop, downloader.abort):
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            store = Store(out, manifest, config.placeholder_threshold)
            plan = _plan(classes, manifest.records, out, config.retry_failed)
            budget = DecodeBudget(config.decode_budget)

            def work(task: Task) -> Outcome:
                return _fetch_one(task, downloader, config, budget)

            outcomes = run_pool(plan.todo, work, config.workers, stop)
            for outcome in _with_progress(outcomes, config, len(plan.todo)):
                store.record(outcome)
    finally:
        downloader.close()
        manifest.close()
        sweep_temp_files(out, classes)
    return _summarize(plan, manifest.records, manifest.path)


def format_summary(summary: FetchSummary) -> str:
    """A few human lines for the CLI: totals, failures by reason, and where they are listed."""
    lines = [
        f"Downloaded {summary.downloaded}, already done {summary.skipped_done}, "
        f"failed {summary.failed}."
    ]
    if summary.failures_by_reason:
        width = max(len(reason) for reason in summary.failures_by_reason)
        lines.append("Failures by reason:")
        ranked = sorted(summary.failures_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.extend(f"  {reason:<{width}}  {count}" for reason, count in ranked)
    if summary.duplicates:
        lines.append(
            f"{summary.duplicates} URLs returned an image already kept under another URL "
            'of the same class (lines with "status": "duplicate").'
        )
    if summary.failed and summary.manifest is not None:
        lines.append(
            f"Every failed URL is listed with its reason in {summary.manifest} "
            '(lines with "status": "failed").'
        )
    if summary.skipped_failed:
        lines.append(
            f"{summary.skipped_failed} of the failures are from earlier runs and were not "
            "retried; pass --retry-failed to try them again."
        )
    return "\n".join(lines)


def _fetch_one(
    task: Task, downloader: Downloader, config: FetchConfig, budget: DecodeBudget
) -> Outcome:
    try:
        data = downloader.get(task.url)
        return Outcome(task, data=data, suffix=check_content(data, config.min_bytes, budget))
    except Failure as failure:
        return Outcome(task, reason=failure.reason)


def _with_progress(
    outcomes: Iterator[Outcome], config: FetchConfig, total: int
) -> Iterator[Outcome]:
    if not config.progress:
        return outcomes
    return progress_bar(outcomes, f"Fetching {total} images", total=total)


def _plan(
    classes: dict[str, list[str]], records: dict[Key, Record], out: Path, retry_failed: bool
) -> _Plan:
    plan = _Plan()
    for cls, urls in classes.items():
        for url in urls:
            task = Task(cls, url)
            plan.keys.append(task.key)
            record = records.get(task.key)
            if record is None:
                plan.todo.append(task)
            elif record.status == "done":
                if file_intact(out, record):
                    plan.skipped_done.add(task.key)
                else:  # deleted or truncated since: fetch it again
                    plan.todo.append(task)
            elif record.status == "duplicate":
                if not _original_intact(cls, record, records, out):
                    plan.todo.append(task)
            elif retry_failed:
                plan.todo.append(task)
            else:
                plan.skipped_failed.add(task.key)
    return plan


def _original_intact(cls: str, duplicate: Record, records: dict[Key, Record], out: Path) -> bool:
    original = records.get((cls, duplicate.duplicate_of))
    return (
        original is not None
        and original.status == "done"
        and original.sha256 == duplicate.sha256
        and file_intact(out, original)
    )


def _summarize(plan: _Plan, records: dict[Key, Record], manifest: Path) -> FetchSummary:
    downloaded = skipped_done = skipped_failed = duplicates = 0
    reasons: Counter[str] = Counter()
    for key in plan.keys:
        record = records[key]
        if record.status == "done":
            if key in plan.skipped_done:
                skipped_done += 1
            else:
                downloaded += 1
        elif record.status == "duplicate":
            duplicates += 1
        else:
            reasons[record.reason] += 1
            skipped_failed += key in plan.skipped_failed
    return FetchSummary(
        downloaded=downloaded,
        skipped_done=skipped_done,
        failed=sum(reasons.values()),
        failures_by_reason=dict(sorted(reasons.items())),
        skipped_failed=skipped_failed,
        manifest=manifest,
        duplicates=duplicates,
    )
