"""The search's rules with a fake evaluator and a fake clock: no TensorFlow, no files.

A candidate over the loss is never selected; a child of a candidate that missed is never
evaluated; nothing that cannot gzip smaller than the best is evaluated; the budget stops
the loop with the best so far; the same inputs give the same search.
"""

from __future__ import annotations

import numpy as np
import pytest

from alexedge.compress.search.record import search_problems, search_record
from alexedge.compress.search.search import Limits, Result, Verdict, run_search
from alexedge.compress.search.space import Candidate, Ladder, Recipe, ladder_stages
from alexedge.modes import MODES

_LATENCY = {"int8": 0.5, "dynamic": 0.8, "int4": 1.2}  # ms; the float modes 1.0
_MODE_LOSS = {"float32": 0.0, "float16": 0.0, "dynamic": 0.1, "int8": 0.2, "int4": 1.5}


def _size(recipe: Recipe) -> int:
    bits = MODES[recipe.mode].weight_bits
    shared = 0.6 if recipe.clusters else 1.0
    return int(
        100_000 * (1 - recipe.sparsity) * bits / 32 * shared * (1 + 0.1 * recipe.float_worst)
    )


def _loss(recipe: Recipe, knee: float) -> float:
    mode = 0.3 if recipe.qat4 else _MODE_LOSS[recipe.mode]
    return max(0.0, mode + 20 * max(0.0, recipe.sparsity - knee) - 0.5 * recipe.float_worst)


class FakeEvaluator:
    """Losses grow past a sparsity ``knee``; records what it was asked to evaluate."""

    def __init__(self, knee: float = 0.8, losses: dict[str, float] | None = None) -> None:
        self.knee, self.losses, self.calls = knee, losses or {}, []

    def __call__(self, candidate: Candidate) -> Result:
        self.calls.append(candidate.name)
        recipe = candidate.recipe
        loss = self.losses.get(candidate.name, _loss(recipe, self.knee))
        size = _size(recipe)
        latency = _LATENCY.get(recipe.mode, 1.0)
        return Result(0.9 - loss / 100, loss, "class_0", 2 * loss, 2 * size, size, latency)


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _search(evaluate, limits=Limits(1.0), ladder=Ladder(), budget=1e9, clock=None):
    return run_search(ladder_stages(ladder), evaluate, limits, budget, clock or FakeClock(0.0))


def _verdicts(outcome) -> dict[str, str]:
    return {t.candidate.name: t.verdict for t in outcome.trials}


def test_selects_the_smallest_within_the_loss_and_never_one_over_it() -> None:
    for seed in range(12):
        rng = np.random.default_rng(seed)
        names = [c.name for _, stage in ladder_stages(Ladder()) for c in _all(stage)]
        losses = {n: float(rng.uniform(0, 3)) for n in names}
        evaluate = FakeEvaluator(losses=losses)
        outcome = _search(evaluate, Limits(1.0, max_class_loss=3.0))
        measured = [t for t in outcome.trials if t.result is not None]
        within = [t for t in measured if t.result.loss <= 1.0 and t.result.worst_class_loss <= 3]
        if not within:
            assert outcome.selected is None
            continue
        chosen = outcome.trial(outcome.selected)
        assert chosen.result.loss <= 1.0 and chosen.result.worst_class_loss <= 3.0
        assert chosen.result.gzip_bytes == min(t.result.gzip_bytes for t in within)
        for t in measured:
            over = t.result.loss > 1.0 or t.result.worst_class_loss > 3.0
            assert (t.verdict != Verdict.MET) == over, t.candidate.name


def _all(stage):
    class Nothing:  # every candidate a stage would propose if nothing met the limits
        def met(self, name):
            return False

        def met_candidates(self):
            return []

        def missed_rescuable(self):
            return []

    return list(stage(Nothing()))


def test_the_class_limit_rules_out_a_candidate_within_the_top1_loss() -> None:
    evaluate = FakeEvaluator()
    outcome = _search(evaluate, Limits(1.0, max_class_loss=0.3))
    verdicts = _verdicts(outcome)
    # int8 loses 0.2 points overall and 0.4 on its worst class in the fake.
    assert verdicts["search-float-int8"] == Verdict.OVER_CLASS_LOSS
    assert outcome.selected is not None
    assert outcome.trial(outcome.selected).result.worst_class_loss <= 0.3


def test_children_of_a_candidate_that_missed_are_skipped_unevaluated() -> None:
    # The dense int8 misses: no pruned model can do better, so no fine-tune is paid for.
    evaluate = FakeEvaluator(losses={"search-float-int8": 5.0})
    outcome = _search(evaluate)
    verdicts = _verdicts(outcome)
    assert verdicts["search-pruned50-int8"] == Verdict.SKIPPED_PARENT
    assert verdicts["search-pruned50-int4"] == Verdict.SKIPPED_PARENT
    assert not [c for c in evaluate.calls if "pruned50" in c]
    assert "search-pruned75-int8" not in verdicts, "the climb stops at the first miss"


def test_int4_of_a_pruned_model_waits_for_its_int8() -> None:
    evaluate = FakeEvaluator(knee=0.8)
    outcome = _search(evaluate)
    verdicts = _verdicts(outcome)
    # 0.875 costs 1.7 points at int8: its int4 (more rounding, same model) is skipped.
    assert verdicts["search-pruned87.5-int8"] == Verdict.OVER_LOSS
    assert verdicts["search-pruned87.5-int4"] == Verdict.SKIPPED_PARENT
    assert "search-pruned87.5-int4" not in evaluate.calls


