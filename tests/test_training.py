"""The training loop and its recipe: configs, schedules, plateau/early stop, precision, XLA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from train_data import color_split, tiny_config

from alexedge.data.stats import channel_stats
from alexedge.errors import ConfigError
from alexedge.train import loop
from alexedge.train.callbacks import RunState, advance, read_history, read_state
from alexedge.train.checkpoint import Checkpoints
from alexedge.train.config import TrainConfig
from alexedge.train.run_config import (
    ADAMW_LEARNING_RATE,
    DataConfig,
    RunConfig,
    read_run_config,
    to_toml,
    train_config_with,
    write_run_config,
)
from alexedge.train.schedule import Scaled, WarmupCosine, WarmupStep, make_schedule

TRAIN, VAL = color_split(48, seed=0), color_split(12, seed=1)
STATS = channel_stats(TRAIN.images)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, loop.TrainResult]:
    run_dir = tmp_path_factory.mktemp("train") / "run"
    config = tiny_config(epochs=3, learning_rate=0.05)
    return run_dir, loop.train(TRAIN, VAL, 3, STATS, config, run_dir)


# --- the loop ---------------------------------------------------------------------------


def test_short_training_lowers_the_loss(short_run) -> None:
    run_dir, result = short_run
    losses = [float(row["loss"]) for row in read_history(run_dir)]
    assert len(losses) == 3 and losses[-1] < 0.8 * losses[0], losses
    assert result.epochs_run == 3 and 0 <= result.best_top1 <= 1


def test_run_folder_has_checkpoints_history_state_and_tensorboard(short_run) -> None:
    run_dir, result = short_run
    history = read_history(run_dir)
    assert [int(row["epoch"]) for row in history] == [1, 2, 3]
    assert {"lr", "val_top1", "val_top5", "seconds"} <= set(history[0])
    state = read_state(run_dir)
    assert state.epochs_done == 3 and state.best_top1 == pytest.approx(result.best_top1)
    best = loop.load_model(run_dir / "best.keras")
    assert best.layers[-1].name == "probs"  # the saved model is the softmax model
    tags = _tensorboard_tags(run_dir / loop.TENSORBOARD_DIR)
    assert {"epoch_loss", "epoch_top1", "epoch_lr"} <= tags["scalars"]
    assert any(tag.startswith("conv1/kernel") for tag in tags["histograms"])


def test_the_trained_model_normalizes_with_its_datas_statistics_first(short_run) -> None:
    """Normalization is the model's first layer, from the training split's statistics, so
    exported files and apps take raw 0-255 pixels."""
    run_dir, _ = short_run
    best = loop.load_model(run_dir / "best.keras")
    first = best.layers[1]
    assert first.input is best.input
    x = TRAIN.images[:4, :32, :32].astype(np.float32)
    normalized = keras.Model(best.input, first.output)(x).numpy()
    expected = (x - np.array(STATS.mean)) / np.array(STATS.std)
    np.testing.assert_allclose(normalized, expected, rtol=1e-4, atol=1e-4)


def test_training_compiles_the_configs_label_smoothing() -> None:
    config = tiny_config(label_smoothing=0.2)
    trainer = loop.logits_model(loop.build_network(config, 3, STATS))
    loop.compile_for_training(trainer, config, 0.01, 3)
    assert trainer.loss.get_config()["label_smoothing"] == pytest.approx(0.2)


def _tensorboard_tags(log_dir: Path) -> dict[str, set[str]]:
    tags: dict[str, set[str]] = {"scalars": set(), "histograms": set()}
    for path in log_dir.rglob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags.setdefault(value.metadata.plugin_data.plugin_name, set()).add(value.tag)
    return tags


def test_logits_view_shares_weights_and_softmax_gives_the_probabilities() -> None:
    model = loop.build_network(tiny_config(), 3, STATS)
    trainer = loop.logits_model(model)
    assert [id(w) for w in trainer.weights] == [id(w) for w in model.weights]
    x = TRAIN.images[:4, :32, :32].astype(np.float32)
    probs = model(x, training=False).numpy()
    logits = trainer(x, training=False).numpy()
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probs, atol=1e-6)


def test_softmax_model_compiles_with_the_loss_on_probabilities() -> None:
    # The pruning stage compiles the softmax model itself; it must get the same loss.
    config = tiny_config(label_smoothing=0.1)
    model = loop.build_network(config, 3, STATS)
    trainer = loop.logits_model(model)
    loop.compile_for_training(model, config, 0.01, 3)
    loop.compile_for_training(trainer, config, 0.01, 3)
    x = TRAIN.images[:8, :32, :32].astype(np.float32)
    y = np.eye(3, dtype=np.float32)[TRAIN.labels[:8]]
    via_probs = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    via_logits = trainer.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert via_probs == pytest.approx(via_logits, rel=1e-4)


@pytest.mark.parametrize(
    ("changes", "optimizer"),
    [({}, keras.optimizers.SGD), ({"optimizer": "adamw"}, keras.optimizers.AdamW)],
)
def test_optimizers_decay_weights_but_not_batch_norm(changes: dict, optimizer: type) -> None:
    config = train_config_with(tiny_config(), **changes)
    model = loop.build_network(config, 3, STATS)
    built = loop.make_optimizer(config, 0.1, model)
    assert isinstance(built, optimizer)
    before = {v.name: v.numpy().copy() for v in model.trainable_variables}
    # A zero gradient moves only what weight decay pulls toward zero.
    built.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    moved = {v.name for v in model.trainable_variables if not np.array_equal(v, before[v.name])}
    assert any("conv1/kernel" in n for n in moved) and any("fc8/kernel" in n for n in moved)
    assert not any("_bn" in n or "bias" in n for n in moved), moved


# --- precision and XLA: one real step each ---------------------------------------------


def _one_step(config: TrainConfig) -> tuple[keras.Model, float]:
    keras.utils.set_random_seed(0)
    model = loop.build_network(config, 3, STATS)
    trainer = loop.logits_model(model)
    loop.compile_for_training(trainer, config, 0.01, 3, from_logits=True)
    x = TRAIN.images[:8, :32, :32].astype(np.float32)
    y = np.eye(3, dtype=np.float32)[TRAIN.labels[:8]]
    return model, float(trainer.train_on_batch(x, y, return_dict=True)["loss"])


def test_mixed_bfloat16_trains_on_cpu_with_a_float32_head() -> None:
    model, loss = _one_step(tiny_config(precision="mixed_bfloat16"))
    assert np.isfinite(loss)
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("fc8").compute_dtype == "float32"
    assert model.get_layer("probs").compute_dtype == "float32"
    assert model.get_layer("conv1").kernel.dtype == tf.float32  # variables stay float32
    assert keras.mixed_precision.global_policy().name == "float32"  # restored


def test_best_checkpoint_of_a_mixed_precision_model_is_float32(tmp_path: Path) -> None:
    config = tiny_config(precision="mixed_bfloat16")
    model = loop.build_network(config, 3, STATS)
    trainer = loop.logits_model(model)
    loop.compile_for_training(trainer, config, 0.01, 3, from_logits=True)
    Checkpoints(tmp_path, model, trainer.optimizer).save_best()
    best = loop.load_model(tmp_path / "best.keras")
    assert {layer.dtype_policy.name for layer in best.layers} == {"float32"}
    x = TRAIN.images[:4, :32, :32].astype(np.float32)
    np.testing.assert_allclose(best(x).numpy(), model(x).numpy(), atol=0.05)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse avx512f avx512_bf16 avx512_vnni", True),  # Zen 4 / Cooper Lake
        ("fpu sse avx512f amx_tile amx_bf16 amx_int8", True),  # Sapphire Rapids
        ("fpu sse avx2 avx512f avx512_vnni", False),  # Skylake/Cascade Lake server
        ("fpu neon asimd", False),
    ],
)
def test_cpu_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, expected: bool) -> None:
    from alexedge.train.precision import cpu_has_bf16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\n\n")
    assert cpu_has_bf16(cpuinfo) is expected
    assert cpu_has_bf16(tmp_path / "missing") is False


def test_precision_auto_becomes_this_machines_choice() -> None:
    from alexedge.train.precision import cpu_has_bf16
    from alexedge.train.session import check_model

    resolved = check_model(tiny_config(precision="auto"))
    assert not tf.config.list_physical_devices("GPU")  # CI's machine: its CPU decides
    assert resolved.precision == ("mixed_bfloat16" if cpu_has_bf16() else "float32")
    assert check_model(tiny_config(precision="float32")).precision == "float32"


def test_mixed_float16_scales_the_loss() -> None:
    config = tiny_config(precision="mixed_float16")
    assert isinstance(loop.make_optimizer(config, 0.01), keras.mixed_precision.LossScaleOptimizer)
    model, loss = _one_step(config)
    assert np.isfinite(loss) and model.get_layer("fc8").compute_dtype == "float32"


def test_xla_step_matches_the_plain_step() -> None:
    _, plain = _one_step(tiny_config(dropout=0.0))
    _, xla = _one_step(tiny_config(dropout=0.0, xla=True))
    assert xla == pytest.approx(plain, rel=1e-4)


# --- schedules ----------------------------------------------------------------------------


def test_warmup_cosine_values() -> None:
    schedule = WarmupCosine(0.1, total_steps=110, warmup_steps=10)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(9)) == pytest.approx(0.1)
    assert float(schedule(60)) == pytest.approx(0.05)  # half way through the decay
    assert float(schedule(110)) == pytest.approx(0.0, abs=1e-9)


def test_warmup_cosine_decays_to_its_floor_and_holds_it() -> None:
    schedule = WarmupCosine(0.1, total_steps=110, warmup_steps=10, floor=0.02)
    assert float(schedule(60)) == pytest.approx(0.06)  # half way between peak and floor
    assert [float(schedule(s)) for s in (110, 111, 500)] == pytest.approx([0.02] * 3)
    # A schedule saved before the floor existed loads with none.
    old = WarmupCosine.from_config({"peak": 0.1, "total_steps": 110, "warmup_steps": 10})
    assert float(old(110)) == pytest.approx(0.0, abs=1e-9)


def test_swa_lr_holds_the_averaged_epochs_at_a_constant_rate() -> None:
    config = tiny_config(epochs=10, average_epochs=3, swa_lr=0.02, warmup_epochs=0)
    schedule = make_schedule(config, steps_per_epoch=10)
    decaying = [float(schedule(s)) for s in range(0, 70, 10)]
    assert decaying == sorted(decaying, reverse=True) and decaying[-1] > 0.02
    assert [float(schedule(s)) for s in range(70, 100)] == pytest.approx([0.02] * 30)
    assert float(Scaled.from_config(schedule.get_config())(85)) == pytest.approx(0.02)
    # Without swa_lr the averaged epochs decay to zero as before.
    plain = make_schedule(config.replace(swa_lr=0.0), steps_per_epoch=10)
    assert float(plain(85)) < 0.01


def test_warmup_step_divides_by_ten_at_each_boundary() -> None:
    schedule = WarmupStep(0.1, boundaries=[20, 30], warmup_steps=5)
    values = [float(schedule(s)) for s in (0, 4, 5, 19, 20, 29, 30)]
    assert values == pytest.approx([0.02, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001])


def test_make_schedule_uses_epochs_and_a_changeable_scale() -> None:
    config = tiny_config(epochs=8, schedule="step", step_epochs=(4, 6), warmup_epochs=0)
    schedule = make_schedule(config, steps_per_epoch=10)
    assert float(schedule(39)) == pytest.approx(0.1) and float(schedule(40)) == pytest.approx(0.01)
    schedule.scale.assign(0.1)
    assert float(schedule(39)) == pytest.approx(0.01)
    restored = Scaled.from_config(schedule.get_config())
    assert float(restored(60)) == pytest.approx(float(schedule(60)))
    assert tiny_config(epochs=8, schedule="step").lr_drop_epochs() == (4, 6)


# --- plateau and early stopping -------------------------------------------------------------


def test_plateau_divides_the_rate_and_early_stopping_ends_the_run() -> None:
    config = tiny_config(epochs=20, plateau_patience=2, early_stopping_patience=3)
    state = RunState()
    scales, stopped = [], []
    for top1 in (0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.7):
        state = advance(state, top1, config)
        scales.append(state.lr_scale)
        stopped.append(state.stopped_early)
    assert scales == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])
    assert stopped == [False] * 7 + [True]
    assert state.best_epoch == 5 and state.best_top1 == 0.7 and state.finished(config)


def test_patience_zero_switches_both_off() -> None:
    state = RunState()
    for _ in range(10):
        state = advance(state, 0.5, tiny_config(epochs=20))
    assert state.lr_scale == 1.0 and not state.stopped_early and state.epochs_done == 10


# --- TrainConfig, RunConfig and TOML -------------------------------------------------------


def test_model_options_come_from_the_builders() -> None:
    from alexedge.train.session import check_model

    assert check_model(TrainConfig(model="alexnet", input_size=227)).model_options == {
        "towers": 2,
        "width": 1.0,
        "fc_units": 4096,
        "dropout": 0.5,
        "lrn": True,
        "init": "glorot",
    }
    assert check_model(TrainConfig()).model_options == {
        "width": 0.25,
        "fc_units": 512,
        "dropout": 0.3,
        "pool2": True,
    }
    assert check_model(TrainConfig(model="mlp")).model_options == {"fc_units": 1024, "dropout": 0.0}
    assert check_model(TrainConfig(model="logreg")).model_options == {}
    given = TrainConfig(model="alexnet-reduced", model_options={"width": 0.5})
    assert check_model(given).model_options["width"] == 0.5


@pytest.mark.parametrize(
    ("model", "options", "needle"),
    [
        ("logreg", {"width": 0.5}, "logreg has no option width"),
        ("alexnet-reduced", {"towers": 1}, "alexnet-reduced has no option towers"),
        ("alexnet", {"towers": 3.5}, "towers must be an integer"),
        ("alexnet", {"lrn": "no"}, "lrn must be true or false"),
        ("alexnet-reduced", {"width": 9}, "width must be in"),
        ("mlp", {"dropout": 1.0}, "dropout must be in"),
    ],
)
def test_bad_model_options_name_the_family(model: str, options: dict, needle: str) -> None:
    from alexedge.errors import ModelError
    from alexedge.train.session import check_model

    with pytest.raises(ModelError, match=needle):
        check_model(TrainConfig(model=model, input_size=227, model_options=options))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"optimizer": "rmsprop"}, "--optimizer must be one of"),
        ({"precision": "float8"}, "--precision must be one of"),
        ({"strategy": "tpu"}, "--strategy must be one of"),
        ({"loss": "hinge"}, "label smoothing applies to the crossentropy"),
        ({"model_options": {"width": [1, 2]}}, "model option width must be"),
        ({"step_epochs": (3, 1)}, "step epochs must be increasing"),
        ({"epochs": 0}, "--epochs must be at least 1"),
    ],
)
def test_bad_recipes_raise_config_errors(changes: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        TrainConfig(**changes)


def test_choices_pull_their_own_defaults() -> None:
    adamw = train_config_with(TrainConfig(), optimizer="adamw")
    assert adamw.learning_rate == ADAMW_LEARNING_RATE and adamw.weight_decay > 0.01
    assert (
        train_config_with(TrainConfig(), optimizer="adamw", learning_rate=None).optimizer == "adamw"
    )
    assert train_config_with(TrainConfig(), loss="hinge").label_smoothing == 0.0
    assert train_config_with(tiny_config(), model="alexnet").model_options == {}  # its own
    wider = train_config_with(tiny_config(), width=0.5)
    assert wider.model_options == {"width": 0.5, "fc_units": 16}  # the others kept


def test_run_config_round_trips_through_toml(tmp_path: Path) -> None:
    config = RunConfig(
        DataConfig(tmp_path / 'data dir "quoted"', layout="folders", classes=5),
        tiny_config(step_epochs=(1,), schedule="step", precision="mixed_bfloat16"),
    )
    write_run_config(tmp_path / "config.toml", config)
    assert read_run_config(tmp_path / "config.toml") == config
    assert "classes_file" not in to_toml(config)  # None values are left out


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[data\nroot=1", "not a valid TOML"),
        ('[data]\nroot = "x"\n[train]\nlearning_rat = 0.1\n', "unknown TrainConfig keys"),
        ('[data]\nroot = "x"\n[extra]\n', "unknown tables"),
        ('[data]\nroot = "x"\n[train]\nepochs = 0\n', "--epochs must be at least 1"),
    ],
)
def test_bad_toml_configs_raise_config_errors(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=needle):
        read_run_config(tmp_path / "config.toml")


def test_towers_option_builds_the_ungrouped_alexnet() -> None:
    from alexedge.train.models import build_model
    from alexedge.train.session import check_model

    paper = TrainConfig(model="alexnet", input_size=227)
    ungrouped = check_model(train_config_with(paper, towers=1))
    assert ungrouped.model_options["towers"] == 1
    model = build_model("alexnet", 1000, 227, **ungrouped.model_options)
    assert model.count_params() == 62_378_344
