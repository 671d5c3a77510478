"""``RunConfig``: the dataset and the recipe of one ``alexedge train`` run, as TOML.

``RUN/config.toml`` is written before training starts and holds every value the run
used (model options resolved, the dataset layout detected), so ``alexedge train
--config RUN/config.toml`` trains the same run again and ``--resume RUN`` continues
it. Read with the standard library's ``tomllib``; written by the small writer below,
which only needs what these configs contain: tables of scalars and lists, a nested config
as a sub-table (``[train.augmentation]``) and ``model_options`` as an inline table.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.atomic import write_text
from alexedge.config import config_from_dict
from alexedge.config import require as _require
from alexedge.data.dataset import ImageDataset, load_dataset
from alexedge.errors import ConfigError
from alexedge.train.config import MODEL_OPTION_FIELDS, Augmentation, TrainConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "ADAMW_LEARNING_RATE",
    "ADAMW_WEIGHT_DECAY",
    "RUN_CONFIG",
    "DataConfig",
    "RunConfig",
    "read_run_config",
    "to_toml",
    "train_config_with",
    "write_run_config",
]

RUN_CONFIG = "config.toml"
# AdamW's usual starting point (Loshchilov & Hutter 2019 scale): SGD's 0.1 and 5e-4
# would diverge and barely decay with Adam's normalized steps.
ADAMW_LEARNING_RATE = 1e-3
ADAMW_WEIGHT_DECAY = 0.05


@dataclass(frozen=True)
class DataConfig:
    """Which images a run trains on: ``alexedge.data.load_dataset``'s arguments."""

    root: Path
    layout: str = "auto"
    classes: int | None = None
    classes_file: Path | None = None
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.classes_file is not None:
            object.__setattr__(self, "classes_file", Path(self.classes_file))
        _require(
            self.classes is None or self.classes >= 2,
            f"--classes must be at least 2, got {self.classes}",
        )
        _require(
            0 < self.val_fraction < 1, f"--val-fraction must be in (0, 1), got {self.val_fraction}"
        )
        _require(
            self.classes is None or self.classes_file is None,
            "give either --classes or --classes-file, not both",
        )

    def load(self, seed: int) -> ImageDataset:
        """The dataset these arguments select; ``seed`` fixes a split drawn from train/."""
        return load_dataset(
            self.root,
            self.classes,
            layout=self.layout,
            classes_file=self.classes_file,
            val_fraction=self.val_fraction,
            seed=seed,
        )


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig
    train: TrainConfig


def train_config_with(base: TrainConfig, **options: Any) -> TrainConfig:
    """``base`` with the options that are not None; defaults follow the choices made.

    Options are named as ``TrainConfig``'s fields, ``Augmentation``'s fields (they go into
    ``augmentation``) or ``MODEL_OPTION_FIELDS`` (into ``model_options``), so each
    ``alexedge train`` option is one field and a name that is none of these is refused.
    Switching to AdamW without a learning rate or weight decay takes
    ``ADAMW_LEARNING_RATE`` and ``ADAMW_WEIGHT_DECAY``; the hinge loss without a label
    smoothing takes 0 (smoothing is a cross-entropy notion).
    """
    changes = {k: v for k, v in options.items() if v is not None}
    augmentation = {
        f.name: changes.pop(f.name) for f in dataclasses.fields(Augmentation) if f.name in changes
    }
    if augmentation:
        changes["augmentation"] = dataclasses.replace(base.augmentation, **augmentation)
    # ``--width`` and its kin are model options: given ones replace the base's, for the
    # base's model or, when the model changes, over the new model's defaults.
    given = {k: changes.pop(k) for k in MODEL_OPTION_FIELDS if k in changes}
    if given:
        same_model = changes.get("model", base.model) == base.model
        kept = dict(base.model_options) if same_model else {}
        changes["model_options"] = {**kept, **given}
    if changes.get("optimizer") == "adamw" and base.optimizer != "adamw":
        changes.setdefault("learning_rate", ADAMW_LEARNING_RATE)
        changes.setdefault("weight_decay", ADAMW_WEIGHT_DECAY)
    if changes.get("loss") == "hinge":
        changes.setdefault("label_smoothing", 0.0)
    return base.replace(**changes) if changes else base


def to_toml(config: RunConfig) -> str:
    """``[data]`` and ``[train]`` tables; unset (None) values are left out."""
    lines = ["# alexedge training run: `alexedge train --config THIS_FILE` trains it again."]
    lines += _toml_table("data", config.data) + _toml_table("train", config.train)
    return "\n".join(lines) + "\n"


def _toml_table(name: str, config: Any) -> list[str]:
    # TOML puts a table's sub-tables after all of its own keys.
    lines, nested = [f"\n[{name}]"], []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            nested += _toml_table(f"{name}.{f.name}", value)
        elif value is not None:
            lines.append(f"{f.name} = {_toml_value(value)}")
    return lines + nested


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else f"{value}")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table: model_options = { width = 0.5 }
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def write_run_config(path: Path, config: RunConfig) -> None:
    write_text(path, to_toml(config))


def read_run_config(path: Path) -> RunConfig:
    """Parse a config written by ``write_run_config`` (or by hand in the same form).

    Raises:
        ConfigError: missing file, invalid TOML, unknown tables or keys, bad values.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: not a valid TOML config ({e})") from e
    unknown = sorted(set(doc) - {"data", "train"})
    _require(not unknown, f"{path}: unknown tables {unknown}; expected [data] and [train]")
    _require("data" in doc and "root" in doc["data"], f"{path}: needs [data] with a root")
    try:
        return RunConfig(
            data=config_from_dict(DataConfig, doc["data"]),
            train=config_from_dict(TrainConfig, doc.get("train", {})),
        )
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"{path}: {e}") from e
