"""The candidates an accuracy-aware search may try, as pure recipes and a ladder of stages.

A *recipe* says how one TFLite file is made from the trained model with the techniques
``alexedge compress`` already has: a pruning target, clustering, int4-aware fine-tuning,
a TFLite mode and the K worst layers of the per-layer error report kept in float. A
*stage* proposes the next candidate from what has been tried so far, so the ladder can
adapt (stop climbing sparsity at the first miss, bisect, refine the best pruning) and
still be a pure function that tests drive without TensorFlow.

Stages run cheapest first: post-training modes of the dense model cost a conversion
each; every sparsity level costs a fine-tune; clustering and int4-aware training cost a
second fine-tune on top of the best pruning; float fallback costs a per-layer error
report and a conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from alexedge.config import require
from alexedge.modes import ISOLATED, MODES, modes_with_error_report

__all__ = [
    "Candidate",
    "Ladder",
    "Recipe",
    "Stage",
    "Verdicts",
    "best_pruning",
    "ladder_stages",
]

# Float fallback ranks layers by the isolated error report (the TFLite debugger), as
# compress's --auto-float does: only the modes that have one (alexedge.modes) can fall back.
_FALLBACK_MODES = modes_with_error_report(ISOLATED)


@dataclass(frozen=True)
class Recipe:
    """How one candidate file is made from the trained model."""

    mode: str
    sparsity: float = 0.0
    clusters: int = 0  # shared values per layer; 0: not clustered
    qat4: bool = False  # fine-tuned on the int4 grid before the int4 export
    float_worst: int = 0  # the K worst layers of the error report stay float

    @property
    def source(self) -> str:
        """The Keras model the file is converted from (``float``, ``pruned75-qat4``)."""
        name = "float" if self.sparsity == 0 else f"pruned{100 * self.sparsity:.4g}"
        if self.clusters:
            name = f"{name}-clustered{self.clusters}"
        if self.qat4:
            name = f"{name}-qat4"
        return name

    @property
    def name(self) -> str:
        """Unique per recipe; the ``search-`` prefix keeps it apart from ``compress`` rows."""
        fallback = f"-autofloat{self.float_worst}" if self.float_worst else ""
        return f"search-{self.source}-{self.mode}{fallback}"

    def cannot_beat(self, other: Recipe, objective: str) -> bool:
        """True when this file cannot be smaller (``size``) or faster (``latency``) than
        ``other``'s."""
        if objective == "size":
            return self.cannot_be_smaller_than(other)
        return self.cannot_be_faster_than(other)

    def cannot_be_smaller_than(self, other: Recipe) -> bool:
        """No more zeros, no fewer bits per weight, no fewer shared values and no fewer
        layers left in float than ``other``: the file cannot gzip smaller."""
        return (
            self.sparsity <= other.sparsity
            and MODES[self.mode].weight_bits >= MODES[other.mode].weight_bits
            and _cluster_rank(self) >= _cluster_rank(other)
            and self.float_worst >= other.float_worst
        )

    def cannot_be_faster_than(self, other: Recipe) -> bool:
        """The same mode and no fewer layers in float than ``other``: the same ops on the
        same types (XNNPACK skips no zeros and no repeated values, so pruning and
        clustering buy size, not speed), plus conversions around each float layer."""
        return self.mode == other.mode and self.float_worst >= other.float_worst


def _cluster_rank(recipe: Recipe) -> float:
    return recipe.clusters or float("inf")


@dataclass(frozen=True)
class Candidate:
    """A recipe with the stage that proposed it and the candidate it depends on.

    ``requires`` names a candidate whose miss rules this one out: this recipe compresses
    that candidate's model further, so it cannot lose less.
    """

    recipe: Recipe
    stage: str
    requires: str | None = None

    @property
    def name(self) -> str:
        return self.recipe.name


class Verdicts(Protocol):
    """What a stage reads of the search so far (``search.SearchState`` implements it)."""

    def met(self, name: str) -> bool:
        """The candidate was measured and met every limit."""
        ...

    def met_candidates(self) -> list[Candidate]:
        """Every candidate measured within the limits, in the order tried."""
        ...

    def missed_rescuable(self) -> list[Candidate]:
        """Measured candidates over the loss that could still beat the best on the
        objective, the one with the smallest loss first."""
        ...


Stage = Callable[[Verdicts], Iterator[Candidate]]


