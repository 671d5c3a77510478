"""Configs saved by older versions still load, and every config round-trips through its files.

``fixtures/legacy_run`` holds a ``config.json`` and a ``config.toml`` as ``alexedge train``
wrote them before the augmentation options moved into ``TrainConfig.augmentation``: flat
keys, ``pca_sigma`` under its option's name ``pca_lighting``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alexedge.compress.config import CompressConfig
from alexedge.config import config_from_dict, config_to_dict
from alexedge.errors import ConfigError
from alexedge.train.config import Augmentation, TrainConfig
from alexedge.train.run_config import (
    DataConfig,
    RunConfig,
    read_run_config,
    to_toml,
    train_config_with,
)

LEGACY = Path(__file__).parent / "fixtures" / "legacy_run"

# What the fixtures hold, spelled out rather than taken from today's presets.
SAVED = TrainConfig(
    model="alexnet-reduced",
    input_size=56,
    model_options={"width": 0.5, "fc_units": 512, "dropout": 0.5, "pool2": False, "towers": 1},
    epochs=100,
    warmup_epochs=2,
    augmentation=Augmentation(
        pca_sigma=0.05,
        random_resized_crop=True,
        min_crop_area=0.35,
        erasing=0.25,
        trivial_augment=True,
        mixup=0.2,
        cutmix=1.0,
    ),
    average_epochs=5,
    precision="auto",
    seed=3,
)


def test_an_old_config_json_reads_into_the_nested_form() -> None:
    values = json.loads((LEGACY / "config.json").read_text())
    assert "pca_lighting" in values and "augmentation" not in values  # the old form
    assert config_from_dict(TrainConfig, values) == SAVED


def test_an_old_config_toml_reads_into_the_nested_form() -> None:
    run = read_run_config(LEGACY / "config.toml")
    assert run.train == SAVED
    assert run.data == DataConfig(Path("/data/tiny-imagenet-200"), "tiny-imagenet", 20)


def test_configs_written_before_model_options_existed_still_read() -> None:
    config = config_from_dict(TrainConfig, {"width": 0.25, "towers": 1, "mixup": 0.1})
    assert config.model_options == {"width": 0.25, "towers": 1}
    assert config.augmentation == Augmentation(mixup=0.1)


def test_todays_files_round_trip(tmp_path: Path) -> None:
    run = RunConfig(DataConfig(tmp_path / "data", classes_file=tmp_path / "c.txt"), SAVED)
    (tmp_path / "config.toml").write_text(to_toml(run))
    assert "[train.augmentation]" in to_toml(run)
    assert read_run_config(tmp_path / "config.toml") == run
    assert config_from_dict(TrainConfig, config_to_dict(SAVED)) == SAVED
    compress = CompressConfig(sparsities=(0.5, 0.9), float_layers=("fc8",))
    assert config_from_dict(CompressConfig, config_to_dict(compress)) == compress


def test_unknown_keys_are_refused_at_any_depth() -> None:
    with pytest.raises(ConfigError, match="unknown TrainConfig keys"):
        config_from_dict(TrainConfig, {"learning_rat": 0.1})
    with pytest.raises(ConfigError, match=r"unknown Augmentation keys \['mixupp'\]"):
        config_from_dict(TrainConfig, {"augmentation": {"mixupp": 0.2}})


def test_command_line_options_reach_the_nested_augmentation() -> None:
    base = TrainConfig(augmentation=Augmentation(mixup=0.2))
    changed = train_config_with(base, cutmix=1.0, pca_sigma=None, epochs=3)
    assert changed.augmentation == Augmentation(mixup=0.2, cutmix=1.0)
    assert changed.epochs == 3
    with pytest.raises(TypeError):
        train_config_with(base, not_an_option=1)
