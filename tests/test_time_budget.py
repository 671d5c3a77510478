"""``--time-budget``: the run fits its budget, the schedule spans the planned epochs, and a
resumed run keeps the plan. Also the time arithmetic the progress lines say."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from compress_helpers import write_colour_dataset  # the tiny learnable colour classes
from train_data import tiny_config

from alexedge.train.budget import EpochTiming, FirstEpochTimer, plan_epochs, planned_config
from alexedge.train.eta import clock, duration, epoch_estimate, fine_tune_line, finish_line

BUDGET_MINUTES = 0.75  # 45 s: epoch 1 (with tracing) and a few more on a busy machine
MAX_EPOCHS = 400  # far more than fit: the budget, not the recipe, sets the epochs


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


@pytest.fixture(scope="module")
def budget_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A budgeted run, and one killed after epoch 2 of its plan then resumed."""
    import tf_keras as keras

    from alexedge.train import loop
    from alexedge.train.run_config import DataConfig, RunConfig
    from alexedge.train.session import resume_run, train_run

    root = tmp_path_factory.mktemp("budget")
    data = write_colour_dataset(root / "data", classes=3, per_class=16, val_per_class=4, size=32)
    config = tiny_config(epochs=MAX_EPOCHS, time_budget=BUDGET_MINUTES, dropout=0.0)
    runs = {"whole": root / "whole", "resumed": root / "resumed"}
    train_run(RunConfig(DataConfig(root=data), config), runs["whole"])

    class Killed(Exception):
        pass

    class KillAfterEpoch3(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch == 1:  # after the recorder committed epoch 2
                raise Killed

    real = loop.progress_callback
    loop.progress_callback = lambda *args, **kwargs: KillAfterEpoch3()
    try:
        with pytest.raises(Killed):
            train_run(RunConfig(DataConfig(root=data), config), runs["resumed"])
    finally:
        loop.progress_callback = real
    resume_run(runs["resumed"])
    return runs


def _history(run: Path) -> list[dict[str, str]]:
    from alexedge.train.callbacks import read_history

    return read_history(run)


def test_the_run_ends_within_its_budget(budget_runs: dict[str, Path]) -> None:
    metrics = json.loads((budget_runs["whole"] / "metrics.json").read_text())
    planned = metrics["time_budget"]["planned_epochs"]
    assert 1 < planned < MAX_EPOCHS  # the budget, not the recipe, set the epochs
    assert metrics["epochs"] == planned == len(_history(budget_runs["whole"]))
    # Within 10%, plus a few seconds for times this small (a shared 2-core machine).
    assert metrics["run_seconds"] <= BUDGET_MINUTES * 60 * 1.1 + 3
    assert metrics["hardware"]["cpu"]


def test_the_schedule_spans_exactly_the_planned_epochs(budget_runs: dict[str, Path]) -> None:
    from alexedge.train.callbacks import read_state
    from alexedge.train.loop import steps_per_epoch
    from alexedge.train.schedule import make_schedule

    run = budget_runs["whole"]
    epochs = read_state(run).planned_epochs
    config = planned_config(tiny_config(epochs=MAX_EPOCHS, time_budget=BUDGET_MINUTES), epochs)
    steps = steps_per_epoch(3 * 16, config.batch_size)
    schedule = make_schedule(config, steps)
    recorded = [float(row["lr"]) for row in _history(run)]
    expected = [float(schedule(e * steps - 1)) for e in range(1, epochs + 1)]
    assert recorded == pytest.approx(expected, rel=1e-4)
    # The last epoch's last step is the cosine's floor, where a cut-off run would not be.
    assert recorded[-1] < 0.02 * config.learning_rate


def test_a_resumed_run_keeps_its_plan(budget_runs: dict[str, Path]) -> None:
    from alexedge.train.callbacks import read_state

    whole, resumed = (read_state(budget_runs[k]) for k in ("whole", "resumed"))
    assert resumed.planned_epochs == resumed.epochs_done > 2
    assert [int(r["epoch"]) for r in _history(budget_runs["resumed"])] == list(
        range(1, resumed.planned_epochs + 1)
    )
    metrics = json.loads((budget_runs["resumed"] / "metrics.json").read_text())
    assert metrics["time_budget"]["planned_epochs"] == resumed.planned_epochs
    assert whole.planned_epochs > 1


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
