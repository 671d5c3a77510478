"""``TrainConfig``: everything that defines a training run, saved with the run.

The defaults are the built-in pipeline's quick recipe (a width-0.25 ``alexnet-reduced``
for 15 epochs); ``alexedge.train.presets`` holds the tuned recipes for real datasets.
This module imports no TensorFlow, so a bad option fails before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from alexedge.config_base import require as _require
from alexedge.errors import ConfigError

__all__ = [
    "INPUT_MODES",
    "LOSSES",
    "MODEL_OPTION_DEFAULTS",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "STRATEGIES",
    "TrainConfig",
]

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step")
LOSSES = ("crossentropy", "hinge")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "mirrored", "multiworker")
# Where training images live between epochs: decoded once in memory, or decoded from
# their files every epoch; "auto" takes memory when the split fits in half the free RAM.
INPUT_MODES = ("auto", "memory", "stream")

# What ``width``, ``fc_units`` and ``dropout`` mean when left unset, per model. Kept here
# (not read from the registry) so validating a config never imports TensorFlow;
# ``tests/test_training.py`` checks the table against the builders' signatures.
# ``alexnet`` gets the paper's network; ``alexnet-reduced`` the pipeline's quick one.
MODEL_OPTION_DEFAULTS: dict[str, dict[str, float | int]] = {
    "alexnet": {"width": 1.0, "fc_units": 4096, "dropout": 0.5, "towers": 2},
    "alexnet-reduced": {"width": 0.25, "fc_units": 512, "dropout": 0.3},
    "mlp": {"fc_units": 1024, "dropout": 0.0},
    "logreg": {},
}
# The builder keyword behind a config field, where the names differ.
_OPTION_NAMES = {"mlp": {"fc_units": "hidden_units"}}
_MODEL_FIELDS = ("width", "fc_units", "dropout", "towers")


@dataclass(frozen=True)
class TrainConfig:
    """Recipe for training one model; a saved copy reproduces the run.

    ``width``, ``fc_units`` and ``dropout`` apply to models that take them; unset (None)
    they become the model's entry in ``MODEL_OPTION_DEFAULTS``, so a saved config always
    holds the values actually used. ``batch_size`` is the global batch, split over the
    replicas of a distribution strategy, so a recipe means the same on any device count.
    ``input_mode`` and ``cache_dir`` say where the images come from each epoch
    (``INPUT_MODES``); a stream cached in ``cache_dir`` reshuffles through a bounded
    buffer rather than in full (``alexedge.train.sources``).
    """

    model: str = "alexnet-reduced"
    input_size: int = 64
    width: float | None = None
    fc_units: int | None = None
    dropout: float | None = None
    towers: int | None = None
    epochs: int = 15
    batch_size: int = 128
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    step_epochs: tuple[int, ...] = ()
    plateau_patience: int = 0
    early_stopping_patience: int = 0
    loss: str = "crossentropy"
    label_smoothing: float = 0.1
    pca_lighting: float = 0.1
    random_resized_crop: bool = False
    precision: str = "float32"
    xla: bool = False
    strategy: str = "auto"
    seed: int = 0
    input_mode: str = "auto"
    cache_dir: str = ""  # "" = no cache: a streamed split is decoded every epoch

    def __post_init__(self) -> None:
        # TOML and JSON give lists; the frozen config holds a hashable tuple.
        object.__setattr__(self, "step_epochs", tuple(int(e) for e in self.step_epochs))
        object.__setattr__(self, "cache_dir", os.fspath(self.cache_dir))
        self._check_ranges()
        self._check_choices()
        self._resolve_model_options()

    def _check_ranges(self) -> None:
        _require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}")
        _require(self.input_size >= 16, f"input size must be at least 16, got {self.input_size}")
        _require(self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}")
        _require(
            self.width is None or 0 < self.width <= 4, f"width must be in (0, 4], got {self.width}"
        )
        _require(self.fc_units is None or self.fc_units >= 1, "fc units must be at least 1")
        _require(self.towers in (None, 1, 2), f"--towers must be 1 or 2, got {self.towers}")
        _require(
            self.dropout is None or 0 <= self.dropout < 1,
            f"dropout must be in [0, 1), got {self.dropout}",
        )
        _require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        _require(0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)")
        _require(self.warmup_epochs >= 0, "warmup epochs must be >= 0")
        _require(self.weight_decay >= 0, "weight decay must be >= 0")
        _require(self.pca_lighting >= 0, "PCA lighting sigma must be >= 0")
        _require(self.plateau_patience >= 0, "plateau patience must be >= 0 (0 = off)")
        _require(
            self.early_stopping_patience >= 0, "early stopping patience must be >= 0 (0 = off)"
        )
        steps = self.step_epochs
        _require(
            all(0 < e < self.epochs for e in steps) and list(steps) == sorted(set(steps)),
            f"step epochs must be increasing and between 1 and epochs - 1, got {list(steps)}",
        )

    def _check_choices(self) -> None:
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("loss", LOSSES),
            ("precision", PRECISIONS),
            ("strategy", STRATEGIES),
        ):
            value = getattr(self, name)
            _require(
                value in allowed, f"--{name} must be one of {', '.join(allowed)}, got {value!r}"
            )
        _require(
            self.input_mode in INPUT_MODES,
            f"--input must be one of {', '.join(INPUT_MODES)}, got {self.input_mode!r}",
        )
        _require(
            not (self.cache_dir and self.input_mode == "memory"),
            "--cache-dir keeps streamed images decoded on disk; it has no use with "
            "--input memory (use --input stream or auto)",
        )
        _require(
            self.loss != "hinge" or self.label_smoothing == 0,
            "label smoothing applies to the crossentropy loss; use --label-smoothing 0 with "
            "--loss hinge",
        )

    def _resolve_model_options(self) -> None:
        defaults = MODEL_OPTION_DEFAULTS.get(self.model)
        if defaults is None:  # a model registered elsewhere: its builder checks the options
            return
        for name in _MODEL_FIELDS:
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, defaults.get(name))
            elif name not in defaults:
                raise ConfigError(f"model {self.model} has no {name} option; leave it unset")

    def model_options(self) -> dict[str, Any]:
        """Keyword options for ``build_model``: the set model fields, builder-named."""
        names = _OPTION_NAMES.get(self.model, {})
        return {
            names.get(f, f): getattr(self, f) for f in _MODEL_FIELDS if getattr(self, f) is not None
        }

    def lr_drop_epochs(self) -> tuple[int, ...]:
        """Epochs after which the step schedule divides the learning rate by 10.

        Unset, at 50% and 75% of the run (the ResNet/VGG habit of two drops late).
        """
        if self.step_epochs:
            return self.step_epochs
        return tuple(sorted({e for e in (self.epochs // 2, self.epochs * 3 // 4) if e > 0}))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``; model options re-resolve when the model changes."""
        values = dataclasses.asdict(self)
        if "model" in changes and changes["model"] != self.model:
            for name in _MODEL_FIELDS:
                values[name] = None
        values.update(changes)
        return TrainConfig(**values)
