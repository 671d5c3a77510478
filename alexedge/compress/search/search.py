"""The search loop: try candidates stage by stage, skip what cannot win, stop at the budget.

Pure on purpose: the loop takes the stages (``space.ladder_stages``), an ``evaluate``
callable that builds and measures one candidate, a clock and the budget, so its rules are
tested with a fake evaluator and a fake clock. The rules:

- a candidate whose ``requires`` missed the limits (or was itself skipped for that) is
  skipped: compressing a model further does not give back what it lost;
- a candidate whose recipe cannot gzip smaller (``size``) or run faster (``latency``)
  than the best so far (``Recipe.cannot_beat``) is skipped;
- the clock is read before every evaluation: once the budget is spent the loop stops and
  keeps the best so far (a candidate already started runs to its end: a fine-tune cannot
  be cut in the middle);
- only a candidate within every limit can be selected; among those the smallest (or
  fastest) wins, then the smaller loss, then the name, so the outcome is deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from alexedge.compress.search.space import Candidate, Stage
from alexedge.config import require
from alexedge.errors import AlexEdgeError

__all__ = [
    "BLOCKING",
    "OBJECTIVES",
    "Limits",
    "Result",
    "SearchOutcome",
    "SearchState",
    "Trial",
    "Verdict",
    "judge",
    "run_search",
]

OBJECTIVES = ("size", "latency")
# Loss is a difference of shares of whole images: compare with room for float rounding.
_EPSILON = 1e-9


class Verdict:
    """The verdict of each trial, as written to ``variants.json``."""

    MET = "met"
    OVER_LOSS = "over-loss"
    OVER_CLASS_LOSS = "over-class-loss"
    FAILED = "failed-verification"
    ERROR = "error"
    SKIPPED_PARENT = "skipped-parent-missed"
    SKIPPED_LARGER = "skipped-cannot-win"

    ALL = (MET, OVER_LOSS, OVER_CLASS_LOSS, FAILED, ERROR, SKIPPED_PARENT, SKIPPED_LARGER)


# A candidate with one of these verdicts rules out the candidates that require it.
BLOCKING = (
    Verdict.OVER_LOSS,
    Verdict.OVER_CLASS_LOSS,
    Verdict.FAILED,
    Verdict.ERROR,
    Verdict.SKIPPED_PARENT,
)


@dataclass(frozen=True)
class Limits:
    """What the user asked for: top-1 points lost against the float Keras model, the
    most any one class may lose (None: no limit), and what "best" means."""

    max_loss: float
    max_class_loss: float | None = None
    objective: str = "size"

    def __post_init__(self) -> None:
        require(self.max_loss >= 0, f"--max-loss must be >= 0 points, got {self.max_loss}")
        require(
            self.max_class_loss is None or self.max_class_loss >= 0,
            f"--max-class-loss must be >= 0 points, got {self.max_class_loss}",
        )
        require(
            self.objective in OBJECTIVES,
            f"--objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}",
        )


@dataclass(frozen=True)
class Result:
    """One candidate measured on the selection images."""

    top1: float  # share of the selection images
    loss: float  # top-1 points below the float Keras model on the same images
    worst_class: str
    worst_class_loss: float  # points
    bytes: int
    gzip_bytes: int
    latency_ms: float  # median, 1 thread
    verified: bool = True  # agreement with its own Keras model reached the mode's floor
    error: str | None = None
    float_layers: tuple[str, ...] = ()

    def score(self, objective: str) -> float:
        return float(self.gzip_bytes if objective == "size" else self.latency_ms)


@dataclass(frozen=True)
class Trial:
    """A candidate the loop reached: measured, or skipped with the rule that skipped it."""

    candidate: Candidate
    verdict: str
    result: Result | None = None
    seconds: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class SearchOutcome:
    trials: tuple[Trial, ...]
    selected: str | None
    stopped: str  # "done": every stage ran out; "budget": the budget was spent
    seconds: float

    def trial(self, name: str) -> Trial:
        return next(t for t in self.trials if t.candidate.name == name)


def judge(result: Result, limits: Limits) -> str:
    """The verdict of a measured candidate."""
    if not result.verified:
        return Verdict.FAILED
    if result.loss > limits.max_loss + _EPSILON:
        return Verdict.OVER_LOSS
    if (
        limits.max_class_loss is not None
        and result.worst_class_loss > limits.max_class_loss + _EPSILON
    ):
        return Verdict.OVER_CLASS_LOSS
    return Verdict.MET


class SearchState:
    """The trials so far, in order; what the stages read (``space.Verdicts``)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.trials: dict[str, Trial] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.trials

    def add(self, trial: Trial) -> None:
        self.trials[trial.candidate.name] = trial

    def met(self, name: str) -> bool:
        trial = self.trials.get(name)
        return trial is not None and trial.verdict == Verdict.MET

    def met_candidates(self) -> list[Candidate]:
        return [t.candidate for t in self.trials.values() if t.verdict == Verdict.MET]

    def best(self) -> Trial | None:
        met = [t for t in self.trials.values() if t.verdict == Verdict.MET and t.result]
        return min(met, key=self._rank, default=None)

    def missed_rescuable(self) -> list[Candidate]:
        best = self.best()
        objective = self.limits.objective
        missed = [
            t
            for t in self.trials.values()
            if t.verdict in (Verdict.OVER_LOSS, Verdict.OVER_CLASS_LOSS)
            and t.result is not None
            and (best is None or t.result.score(objective) < best.result.score(objective))
        ]
        return [t.candidate for t in sorted(missed, key=self._closest)]

    def skip_reason(self, candidate: Candidate) -> tuple[str, str] | None:
        """(verdict, reason) when a rule rules ``candidate`` out without measuring it."""
        parent = self.trials.get(candidate.requires or "")
        if parent is not None and parent.verdict in BLOCKING:
            return Verdict.SKIPPED_PARENT, f"{parent.candidate.name} was {parent.verdict}"
        best = self.best()
        objective = self.limits.objective
        if best is not None and candidate.recipe.cannot_beat(best.candidate.recipe, objective):
            better = "gzip smaller" if objective == "size" else "run faster"
            return Verdict.SKIPPED_LARGER, f"cannot {better} than {best.candidate.name}"
        return None

    def _rank(self, trial: Trial) -> tuple[float, float, str]:
        assert trial.result is not None
        result = trial.result
        return (result.score(self.limits.objective), result.loss, trial.candidate.name)

    def _closest(self, trial: Trial) -> tuple[float, float, str]:
        assert trial.result is not None
        result = trial.result
        return (result.loss, result.score(self.limits.objective), trial.candidate.name)


