"""The options of a compression search, declared once for ``alexedge compress`` and
``alexedge pipeline``: ``--max-loss`` turns the fixed family into the search, and the
others only mean something with it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alexedge.compress.search.config import REPLACED_OPTIONS
from alexedge.errors import ConfigError

if TYPE_CHECKING:
    from alexedge.compress.search.config import SearchConfig

__all__ = [
    "MaxClassLoss",
    "MaxLoss",
    "Objective",
    "SearchBudget",
    "SelectionData",
    "search_config",
]

MaxLoss = Annotated[
    float | None,
    typer.Option(
        metavar="PT",
        show_default=False,
        help="Search instead of the fixed family: the smallest file (see --objective) that "
        "loses at most PT top-1 points against the float Keras model. Candidates (PTQ modes, "
        "a sparsity ladder with bisection, int4-aware fine-tuning and clustering of the best "
        "pruning, float fallback) are chosen on a fixed half of each class's validation "
        "images and the winner is reported on the other half; the search replaces "
        f"{', '.join(REPLACED_OPTIONS.values())}.",
    ),
]
MaxClassLoss = Annotated[
    float | None,
    typer.Option(metavar="PT", help="With --max-loss: no class may lose more than PT points."),
]
Objective = Annotated[
    str | None,
    typer.Option(
        help="With --max-loss: what the winner is smallest in, size (gzip -9 bytes) or "
        "latency (median 1-thread invoke time, measured on this machine)."
    ),
]
SearchBudget = Annotated[
    float | None,
    typer.Option(
        "--search-budget",
        metavar="MINUTES",
        help="With --max-loss: no candidate starts after this; the best so far is selected.",
    ),
]
SelectionData = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR",
        help="With --max-loss: images (DIR/<class>/*) that choose the winner instead of half "
        "the validation split, which then reports it whole.",
    ),
]


def search_config(
    max_loss: float | None,
    max_class_loss: float | None,
    objective: str | None,
    budget_minutes: float | None,
    selection_data: Path | None,
    *,
    family: Mapping[str, object],
) -> SearchConfig | None:
    """The ``SearchConfig`` of the options given, or None without ``--max-loss``.

    ``family`` holds the command's family options by field (None: not given): those a
    search replaces are refused beside ``--max-loss`` (``REPLACED_OPTIONS``).
    """
    others = {
        "--max-class-loss": max_class_loss,
        "--objective": objective,
        "--search-budget": budget_minutes,
        "--selection-data": selection_data,
    }
    if max_loss is None:
        given_alone = [flag for flag, value in others.items() if value is not None]
        if given_alone:
            raise ConfigError(f"{', '.join(given_alone)}: only with --max-loss PT (a search)")
        return None
    from alexedge.cli.options import given
    from alexedge.compress.search.config import SearchConfig, refuse_replaced_options

    refuse_replaced_options(family)

    return SearchConfig(
        **given(
            max_loss=max_loss,
            max_class_loss=max_class_loss,
            objective=objective,
            budget_minutes=budget_minutes,
            selection_data=selection_data,
        )
    )
