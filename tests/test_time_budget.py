"""``--time-budget``: the run fits its budget, the schedule spans the planned epochs, and a
resumed run keeps the plan. Also the time arithmetic the progress lines say.

One run trains on the wall clock, with room for a busy machine. The others time epoch 1
with fixed figures on a fake clock, so their plan is the same on any machine under any
load and the tests can say exactly how many epochs it holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from compress_helpers import write_colour_dataset  # the tiny learnable colour classes
from train_data import tiny_config

from alexedge.train.budget import EpochTiming, FirstEpochTimer, plan_epochs, planned_config
from alexedge.train.eta import clock, duration, epoch_estimate, fine_tune_line, finish_line

BUDGET_MINUTES = 0.4  # the real run: epoch 1 (with tracing) and several more, even when busy
BUDGET_SLACK_SECONDS = 4  # a run this short may overrun 10% by a few seconds of scheduling
MAX_EPOCHS = 400  # far more than fit: the budget, not the recipe, sets the epochs
# The planned runs: an epoch 1 timed as these figures, on a clock they alone move.
FAKE_BUDGET_MINUTES = 0.5
FAKE_START_UP = 4.0  # seconds before epoch 1 (data, model)
FAKE_TIMING = EpochTiming(epoch=5.0, trace=1.0, evaluation=3.0, first_epoch=6.0)
# 30 s * 0.95 - (4 + 6) s so far - 1 s tracing - 3 s evaluation = 14.5 s: 2 more epochs.
FAKE_PLAN = 3
RESUMED_TIMING = EpochTiming(epoch=0.5, trace=0.1, evaluation=0.1, first_epoch=0.5)


def test_durations_and_finish_clock() -> None:
    assert [duration(s) for s in (42, 1020, 14_000)] == ["42 s", "17 min", "3.9 h"]
    now = datetime(2026, 12, 8, 23, 30)
    assert clock(600, now) == "23:40" and clock(3600, now) == "Wed 00:30"
    # The first epoch also traced the step: later epochs are timed without it.
    assert epoch_estimate([10.0, 4.0, 6.0]) == 5.0 and epoch_estimate([10.0]) == 10.0
    line = finish_line(1, 100, [24.0], datetime(2026, 12, 8, 1, 0))
    assert line == "epoch 1 took 24 s: 100 epochs ~ 40 min, done ~01:39"
    # The pipeline's compress stage, at the training's pace: 2 models x 3 epochs x 30 s.
    assert "2 pruned model(s) x 3 fine-tune epochs at ~30 s ~ 3 min" in fine_tune_line(30, 2, 3)


def test_plan_counts_what_is_left_after_tracing_and_evaluation() -> None:
    timing = EpochTiming(epoch=2.0, trace=3.0, evaluation=5.0, first_epoch=5.0)
    # 100 s * 0.95 - 10 s so far - 3 s tracing - 5 s evaluation = 77 s: 38 more epochs.
    assert plan_epochs(100.0, 10.0, timing, 1000) == 39
    assert plan_epochs(100.0, 10.0, timing, 30) == 30  # the recipe's epochs at most
    assert plan_epochs(10.0, 12.0, timing, 30) == 1  # over budget already: stop at 1


def test_a_head_alone_first_epoch_plans_the_full_epochs_at_three_times_its_cost() -> None:
    timing = EpochTiming(epoch=2.0, trace=3.0, evaluation=5.0, first_epoch=5.0)
    # 77 s left after epoch 1; 2 more head-alone epochs (4 s) and a second trace (3 s)
    # leave 70 s for epochs of ~6 s: 11 of them, so 1 + 2 + 11.
    assert plan_epochs(100.0, 10.0, timing, 1000, frozen=3) == 14
    # Timed on an epoch that trained every layer (resumed past the frozen ones): no scaling.
    assert plan_epochs(100.0, 10.0, timing, 1000, done=4, frozen=3) == 4 + 38
    # Not even the head-alone epochs fit: as many of them as do.
    assert plan_epochs(13.0, 10.0, timing, 1000, frozen=3) == 1
    assert plan_epochs(100.0, 10.0, timing, 5, frozen=3) == 5  # the recipe's epochs at most


def test_planned_config_scales_every_count_of_epochs() -> None:
    config = tiny_config(epochs=100, average_epochs=10, plain_epochs=20, warmup_epochs=5)
    planned = planned_config(config, 30)
    assert (planned.epochs, planned.average_epochs, planned.plain_epochs) == (30, 3, 6)
    assert planned.warmup_epochs == 5  # epoch 1 already ran the recipe's warmup
    stepped = planned_config(tiny_config(epochs=100, schedule="step", step_epochs=(50, 75)), 30)
    assert stepped.step_epochs == (15, 22)
    assert planned_config(config, 100) is config
    # Epoch 1 ran before the plan, outside the average: an average of every epoch
    # becomes one of every epoch after the first.
    swa = tiny_config(epochs=100, average_epochs=100, swa_lr=0.01)
    assert planned_config(swa, 30).average_epochs == 29
    assert (planned_config(swa, 1).average_epochs, planned_config(swa, 1).swa_lr) == (0, 0.0)


def test_first_epoch_timer_leaves_the_tracing_out() -> None:
    timer = FirstEpochTimer(steps=11, batch_size=8, val_images=32)
    # 1 s to the first batch, then 10 batches of 0.1 s; validation: 0.5 s to its first
    # batch, then 3 more of 0.1 s; 0.2 s of checkpoints.
    timer._t = {
        "start": 0.0,
        "first_batch": 1.0,
        "val_start": 2.0,
        "val_first_batch": 2.5,
        "val_end": 2.8,
        "end": 3.0,
    }
    timer._val_batches = 4
    timing = timer.timing()
    assert timing.trace == pytest.approx(0.9)
    assert timing.epoch == pytest.approx(3.0 - 0.9 - 0.4)  # train 1.1 + val 0.4 + 0.2
    assert timing.evaluation == pytest.approx(0.4 + 11 * 0.4)
    assert timing.first_epoch == 3.0


class FakeClock:
    """The run's ``time.monotonic``, moved only by the fake epoch 1 (``fake_timing``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def fake_timing(clock: FakeClock, timing: EpochTiming) -> Callable[..., EpochTiming]:
    """A ``FirstEpochTimer.timing`` that reports ``timing`` whatever epoch 1 took, and
    moves ``clock`` on by the start-up and that epoch: the plan is the same on any machine
    under any load."""

    def timing_method(self: FirstEpochTimer, average_epochs: int = 0) -> EpochTiming:
        clock.now += FAKE_START_UP + timing.first_epoch
        return timing

    return timing_method