def _next(stage: Stage, state: SearchState) -> Candidate | None:
    proposed: Iterator[Candidate] = stage(state)
    return next((c for c in proposed if c.name not in state), None)


def run_search(
    stages: Iterable[tuple[str, Stage]],
    evaluate: Callable[[Candidate], Result],
    limits: Limits,
    budget_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> SearchOutcome:
    """Try the stages' candidates in order; return every trial and the one selected.

    ``evaluate`` raising ``AlexEdgeError`` (a conversion the mode refuses) records an
    ``error`` trial and the search goes on; any other exception is a bug and propagates.
    """
    state = SearchState(limits)
    start = clock()
    stopped = "done"
    for _, stage in stages:
        while (candidate := _next(stage, state)) is not None:
            skip = state.skip_reason(candidate)
            if skip is not None:
                state.add(Trial(candidate, skip[0], reason=skip[1]))
                continue
            if clock() - start >= budget_seconds:
                stopped = "budget"
                break
            state.add(_evaluate(candidate, evaluate, limits, clock))
        if stopped == "budget":
            break
    best = state.best()
    return SearchOutcome(
        tuple(state.trials.values()),
        best.candidate.name if best else None,
        stopped,
        clock() - start,
    )


def _evaluate(
    candidate: Candidate,
    evaluate: Callable[[Candidate], Result],
    limits: Limits,
    clock: Callable[[], float],
) -> Trial:
    began = clock()
    try:
        result = evaluate(candidate)
    except AlexEdgeError as e:
        return Trial(candidate, Verdict.ERROR, seconds=clock() - began, reason=str(e))
    return Trial(candidate, judge(result, limits), result, clock() - began, result.error)