def test_what_cannot_be_smaller_than_the_best_is_not_evaluated() -> None:
    # Dense int4 meets the loss: int8, dynamic and float16 of the same model are larger.
    evaluate = FakeEvaluator(losses={"search-float-int4": 0.5})
    outcome = _search(evaluate)
    verdicts = _verdicts(outcome)
    for name in ("search-float-int8", "search-float-dynamic", "search-float-float32"):
        assert verdicts[name] == Verdict.SKIPPED_LARGER
        assert name not in evaluate.calls
    assert evaluate.calls[0] == "search-float-int4"


def test_for_latency_only_the_same_ops_cannot_win() -> None:
    # Dense int8 meets: pruning it keeps the same ops, so it cannot run faster; another
    # mode can, whatever its size.
    evaluate = FakeEvaluator()
    outcome = _search(evaluate, Limits(1.0, objective="latency"))
    verdicts = _verdicts(outcome)
    assert verdicts["search-float-int8"] == Verdict.MET
    assert verdicts["search-pruned50-int8"] == Verdict.SKIPPED_LARGER
    for name in ("search-float-dynamic", "search-float-float16", "search-pruned50-int4"):
        assert name in evaluate.calls


def test_sparsity_is_bisected_between_the_last_target_met_and_the_first_missed() -> None:
    evaluate = FakeEvaluator(knee=0.8)
    _search(evaluate, ladder=Ladder(bisect_steps=2, clusters=(), qat4=False, float_fallback=0))
    int8 = [c for c in evaluate.calls if c.startswith("search-pruned") and c.endswith("-int8")]
    # 0.8125 costs 0.45 points (met), 0.84375 rounds to 0.8438 and costs 1.08 (missed).
    assert int8 == [
        "search-pruned50-int8",
        "search-pruned75-int8",
        "search-pruned87.5-int8",
        "search-pruned81.25-int8",
        "search-pruned84.38-int8",
    ]


def test_refinement_and_float_fallback_start_from_the_best_pruning() -> None:
    refined = ("search-pruned81.25-qat4-int4", "search-pruned81.25-clustered16-int8")
    evaluate = FakeEvaluator(knee=0.8, losses=dict.fromkeys(refined, 3.0))
    outcome = _search(evaluate)
    verdicts = _verdicts(outcome)
    assert all(verdicts[name] == Verdict.OVER_LOSS for name in refined)
    # The closest int8 miss smaller than the best (pruned 81.25%) gets its worst layer in
    # float, which wins; two layers cannot be smaller than one.
    assert verdicts["search-pruned84.38-int8-autofloat1"] == Verdict.MET
    assert verdicts["search-pruned84.38-int8-autofloat2"] == Verdict.SKIPPED_LARGER
    assert outcome.selected == "search-pruned84.38-int8-autofloat1"


def test_the_budget_stops_the_loop_with_the_best_so_far() -> None:
    evaluate = FakeEvaluator()
    # Each evaluation takes 10 s of the fake clock (the clock is read twice per trial
    # and once before each: 5 s a reading); 45 s of budget leave room for some only.
    outcome = _search(evaluate, budget=45.0, clock=FakeClock(5.0))
    assert outcome.stopped == "budget"
    assert 1 <= len(evaluate.calls) < 5
    measured = [t for t in outcome.trials if t.result is not None]
    assert [t.candidate.name for t in measured] == evaluate.calls
    assert (
        outcome.selected
        == min(
            (t for t in measured if t.verdict == Verdict.MET), key=lambda t: t.result.gzip_bytes
        ).candidate.name
    )
    unlimited = _search(FakeEvaluator())
    assert unlimited.stopped == "done" and len(unlimited.trials) > len(outcome.trials)


def test_an_exhausted_budget_evaluates_nothing() -> None:
    evaluate = FakeEvaluator()
    outcome = _search(evaluate, budget=0.0)
    assert evaluate.calls == [] and outcome.selected is None and outcome.stopped == "budget"


def test_the_search_is_deterministic() -> None:
    first, second = _search(FakeEvaluator()), _search(FakeEvaluator())
    assert first == second


def test_the_record_keeps_every_trial_and_refuses_a_selected_over_the_loss() -> None:
    outcome = _search(FakeEvaluator())
    record = search_record(outcome, {"max_loss": 1.0}, {"images": 10}, {"images": 10})
    assert [c["name"] for c in record["candidates"]] == [t.candidate.name for t in outcome.trials]
    assert search_problems(record, {outcome.selected}) == []
    over = next(c["name"] for c in record["candidates"] if c["verdict"] == Verdict.OVER_LOSS)
    problems = search_problems({**record, "selected": over}, {over})
    assert problems == [f"search: selected {over!r} is not a candidate that met the limits"]
    assert search_problems(record, set()) == [
        f"search: selected {outcome.selected!r} is not among the variants"
    ]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_loss": -1}, "--max-loss must be >= 0"),
        ({"max_loss": 1, "max_class_loss": -2}, "--max-class-loss must be >= 0"),
        ({"max_loss": 1, "objective": "speed"}, "--objective must be one of size, latency"),
    ],
)
def test_bad_limits_are_refused(kwargs, needle) -> None:
    from alexedge.errors import ConfigError

    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        Limits(**kwargs)
