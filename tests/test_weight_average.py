"""``--average-epochs``: the model is the mean of the last epochs' weights, batch-norm
statistics estimated again, and no choice is made on the validation images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras
from train_data import tiny_config, write_colour_dataset

from alexedge.errors import ConfigError, ModelError
from alexedge.train.averaging import AVERAGE_FILE, WeightAverage
from alexedge.train.batch_norm import reestimate_batch_norm
from alexedge.train.callbacks import STATE_FILE, read_history, read_state
from alexedge.train.config import Augmentation, TrainConfig


def _small_model(units: int = 3) -> keras.Model:
    inputs = keras.Input((4,))
    outputs = keras.layers.BatchNormalization()(keras.layers.Dense(units)(inputs))
    return keras.Model(inputs, outputs)


def _epoch_end(average: WeightAverage, model: keras.Model, epoch: int, value: float) -> None:
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])
    average.on_epoch_end(epoch - 1)  # Keras counts epochs from 0


def test_the_mean_covers_exactly_the_last_epochs(tmp_path: Path) -> None:
    model = _small_model()
    average = WeightAverage(model, tmp_path, first_epoch=3)
    for epoch, value in enumerate([100.0, 50.0, 1.0, 2.0, 6.0], start=1):
        _epoch_end(average, model, epoch, value)
    assert (average.first_epoch, average.epoch, average.count) == (3, 5, 3)
    for w in average.weights():
        np.testing.assert_allclose(w, 3.0)
        assert w.dtype == np.float32


def test_a_resumed_average_neither_loses_nor_repeats_an_epoch(tmp_path: Path) -> None:
    model = _small_model()
    first = WeightAverage(model, tmp_path, first_epoch=1)
    _epoch_end(first, model, 1, 1.0)
    _epoch_end(first, model, 2, 2.0)
    # A kill after epoch 2 was averaged but before the run recorded it: epoch 2 is
    # trained again after the resume, and must not count twice.
    resumed = WeightAverage(model, tmp_path, first_epoch=1)
    assert (resumed.epoch, resumed.count) == (2, 2)
    _epoch_end(resumed, model, 2, 2.0)
    _epoch_end(resumed, model, 3, 6.0)
    assert resumed.count == 3
    np.testing.assert_allclose(resumed.weights()[0], 3.0)


def test_an_average_of_another_model_or_a_damaged_file_is_refused(tmp_path: Path) -> None:
    model = _small_model()
    _epoch_end(WeightAverage(model, tmp_path, 1), model, 1, 1.0)
    with pytest.raises(ModelError, match="another model"):
        WeightAverage(_small_model(units=5), tmp_path, 1)
    (tmp_path / AVERAGE_FILE).write_bytes(b"not an npz file")
    with pytest.raises(ModelError, match="unreadable weight average"):
        WeightAverage(model, tmp_path, 1)
    with pytest.raises(ModelError, match="no epoch"):
        WeightAverage(model, tmp_path / "empty", 1).weights()


def test_batch_norm_statistics_are_the_plain_mean_over_batches() -> None:
    model = _small_model()
    rng = np.random.default_rng(0)
    # Batches of very different statistics: a moving average would favour the last.
    batches = [rng.normal(shift, scale, (16, 4)).astype(np.float32) for shift, scale in
               [(0.0, 1.0), (5.0, 3.0), (-2.0, 0.5)]]  # fmt: skip
    dense = model.layers[1]
    bn = model.layers[2]
    bn.momentum = 0.99
    used = reestimate_batch_norm(model, [(b, None) for b in batches])
    assert used == 3 and bn.momentum == 0.99
    outputs = [dense(b).numpy() for b in batches]
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean([o.mean(axis=0) for o in outputs], axis=0), rtol=1e-4
    )
    np.testing.assert_allclose(
        bn.moving_variance.numpy(),
        np.mean([o.var(axis=0) for o in outputs], axis=0),
        rtol=0.1,  # Keras may correct the batch variance by n / (n - 1)
    )


def test_the_option_is_checked() -> None:
    with pytest.raises(ConfigError, match="between 0 and --epochs"):
        tiny_config(epochs=3, average_epochs=4)
    with pytest.raises(ConfigError, match="early stopping"):
        tiny_config(epochs=3, average_epochs=2, early_stopping_patience=1)
    with pytest.raises(ConfigError, match="needs --average-epochs N"):
        tiny_config(epochs=3, swa_lr=0.01)
    with pytest.raises(ConfigError, match="--schedule cosine"):
        tiny_config(epochs=3, average_epochs=2, swa_lr=0.01, schedule="step")
    with pytest.raises(ConfigError, match="below the peak learning rate"):
        tiny_config(epochs=3, average_epochs=2, swa_lr=0.2, learning_rate=0.1)


@pytest.fixture(scope="module")
def averaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainConfig, list]:
    """A run averaged over its last epoch, its last epoch plain, and the augmentation of
    every training stream it built (the epochs', then the batch-norm re-estimate's)."""
    import alexedge.train.loop as loop
    from alexedge.train.run_config import DataConfig, RunConfig
    from alexedge.train.session import train_run

    root = tmp_path_factory.mktemp("average")
    data = write_colour_dataset(root / "data", per_class=8, val_per_class=2)
    heavy = Augmentation(mixup=0.2, erasing=0.5, trivial_augment=True)
    config = tiny_config(
        epochs=2, average_epochs=1, swa_lr=0.05, plain_epochs=1, dropout=0.0, augmentation=heavy
    )
    streams = []
    real_stream, real_epochs = loop.train_dataset, loop.train_epochs

    def recording_stream(*args, **kwargs):
        streams.append(args[5])  # the Augmentation
        return real_stream(*args, **kwargs)

    def recording_epochs(*args, **kwargs):
        streams.append(("epochs", args[5], args[7], kwargs["plain_from"]))
        return real_epochs(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "train_dataset", recording_stream)
        patch.setattr(loop, "train_epochs", recording_epochs)
        train_run(RunConfig(DataConfig(data), config), root / "run")
    return root / "run", config, streams


@pytest.fixture(scope="module")
def averaged_run(averaged: tuple[Path, TrainConfig, list]) -> Path:
    return averaged[0]


def test_batch_norm_is_re_estimated_on_plain_images(averaged: tuple) -> None:
    _, config, streams = averaged
    # Crops, flips and PCA lighting as in training; no mixing, erasing or
    # TrivialAugment, which test images never have.
    epochs, plain = streams
    assert epochs == ("epochs", config.augmentation, range(2), 1)  # epoch 2 plain
    assert plain == config.augmentation.plain()
    assert (plain.mixup, plain.cutmix, plain.erasing, plain.trivial_augment) == (0, 0, 0, False)
    assert plain.pca_sigma == config.augmentation.pca_sigma > 0


def _weights_by_name(path: Path) -> dict[str, np.ndarray]:
    model = keras.models.load_model(path, compile=False)
    return {v.name: v.numpy() for v in model.weights}


def test_the_model_is_the_average_with_fresh_batch_norm_statistics(averaged_run: Path) -> None:
    # The mean of one epoch is the last epoch's network; only the statistics differ.
    best = _weights_by_name(averaged_run / "best.keras")
    last = _weights_by_name(averaged_run / "last.keras")
    assert best.keys() == last.keys()
    moving = [name for name in best if "moving_" in name]
    assert moving
    for name in best:
        if name in moving:
            continue
        np.testing.assert_array_equal(best[name], last[name], err_msg=name)
    assert any(not np.allclose(best[name], last[name]) for name in moving)
    metrics = json.loads((averaged_run / "metrics.json").read_text())
    assert metrics["weights"] == "mean of epochs 2-2"
    assert read_state(averaged_run).averaged


def test_the_averaged_epochs_train_at_the_swa_rate(averaged_run: Path) -> None:
    rates = [float(row["lr"]) for row in read_history(averaged_run)]
    assert rates[-1] == pytest.approx(0.05) and rates[0] != pytest.approx(0.05)


def test_a_run_killed_before_its_average_was_saved_resumes_to_it(
    averaged_run: Path, tmp_path: Path
) -> None:
    import shutil

    from alexedge.train.session import resume_run

    run = tmp_path / "run"
    shutil.copytree(averaged_run, run)
    state = json.loads((run / STATE_FILE).read_text())
    (run / STATE_FILE).write_text(json.dumps({**state, "averaged": False}))
    (run / "best.keras").unlink()
    outcome = resume_run(run)
    assert outcome.result.weights == "mean of epochs 2-2"
    want = _weights_by_name(averaged_run / "best.keras")
    got = _weights_by_name(run / "best.keras")
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