@dataclass(frozen=True)
class Ladder:
    """The candidates in the order they are tried.

    Attributes:
        dense_modes: post-training modes of the trained model, smallest file first, so
            a passing small one lets the larger ones be skipped; float32 last, so that
            when nothing smaller meets the limits the search still selects a file.
        sparsities: pruning targets climbed while int8 stays within the limits.
        pruned_modes: modes exported from each pruned model (the first is the one whose
            verdict decides whether to climb; the others are its children).
        bisect_steps: halvings between the last target met and the first missed.
        clusters: shared values per layer tried on the best pruning, most first (a
            smaller count is a child of the larger).
        qat4: int4-aware fine-tune of the best pruning.
        float_fallback: up to K worst layers kept in float, on the missed int8 candidate
            closest to the limits.
    """

    dense_modes: tuple[str, ...] = ("int4", "int8", "dynamic", "float16", "float32")
    sparsities: tuple[float, ...] = (0.5, 0.75, 0.875, 0.9375)
    pruned_modes: tuple[str, ...] = ("int8", "int4")
    bisect_steps: int = 2
    clusters: tuple[int, ...] = (16,)
    qat4: bool = True
    float_fallback: int = 2

    def __post_init__(self) -> None:
        for name in ("dense_modes", "sparsities", "pruned_modes", "clusters"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = sorted(set(self.dense_modes + self.pruned_modes) - set(MODES))
        require(not unknown, f"search ladder: unknown mode(s) {unknown}")
        require(
            all(0 < s < 1 for s in self.sparsities), "search ladder: sparsities must be in (0, 1)"
        )
        require(self.bisect_steps >= 0, "search ladder: bisect_steps must be >= 0")
        require(all(2 <= k <= 256 for k in self.clusters), "search ladder: clusters in [2, 256]")
        require(self.float_fallback >= 0, "search ladder: float_fallback must be >= 0")


def ladder_stages(ladder: Ladder) -> tuple[tuple[str, Stage], ...]:
    """The stages of ``ladder`` in the order the search runs them."""
    return (
        ("dense", lambda v: _dense(ladder)),
        ("sparsity", lambda v: _sparsity(ladder, v)),
        ("refine", lambda v: _refine(ladder, v)),
        ("float-fallback", lambda v: _fallback(ladder, v)),
    )


def _dense(ladder: Ladder) -> Iterator[Candidate]:
    for mode in ladder.dense_modes:
        yield Candidate(Recipe(mode), "dense")


def _level(
    ladder: Ladder, sparsity: float, requires: str | None
) -> tuple[Iterator[Candidate], str]:
    """The candidates of one pruning target and the name of the one that decides it."""
    first = Recipe(ladder.pruned_modes[0], sparsity).name

    def candidates() -> Iterator[Candidate]:
        yield Candidate(Recipe(ladder.pruned_modes[0], sparsity), "sparsity", requires)
        for mode in ladder.pruned_modes[1:]:
            yield Candidate(Recipe(mode, sparsity), "sparsity", first)

    return candidates(), first


def _sparsity(ladder: Ladder, verdicts: Verdicts) -> Iterator[Candidate]:
    """Climb the targets while the deciding mode meets the limits, then bisect between
    the last target met and the first missed. The first level needs the dense model's
    deciding mode to have met them, when the dense stage tried it."""
    if not ladder.sparsities or not ladder.pruned_modes:
        return
    dense = Recipe(ladder.pruned_modes[0]).name
    previous = dense if ladder.pruned_modes[0] in ladder.dense_modes else None
    met, missed = 0.0, None
    for target in sorted(set(ladder.sparsities)):
        candidates, decider = _level(ladder, target, previous)
        yield from candidates
        if not verdicts.met(decider):
            missed = target
            break
        previous, met = decider, target
    if missed is None:
        return
    for _ in range(ladder.bisect_steps):
        middle = round((met + missed) / 2, 4)
        candidates, decider = _level(ladder, middle, previous)
        yield from candidates
        if verdicts.met(decider):
            previous, met = decider, middle
        else:
            missed = middle


def best_pruning(ladder: Ladder, verdicts: Verdicts) -> float:
    """The highest target whose deciding candidate met the limits (0: none did)."""
    decider = ladder.pruned_modes[0] if ladder.pruned_modes else None
    met = [
        c.recipe.sparsity
        for c in verdicts.met_candidates()
        if c.stage == "sparsity" and c.recipe.mode == decider
    ]
    return max(met, default=0.0)


def _refine(ladder: Ladder, verdicts: Verdicts) -> Iterator[Candidate]:
    """int4-aware fine-tuning and clustering of the best pruning (of the dense model
    when no target was met)."""
    target = best_pruning(ladder, verdicts)
    if ladder.qat4:
        yield Candidate(Recipe("int4", target, qat4=True), "refine")
    previous = None
    for k in sorted(set(ladder.clusters), reverse=True):
        candidate = Candidate(Recipe("int8", target, clusters=k), "refine", previous)
        yield candidate
        previous = candidate.name


def _fallback(ladder: Ladder, verdicts: Verdicts) -> Iterator[Candidate]:
    """The K worst layers in float for the missed int8 candidate closest to the limits."""
    missed = [
        c
        for c in verdicts.missed_rescuable()
        if c.recipe.mode in _FALLBACK_MODES and not c.recipe.float_worst
    ]
    if not missed or not ladder.float_fallback:
        return
    base = missed[0].recipe
    for k in range(1, ladder.float_fallback + 1):
        recipe = Recipe(base.mode, base.sparsity, base.clusters, base.qat4, float_worst=k)
        yield Candidate(recipe, "float-fallback")
