"""tf.distribute through CPU twins: 2 logical CPU devices, and 2 worker processes on localhost.

Logical devices must be configured before TensorFlow starts, and a multi-worker
strategy is process-wide, so both run in fresh subprocesses with timeouts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf
from train_data import assert_one_line_error, train_app
from typer.testing import CliRunner

from alexedge.errors import ConfigError
from alexedge.train.distribute import is_chief, make_strategy

TESTS = Path(__file__).parent
TIMEOUT = 240

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from alexedge.data.stats import channel_stats
    from alexedge.train import loop
    from alexedge.train.config import TrainConfig
    from alexedge.train.distribute import make_strategy

    # Tiny two-tower AlexNet without dropout (random masks differ per replica) and
    # without batch norm (per-replica batch statistics differ by design).
    config = TrainConfig(
        model="alexnet",
        input_size=67,
        model_options={"width": 1 / 16, "fc_units": 16, "dropout": 0.0},
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 67, 67, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    stats = channel_stats(x.astype(np.uint8))


    def one_step(strategy, weights=None):
        with strategy.scope():
            model = loop.build_network(config, 4, stats)
            trainer = loop.logits_model(model)
            loop.compile_for_training(trainer, config, 0.05, 4, from_logits=True)
        if weights is not None:
            model.set_weights(weights)
        start = [w.copy() for w in model.get_weights()]
        loss = trainer.train_on_batch(x, y, return_dict=True)["loss"]
        return start, float(loss), model.get_weights()


    start, single_loss, single_after = one_step(tf.distribute.get_strategy())
    mirrored = make_strategy("mirrored")
    _, mirrored_loss, mirrored_after = one_step(mirrored, start)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single_after, mirrored_after))
    print("RESULT " + json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "single": single_loss,
        "mirrored": mirrored_loss,
        "max_weight_diff": diff,
    }))
    """
)

CLI_SCRIPT = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
    "from train_data import train_app; train_app()()"
)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def test_mirrored_on_two_logical_cpus_gives_the_single_device_loss_and_update() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[0].removeprefix("RESULT "))
    assert result["replicas"] == 2
    assert result["mirrored"] == pytest.approx(result["single"], rel=1e-6)
    assert result["max_weight_diff"] < 1e-5


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_multiworker_with_two_local_workers_trains_and_only_the_chief_writes(
    tmp_path: Path, colour_dataset
) -> None:
    data = colour_dataset(per_class=8, val_per_class=2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        args = ["train", "--data", str(data), "--model", "logreg", "--size", "32"]
        args += ["--epochs", "1", "--batch-size", "8", "--strategy", "multiworker"]
        args += ["--out", str(tmp_path / f"run{index}")]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CLI_SCRIPT, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=_env(TF_CONFIG=tf_config),
            )
        )
    outputs = []
    try:
        outputs = [proc.communicate(timeout=TIMEOUT)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0], "\n---\n".join(outputs)[-4000:]
    assert all("epochs: 1" in out for out in outputs)
    chief, worker = tmp_path / "run0", tmp_path / "run1"
    assert (chief / "history.csv").read_text().count("\n") == 2  # header + epoch 1
    assert (chief / "best.keras").is_file() and (chief / "metrics.json").is_file()
    assert not worker.exists() or not any(worker.iterdir())


def test_multiworker_without_tf_config_is_a_config_error(monkeypatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs TF_CONFIG"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        make_strategy("auto")


def test_cli_refuses_multiworker_without_tf_config(
    tmp_path: Path, monkeypatch, colour_dataset
) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    data = colour_dataset(per_class=2, val_per_class=1)
    args = ["train", "--data", str(data), "--strategy", "multiworker", "--out", str(tmp_path / "r")]
    assert_one_line_error(CliRunner().invoke(train_app(), args), "needs TF_CONFIG")
    assert not (tmp_path / "r").exists()


def test_auto_on_this_machine_is_the_default_single_device_strategy(monkeypatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = make_strategy("auto")
    expected = 1 if len(tf.config.list_logical_devices("GPU")) < 2 else None
    assert expected is None or strategy.num_replicas_in_sync == expected
    assert is_chief(strategy)


MIRRORED_CLI_SCRIPT = textwrap.dedent(
    f"""
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {str(TESTS)!r})
    from train_data import train_app
    train_app()()
    """
)


def test_mirrored_run_with_batch_norm_deploys_its_weight_average(
    tmp_path: Path, colour_dataset
) -> None:
    # The average is set and its batch-norm statistics estimated outside the strategy's
    # replica context, on mirrored and sync-on-read variables.
    data = colour_dataset(per_class=8, val_per_class=2)
    args = ["train", "--data", str(data), "--size", "32", "--width", "0.0625"]
    args += ["--fc-units", "16", "--epochs", "2", "--batch-size", "8", "--strategy", "mirrored"]
    args += ["--average-epochs", "2", "--out", str(tmp_path / "run")]
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_CLI_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "model: mean of epochs 1-2" in proc.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["weights"] == "mean of epochs 1-2"
