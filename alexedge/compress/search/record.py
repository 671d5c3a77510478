"""The ``search`` record of ``variants.json``: every candidate tried, and the one selected.

A reader must be able to redo the decision from the record alone: the limits, each
candidate's recipe, what it measured on the selection images, the verdict and the rule
behind a skip, the time it took, and which images selected and which reported. The
record is validated with the rest of the document (``schema.validate_variants_doc``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from alexedge.compress.search.search import SearchOutcome, Trial, Verdict

__all__ = ["CANDIDATE_KEYS", "RECORD_KEYS", "search_problems", "search_record", "trial_record"]

RECORD_KEYS = ("limits", "stopped", "seconds", "selection", "reporting", "candidates", "selected")
CANDIDATE_KEYS = ("name", "stage", "recipe", "requires", "verdict", "reason", "seconds")
_MEASURED = (
    "top1",
    "loss",
    "worst_class",
    "worst_class_loss",
    "bytes",
    "gzip_bytes",
    "latency_ms",
)


def trial_record(trial: Trial) -> dict[str, Any]:
    """One candidate row: recipe, verdict, and (when measured) the selection-image numbers."""
    candidate = trial.candidate
    row: dict[str, Any] = {
        "name": candidate.name,
        "stage": candidate.stage,
        "recipe": asdict(candidate.recipe),
        "requires": candidate.requires,
        "verdict": trial.verdict,
        "reason": trial.reason,
        "seconds": round(trial.seconds, 3),
    }
    if trial.result is not None:
        measured = asdict(trial.result)
        row.update({k: measured[k] for k in _MEASURED})
        row["recipe"]["float_layers"] = list(trial.result.float_layers)
    return row


def search_record(
    outcome: SearchOutcome,
    limits: Mapping[str, Any],
    selection: Mapping[str, Any],
    reporting: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``search`` object of ``variants.json``.

    Args:
        limits: the limits and objective asked for, with the budget.
        selection: which images selected (source, count, seed and rule or files) and how
            noisy a 1-point decision is on them.
        reporting: which images reported, and the winner and float model measured there.
        extra: anything else worth keeping (the ladder).
    """
    return {
        "limits": dict(limits),
        "stopped": outcome.stopped,
        "seconds": round(outcome.seconds, 3),
        "selection": dict(selection),
        "reporting": dict(reporting),
        "candidates": [trial_record(t) for t in outcome.trials],
        "selected": outcome.selected,
        **(extra or {}),
    }


def search_problems(record: object, variant_names: set[str]) -> list[str]:
    """Every way ``record`` breaks the ``search`` schema, as ``schema`` phrases problems."""
    if not isinstance(record, Mapping):
        return ["'search' must be an object"]
    problems = [f"search: missing {k!r}" for k in RECORD_KEYS if k not in record]
    if problems:
        return problems
    candidates = record["candidates"]
    if not isinstance(candidates, list):
        return ["search: 'candidates' must be a list"]
    verdicts: dict[str, str] = {}
    for i, row in enumerate(candidates):
        problem = _candidate_problem(row)
        if problem:
            problems.append(f"search: candidates[{i}] {problem}")
        else:
            verdicts[row["name"]] = row["verdict"]
    selected = record["selected"]
    if selected is not None:
        if verdicts.get(selected) != Verdict.MET:
            problems.append(f"search: selected {selected!r} is not a candidate that met the limits")
        if selected not in variant_names:
            problems.append(f"search: selected {selected!r} is not among the variants")
    return problems


def _candidate_problem(row: object) -> str | None:
    if not isinstance(row, Mapping):
        return "is not an object"
    missing = [k for k in CANDIDATE_KEYS if k not in row]
    if missing:
        return f"misses {', '.join(missing)}"
    if row["verdict"] not in Verdict.ALL:
        return f"verdict {row['verdict']!r} is not one of {Verdict.ALL}"
    measured = [k for k in _MEASURED if k in row]
    if row["verdict"] == Verdict.MET and len(measured) != len(_MEASURED):
        return "met the limits but has no measurements"
    numbers = [k for k in measured if k != "worst_class"]
    if not all(_is_number(row[k]) for k in numbers):
        return f"needs numbers for {', '.join(numbers)}"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