def _train_on_fake_clock(data: Path, out: Path, timing: EpochTiming, kill_after: int = 0) -> None:
    """Train the budgeted tiny recipe into ``out`` with epoch 1 timed as ``timing``;
    ``kill_after`` > 0: the process "dies" after that epoch (``--resume`` picks it up)."""
    import tf_keras as keras

    from alexedge.train import loop, session
    from alexedge.train.run_config import DataConfig, RunConfig

    class Killed(Exception):
        pass

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch + 1 == kill_after:  # after the recorder committed the epoch
                raise Killed

    clock = FakeClock()
    run_config = RunConfig(
        DataConfig(root=data),
        tiny_config(epochs=MAX_EPOCHS, time_budget=FAKE_BUDGET_MINUTES, dropout=0.0),
    )
    real_progress = loop.progress_callback
    with pytest.MonkeyPatch.context() as patch:
        for module in (loop, session):
            patch.setattr(module, "time", clock)
        patch.setattr(FirstEpochTimer, "timing", fake_timing(clock, timing))
        if not kill_after:
            session.train_run(run_config, out)
            return
        patch.setattr(loop, "progress_callback", lambda *args, **kwargs: Kill())
        with pytest.raises(Killed):
            session.train_run(run_config, out)
        patch.setattr(loop, "progress_callback", real_progress)
        patch.setattr(FirstEpochTimer, "timing", fake_timing(clock, RESUMED_TIMING))
        session.resume_run(out)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("budget")
    return write_colour_dataset(root / "data", classes=3, per_class=16, val_per_class=4, size=32)


@pytest.fixture(scope="module")
def planned_runs(data: Path) -> dict[str, Path]:
    """Budgeted runs whose epoch 1 is timed by ``FAKE_TIMING``: one whole, one killed
    after epoch 2 and resumed (where epoch 1 would now be timed by ``RESUMED_TIMING``)."""
    runs = {"whole": data.parent / "whole", "resumed": data.parent / "resumed"}
    _train_on_fake_clock(data, runs["whole"], FAKE_TIMING)
    _train_on_fake_clock(data, runs["resumed"], FAKE_TIMING, kill_after=2)
    return runs


