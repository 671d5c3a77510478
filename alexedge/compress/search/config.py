"""``SearchConfig``: what ``alexedge compress RUN --max-loss PT`` asks for.

The search reuses the ``CompressConfig`` for how each technique runs (fine-tune epochs,
skipped layers, calibration, I/O type); this config holds only what the search adds:
the limits, the objective, the budget, where the selection images come from, and the
ladder of candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alexedge.compress.search.search import Limits
from alexedge.compress.search.space import Ladder
from alexedge.config import require

__all__ = ["SearchConfig"]


@dataclass(frozen=True)
class SearchConfig:
    """Accuracy-aware compression search.

    Attributes:
        max_loss: top-1 points the selected file may lose against the float Keras model.
        max_class_loss: points any one class may lose (None: no per-class limit).
        objective: ``size`` (gzip -9 bytes) or ``latency`` (median 1-thread invoke time
            measured on this machine).
        budget_minutes: no candidate starts after this; the best so far is selected.
        selection_data: folder of ``<class>/<image>`` images that choose the winner; the
            whole validation split then reports it. None: a fixed half of each class of
            the validation split selects and the other half reports.
        ladder: the candidates and their order (``space.Ladder``).
    """

    max_loss: float = 1.0
    max_class_loss: float | None = None
    objective: str = "size"
    budget_minutes: float = 60.0
    selection_data: Path | None = None
    ladder: Ladder = field(default_factory=Ladder)

    def __post_init__(self) -> None:
        self.limits()  # validates the limits and the objective
        require(
            self.budget_minutes > 0,
            f"--search-budget must be > 0 minutes, got {self.budget_minutes}",
        )

    def limits(self) -> Limits:
        return Limits(self.max_loss, self.max_class_loss, self.objective)
