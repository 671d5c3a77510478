"""Accuracy-aware compression search: ``alexedge compress RUN --max-loss PT``.

``space`` holds the candidate recipes and the ladder of stages (cheapest first),
``search`` the loop and its skip and budget rules, ``selection`` the split of the
validation images into the half that selects and the half that reports, ``record`` the
``search`` object of ``variants.json``; those four are pure (no TensorFlow) and tested
with a fake evaluator. ``runner`` builds and measures real candidates with the techniques
of ``alexedge compress`` and writes the run's files.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Candidate",
    "Ladder",
    "Limits",
    "Recipe",
    "Result",
    "SearchConfig",
    "SearchOutcome",
    "Verdict",
    "ladder_stages",
    "run_search",
    "search_run",
    "split_selection",
]

_HOME = {
    "Candidate": "space",
    "Ladder": "space",
    "Recipe": "space",
    "ladder_stages": "space",
    "Limits": "search",
    "Result": "search",
    "SearchOutcome": "search",
    "Verdict": "search",
    "run_search": "search",
    "split_selection": "selection",
    "SearchConfig": "config",
    "search_run": "runner",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'alexedge.compress.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"alexedge.compress.search.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
