"""Command-line options override the configs and hold no defaults of their own.

Each option of a config field defaults to None ("not given"), so the dataclass is the one
place its default lives; ``--help`` shows that default, read from the dataclass.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from alexedge.cli import compress as compress_cli
from alexedge.cli import package as package_cli
from alexedge.cli import pipeline as pipeline_cli
from alexedge.cli import train as train_cli
from alexedge.compress.config import CompressConfig
from alexedge.data.synth import SynthConfig
from alexedge.errors import ConfigError
from alexedge.pipeline import FIRST_RUN_COMPRESS, FIRST_RUN_TRAIN
from alexedge.train.config import Augmentation, TrainConfig
from alexedge.train.run_config import DataConfig

# Options whose "not given" is a value of their own: on/off flags of the command itself.
_FLAGS = {"force", "embedder", "ten_crop"}


def _command(module: Any, name: str) -> Any:
    """The Click command Typer builds (Typer vendors Click: its classes are not ``click``'s)."""
    app = typer.Typer()
    module.register(app)
    command = typer.main.get_command(app)
    return command.commands[name] if hasattr(command, "commands") else command


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (train_cli, "train"),
        (compress_cli, "compress"),
        (pipeline_cli, "pipeline"),
        (package_cli, "package"),
    ],
)
def test_options_default_to_not_given(module: Any, name: str) -> None:
    options = [p for p in _command(module, name).params if p.param_type_name == "option"]
    assert len(options) > 10
    for option in options:
        if option.name not in _FLAGS:
            assert option.default is None, f"{name} --{option.name} restates a default"


@pytest.mark.parametrize(
    ("module", "name", "configs"),
    [
        (train_cli, "train", (TrainConfig(), Augmentation(), DataConfig(Path()))),
        (compress_cli, "compress", (CompressConfig(),)),
        (pipeline_cli, "pipeline", (FIRST_RUN_TRAIN, FIRST_RUN_COMPRESS)),
    ],
)
def test_help_shows_the_dataclass_defaults(module: Any, name: str, configs: tuple) -> None:
    params = _command(module, name).params
    # An option may hide its default (show_default=False) when it depends on other options.
    shown = {p.name: p.show_default for p in params if p.show_default is not False}
    assert shown["seed"] == "0"
    for config in configs:
        for field in config.__dataclass_fields__:
            value = getattr(config, field)
            if field in shown and isinstance(value, int | float) and not isinstance(value, bool):
                assert shown[field] == str(value), (name, field)
    if name == "train":
        assert (shown["learning_rate"], shown["pca_sigma"]) == ("0.1", "0.1")
        assert (shown["nesterov"], shown["random_resized_crop"]) == ("--nesterov", "--fixed-crop")
        assert (shown["layout"], shown["val_fraction"]) == ("auto", "0.1")
    if name == "compress":
        assert (shown["sparsities"], shown["skip_layers"], shown["io_type"]) == (
            "0.75",
            "conv1",
            "uint8",
        )


def _pipeline_config(monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    import alexedge.pipeline

    seen = []

    def record(config: Any) -> None:
        seen.append(config)
        raise ConfigError("recorded")

    monkeypatch.setattr(alexedge.pipeline, "run_pipeline", record)
    app = typer.Typer()
    pipeline_cli.register(app)
    result = CliRunner().invoke(app, ["--out", "run", *args])
    assert "recorded" in result.output, result.output
    return seen[0]


def test_pipeline_options_reach_each_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _pipeline_config(monkeypatch)
    assert (config.data, config.synth) == (None, SynthConfig())
    assert (config.train, config.compress) == (FIRST_RUN_TRAIN, FIRST_RUN_COMPRESS)
    args = ["--epochs", "2", "--size", "32", "--seed", "3", "--sparsity", "0.5,0.9"]
    config = _pipeline_config(monkeypatch, *args, "--per-class", "7", "--classes", "4")
    assert config.train == FIRST_RUN_TRAIN.replace(epochs=2, input_size=32, seed=3)
    assert config.synth == SynthConfig(classes=4, per_class=7, size=32, seed=3)
    assert config.compress == replace(FIRST_RUN_COMPRESS, sparsities=(0.5, 0.9), seed=3)
    config = _pipeline_config(monkeypatch, "--precision", "float32", "--layer-errors")
    assert (config.train.precision, config.compress.layer_errors) == ("float32", True)
    config = _pipeline_config(monkeypatch, "--data", "d", "--classes", "4", "--layout", "folders")
    assert config.data == DataConfig(Path("d"), "folders", 4)


def test_compress_options_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def record(**options: Any) -> None:
        seen.append(CompressConfig(**options))
        raise ConfigError("recorded")

    monkeypatch.setattr(compress_cli, "CompressConfig", record)
    app = typer.Typer()
    compress_cli.register(app)
    runner = CliRunner()
    assert "recorded" in runner.invoke(app, ["run"]).output
    args = ["run", "--sparsity", "0.5", "--skip-layers", "", "--io", "int8", "--per-tensor"]
    assert "recorded" in runner.invoke(app, [*args, "--float-layers", "fc8,conv1"]).output
    assert seen == [
        CompressConfig(),
        CompressConfig(
            sparsities=(0.5,),
            skip_layers=(),
            io_type="int8",
            per_channel=False,
            float_layers=("fc8", "conv1"),
        ),
    ]