def _history(run: Path) -> list[dict[str, str]]:
    from alexedge.train.callbacks import read_history

    return read_history(run)


def test_the_plan_spends_the_budget_epoch_1_measured(planned_runs: dict[str, Path]) -> None:
    from alexedge.train.callbacks import read_state

    run = planned_runs["whole"]
    assert read_state(run).planned_epochs == FAKE_PLAN
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["time_budget"] == {"minutes": FAKE_BUDGET_MINUTES, "planned_epochs": FAKE_PLAN}
    assert metrics["epochs"] == FAKE_PLAN == len(_history(run))
    # Seconds on the run's clock: here the fake one, moved by epoch 1 alone.
    assert metrics["run_seconds"] == FAKE_START_UP + FAKE_TIMING.first_epoch


def test_the_schedule_spans_exactly_the_planned_epochs(planned_runs: dict[str, Path]) -> None:
    from alexedge.train.loop import steps_per_epoch
    from alexedge.train.schedule import make_schedule

    config = planned_config(tiny_config(epochs=MAX_EPOCHS), FAKE_PLAN)
    steps = steps_per_epoch(3 * 16, config.batch_size)
    schedule = make_schedule(config, steps)
    recorded = [float(row["lr"]) for row in _history(planned_runs["whole"])]
    expected = [float(schedule(e * steps - 1)) for e in range(1, FAKE_PLAN + 1)]
    assert recorded == pytest.approx(expected, rel=1e-4)
    # The last epoch's last step is the cosine's floor, where a cut-off run would not be.
    assert recorded[-1] < 0.02 * config.learning_rate


def test_a_resumed_run_keeps_its_plan(planned_runs: dict[str, Path]) -> None:
    from alexedge.train.callbacks import read_state

    # Planned again after the resume, the faster epoch would buy more epochs.
    assert plan_epochs(FAKE_BUDGET_MINUTES * 60, 0.0, RESUMED_TIMING, MAX_EPOCHS) > FAKE_PLAN
    resumed = read_state(planned_runs["resumed"])
    assert resumed.planned_epochs == resumed.epochs_done == FAKE_PLAN
    epochs = [int(r["epoch"]) for r in _history(planned_runs["resumed"])]
    assert epochs == list(range(1, FAKE_PLAN + 1))
    metrics = json.loads((planned_runs["resumed"] / "metrics.json").read_text())
    assert metrics["time_budget"]["planned_epochs"] == metrics["epochs"] == FAKE_PLAN


def test_a_real_run_holds_its_budget(data: Path, tmp_path: Path) -> None:
    """The one run on the wall clock: epoch 1 is really timed and the plan really kept."""
    from alexedge.train.run_config import DataConfig, RunConfig
    from alexedge.train.session import train_run

    config = tiny_config(epochs=MAX_EPOCHS, time_budget=BUDGET_MINUTES, dropout=0.0)
    train_run(RunConfig(DataConfig(root=data), config), tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    planned = metrics["time_budget"]["planned_epochs"]
    assert 1 < planned < MAX_EPOCHS  # the budget, not the recipe, set the epochs
    assert metrics["epochs"] == planned == len(_history(tmp_path / "run"))
    # Within 10%, plus a few seconds for times this small (a shared 2-core machine).
    assert metrics["run_seconds"] <= BUDGET_MINUTES * 60 * 1.1 + BUDGET_SLACK_SECONDS
    assert metrics["hardware"]["cpu"]


def test_progress_lines_end_with_the_finish_clock(capsys: pytest.CaptureFixture[str]) -> None:
    from alexedge.train.callbacks import EpochProgress

    progress = EpochProgress(epochs=3, steps=1)
    for epoch in range(3):
        progress.on_epoch_begin(epoch)
        progress.on_epoch_end(epoch, {"loss": 1.0})
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("epoch 1/3  loss 1.0000") and " done ~" in lines[0]
    assert lines[1].startswith("[alexedge] epoch 1 took 0 s: 3 epochs ~ 0 s, done ~")
    assert " done ~" in lines[2] and " done ~" not in lines[3]  # the last epoch: done
    quiet = EpochProgress(epochs=3, steps=1, eta=False)  # epochs not yet planned
    quiet.on_epoch_begin(0)
    quiet.on_epoch_end(0, {})
    assert capsys.readouterr().err.splitlines() == ["epoch 1/3  0 s"]
