"""``SearchConfig``: what ``alexedge compress RUN --max-loss PT`` asks for.

The search reuses the ``CompressConfig`` for how each technique runs (fine-tune epochs,
skipped layers, calibration, I/O type); this config holds only what the search adds:
the limits, the objective, the budget, where the selection images come from, and the
ladder of candidates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alexedge.compress.search.search import Limits
from alexedge.compress.search.space import Ladder
from alexedge.config import require
from alexedge.errors import ConfigError

__all__ = ["REPLACED_OPTIONS", "SearchConfig", "refuse_replaced_options"]

# The family options a search replaces with its ladder (CompressConfig field -> flag):
# given with --max-loss they are refused, not ignored, by every command that searches.
REPLACED_OPTIONS = {
    "sparsities": "--sparsity",
    "quantize": "--quantize",
    "qat": "--qat",
    "qat_int4": "--qat-int4",
    "clusters": "--clusters",
    "float_layers": "--float-layers",
    "auto_float": "--auto-float",
}


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


def refuse_replaced_options(options: Mapping[str, object]) -> None:
    """``ConfigError`` naming each option of ``REPLACED_OPTIONS`` given beside a search.

    Args:
        options: a command's family options by ``CompressConfig`` field (None: not
            given); fields a command does not have may be absent.
    """
    given = [flag for name, flag in REPLACED_OPTIONS.items() if options.get(name) is not None]
    if given:
        raise ConfigError(f"--max-loss searches its own ladder: drop {', '.join(given)}")
