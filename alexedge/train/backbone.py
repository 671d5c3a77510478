"""The run a fine-tune starts from (``alexedge train --init-from RUN``): read and recorded.

TensorFlow-free, so ``alexedge train`` can take the backbone's architecture as its
defaults and say so before TensorFlow loads; the weights themselves are copied by
``alexedge.train.transfer``. A fine-tune keeps the backbone's input normalization
(mean/std): its filters and batch-norm statistics were learned on inputs normalized
that way, and the new data's own mean/std would shift every first-layer response.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.config import config_from_dict
from alexedge.data.stats import ChannelStats
from alexedge.errors import ConfigError, DataError
from alexedge.run import (
    BEST_MODEL,
    CLASSES,
    DATA_STATS,
    METRICS,
    TRAIN_CONFIG,
    check_trained_run,
)
from alexedge.train.config import TrainConfig
from alexedge.train.run_config import train_config_with

__all__ = [
    "FREEZE_EPOCHS",
    "Backbone",
    "architecture_differences",
    "fine_tune_config",
    "read_backbone",
]

# The epochs a fine-tune trains its new head alone when --freeze-epochs is not given
# (at most all but one epoch). Measured against 0 on a short fine-tune of few images a
# class, the two gave the same top-1 (benchmarks/RESULTS.md); 3 is kept so that a random
# head's first, large gradients do not reach the copied layers.
FREEZE_EPOCHS = 3
# TrainConfig fields that shape the network's weights besides the classes.
_ARCHITECTURE = ("model", "input_size", "model_options")


@dataclass(frozen=True)
class Backbone:
    """A finished ``alexedge train`` run whose weights start a new one."""

    run: Path  # resolved
    config: TrainConfig
    classes: int
    stats: ChannelStats  # the normalization its features were learned on
    sha256: str  # of its best.keras, the file the weights come from
    top1: float | None  # its centre-crop validation top-1, when it was measured

    @property
    def model_file(self) -> Path:
        return self.run / BEST_MODEL

    def record(self) -> dict[str, Any]:
        """What ``metrics.json`` and the report say about where the weights came from."""
        return {
            "run": str(self.run),
            "model": self.config.model,
            "classes": self.classes,
            "input_size": self.config.input_size,
            "best_keras_sha256": self.sha256,
            "top1": self.top1,
        }


def read_backbone(run: Path) -> Backbone:
    """The finished run ``run``, checked to be one (``DataError``/``ModelError`` if not)."""
    run = Path(run)
    where = f"--init-from {run}"
    if not run.is_dir():
        raise DataError(f"{where}: no such run folder")
    check_trained_run(run)
    try:
        config = config_from_dict(TrainConfig, _read_json(run / TRAIN_CONFIG))
        stats = ChannelStats.from_dict(_read_json(run / DATA_STATS))
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{where}: unreadable run files ({e})") from e
    classes = len((run / CLASSES).read_text().split())
    metrics = _read_json(run / METRICS) if (run / METRICS).is_file() else {}
    top1 = metrics.get("centre_crop", {}).get("top1")
    digest = hashlib.sha256((run / BEST_MODEL).read_bytes()).hexdigest()
    return Backbone(run.resolve(), config, classes, stats, digest, top1)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable ({e})") from e


def fine_tune_config(base: TrainConfig, backbone: Backbone, **given: Any) -> TrainConfig:
    """``base`` fine-tuning ``backbone``: its architecture unless ``given`` says otherwise.

    ``given`` are ``train_config_with``'s options (None = not given). The model, input
    size and model options default to the backbone's, so its layers fit; given ones
    that change a layer's shape are refused when the run starts
    (``transfer.check_backbone_fits``). ``freeze_epochs`` not given takes
    ``FREEZE_EPOCHS``, leaving at least one epoch to train the whole network.
    """
    source = backbone.config
    adopted = base.replace(
        model=source.model,
        input_size=source.input_size,
        model_options=dict(source.model_options),
        init_from=str(backbone.run),
    )
    config = train_config_with(adopted, **given)
    if given.get("freeze_epochs") is None:
        config = config.replace(freeze_epochs=max(0, min(FREEZE_EPOCHS, config.epochs - 1)))
    return config


def architecture_differences(config: TrainConfig, backbone: TrainConfig) -> list[str]:
    """``--option value (the backbone's value)`` for each architecture value that differs."""
    differences = []
    for name in _ARCHITECTURE:
        mine, theirs = getattr(config, name), getattr(backbone, name)
        if name == "model_options":
            differences += [
                f"--{key.replace('_', '-')} {mine[key]} (the backbone's {theirs.get(key)})"
                for key in sorted(mine)
                if mine[key] != theirs.get(key)
            ]
        elif mine != theirs:
            option = "size" if name == "input_size" else name
            differences.append(f"--{option} {mine} (the backbone's {theirs})")
    return differences
