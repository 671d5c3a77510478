"""Kill a training process mid-epoch, resume it: the result is the uninterrupted run's.

The resumed run must end with the same weights and the same history as a run with the
same seed that was never stopped (dropout off: its masks come from a process-wide
random stream that a new process starts afresh), and the same model: the runs average
every epoch's weights (``--average-epochs``), so the mean must carry over the kill
with no epoch lost or counted twice. Also: bad checkpoints, one line each.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from train_data import assert_one_line_error, train_app, write_colour_dataset
from typer.testing import CliRunner

from alexedge.train.callbacks import STATE_FILE, read_history, read_state

TESTS = Path(__file__).parent
EPOCHS = 3
TIMEOUT = 180

# The real `alexedge train` command, with a callback that sleeps per batch and drops a
# marker file once epoch 2 is under way, so the test can kill it mid-epoch for certain.
SLOW_TRAIN = textwrap.dedent(
    f"""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {str(TESTS)!r})
    import tf_keras as keras
    from alexedge.train import loop
    from train_data import train_app

    marker = Path(sys.argv.pop(1))

    class Slow(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.3)
            if self.epoch == 1 and batch == 1:
                marker.write_text("in epoch 2")

    loop.progress_callback = lambda epochs, steps: Slow()
    train_app()()
    """
)


def _train_args(data: Path, run: Path) -> list[str]:
    return [
        *("train", "--data", str(data), "--out", str(run), "--size", "32", "--epochs", str(EPOCHS)),
        *("--width", "0.0625", "--fc-units", "16", "--dropout", "0", "--batch-size", "8"),
        *("--average-epochs", str(EPOCHS)),
    ]


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder whose training was SIGKILLed during epoch 2 (epoch 1 committed)."""
    root = tmp_path_factory.mktemp("resume")
    data = write_colour_dataset(root / "data", per_class=8, val_per_class=2)
    run, marker = root / "run", root / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_TRAIN, str(marker), *_train_args(data, run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate(timeout=5)[0].decode()[-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    return run


def test_a_killed_run_has_exactly_its_finished_epoch(killed_run: Path) -> None:
    assert read_state(killed_run).epochs_done == 1
    assert [int(r["epoch"]) for r in read_history(killed_run)] == [1]
    assert (killed_run / "last.keras").is_file() and (killed_run / "best.keras").is_file()


@pytest.fixture(scope="module")
def resumed_run(killed_run: Path) -> tuple[Path, str]:
    # Also the worst moment of a kill: epoch 2's history row written, its state not.
    with open(killed_run / "history.csv", "a") as f:
        f.write("2,0.1,9,0,0,9,0,0,1\n")
    result = CliRunner().invoke(train_app(), ["train", "--resume", str(killed_run)])
    assert result.exit_code == 0, result.output
    return killed_run, result.output


def test_resume_finishes_every_epoch_exactly_once(resumed_run: tuple[Path, str]) -> None:
    run, output = resumed_run
    assert "resumed after epoch 1" in output
    assert f"model: mean of epochs 1-{EPOCHS}" in output
    assert [int(r["epoch"]) for r in read_history(run)] == list(range(1, EPOCHS + 1))
    state = read_state(run)
    assert state.epochs_done == EPOCHS and not state.stopped_early
    assert not [p for p in run.iterdir() if ".tmp" in p.name], "stale temporary files"
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"centre_crop", "ten_crop"} <= set(metrics) and metrics["epochs"] == EPOCHS
    assert metrics["weights"] == f"mean of epochs 1-{EPOCHS}" and state.averaged


@pytest.fixture(scope="module")
def uninterrupted_run(killed_run: Path) -> Path:
    """The same command as the killed run, never stopped (the data is the killed run's)."""
    root = killed_run.parent
    result = CliRunner().invoke(train_app(), _train_args(root / "data", root / "straight"))
    assert result.exit_code == 0, result.output
    return root / "straight"


def test_resumed_run_ends_as_the_uninterrupted_run(
    resumed_run: tuple[Path, str], uninterrupted_run: Path
) -> None:
    import tf_keras as keras

    run, _ = resumed_run
    resumed, straight = read_history(run), read_history(uninterrupted_run)
    assert len(resumed) == len(straight) == EPOCHS
    for a, b in zip(resumed, straight, strict=True):
        for column in ("lr", "loss", "top1", "top5", "val_loss", "val_top1", "val_top5"):
            assert float(a[column]) == pytest.approx(float(b[column]), rel=1e-4, abs=1e-5), (
                a["epoch"],
                column,
            )
    # Optimizer state, learning-rate schedule and data order all continued: the weights
    # after the last epoch are the same.
    for name in ("last.keras", "best.keras"):  # best: the weight average
        got = keras.models.load_model(run / name, compile=False).get_weights()
        want = keras.models.load_model(uninterrupted_run / name, compile=False).get_weights()
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=name)


def test_resuming_a_finished_run_changes_nothing(resumed_run: tuple[Path, str]) -> None:
    run, _ = resumed_run
    before = (run / "history.csv").read_text()
    result = CliRunner().invoke(train_app(), ["train", "--resume", str(run)])
    assert result.exit_code == 0 and "nothing to resume" in result.output, result.output
    assert (run / "history.csv").read_text() == before


def _copy_at_epoch(run: Path, dest: Path, epochs_done: int) -> Path:
    shutil.copytree(run, dest)
    state = json.loads((dest / STATE_FILE).read_text())
    (dest / STATE_FILE).write_text(json.dumps({**state, "epochs_done": epochs_done}))
    return dest


def _garbage_inside_a_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", b"not hdf5 at all")


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: p.write_bytes(b"\x00garbage" * 100), "not a Keras checkpoint"),
        (lambda p: p.write_bytes(p.read_bytes()[:-200]), "not a Keras checkpoint"),
        (_garbage_inside_a_zip, "corrupt checkpoint"),
        (lambda p: p.unlink(), "missing or not a Keras checkpoint"),
    ],
    ids=["garbage", "truncated", "bad-weights", "missing"],
)
def test_corrupt_checkpoint_on_resume_is_one_clear_line(
    resumed_run: tuple[Path, str], tmp_path: Path, damage, needle: str
) -> None:
    run = _copy_at_epoch(resumed_run[0], tmp_path / "run", epochs_done=2)
    damage(run / "last.keras")
    result = CliRunner().invoke(train_app(), ["train", "--resume", str(run)])
    assert_one_line_error(result, needle)


def test_checkpoint_out_of_step_with_the_state_is_refused(
    resumed_run: tuple[Path, str], tmp_path: Path
) -> None:
    run = _copy_at_epoch(resumed_run[0], tmp_path / "run", epochs_done=2)  # last.keras: 3
    result = CliRunner().invoke(train_app(), ["train", "--resume", str(run)])
    assert_one_line_error(result, "optimizer steps")


def test_resume_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(train_app(), ["train", "--resume", str(tmp_path)])
    assert_one_line_error(result, "not an alexedge train run folder")
