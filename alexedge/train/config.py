"""``TrainConfig``: everything that defines a training run, saved with the run.

The defaults are the built-in pipeline's quick recipe (``alexnet-reduced`` at its
defaults for 15 epochs); ``alexedge.train.presets`` holds the tuned recipes for real
datasets. This module imports no TensorFlow, so a bad recipe value fails before
TensorFlow loads. Model options are the exception: they belong to the model family
(its builder's keyword defaults, ``alexedge.train.models.registry``), which is checked
and completed by ``alexedge.train.session.check_model`` before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alexedge.config import require as _require

__all__ = [
    "INPUT_MODES",
    "LOSSES",
    "MODEL_OPTION_FIELDS",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "STRATEGIES",
    "Augmentation",
    "TrainConfig",
]

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step")
LOSSES = ("crossentropy", "hinge")
# "auto" is resolved when the run starts (``alexedge.train.precision.detect_precision``)
# and the run's saved config records what it became.
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "mirrored", "multiworker")
# Where training images live between epochs: decoded once in memory, or decoded from
# their files every epoch; "auto" takes memory when the split fits in half the free RAM.
INPUT_MODES = ("auto", "memory", "stream")

# Model options that ``alexedge train`` has its own flags for (``--width`` ...); configs
# written before ``model_options`` existed hold the first four as top-level keys.
MODEL_OPTION_FIELDS = ("width", "fc_units", "dropout", "towers", "pool2")
# Configs written before ``augmentation`` was a nested table hold these top-level keys,
# ``pca_sigma`` under the name of its option; newer ``Augmentation`` fields were never flat.
_FLAT_AUGMENTATION_KEYS = {
    "pca_lighting": "pca_sigma",
    "random_resized_crop": "random_resized_crop",
    "min_crop_area": "min_crop_area",
    "erasing": "erasing",
    "trivial_augment": "trivial_augment",
    "mixup": "mixup",
    "cutmix": "cutmix",
}
_SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Augmentation:
    """What the training input pipeline does to each image and batch.

    ``pca_sigma``: the paper's PCA colour noise (``--pca-lighting``). ``random_resized_crop`` with
    ``min_crop_area``: Inception-style crops of ``min_crop_area``-1 of the image's area
    instead of the paper's fixed-size crop. ``erasing``: the probability of random
    erasing (Zhong et al. 2017: a rectangle of 2-33% of the crop filled with noise).
    ``trivial_augment``: one random photometric or geometric operation per image at a
    random strength (``alexedge.train.trivial_augment``). ``mixup`` / ``cutmix``:
    Beta(alpha, alpha) of batch mixing (Zhang et al. 2018; Yun et al. 2019), 0 = off;
    with both on, each batch takes one of them at random.
    """

    pca_sigma: float = 0.1
    random_resized_crop: bool = False
    min_crop_area: float = 0.08
    erasing: float = 0.0
    trivial_augment: bool = False
    mixup: float = 0.0
    cutmix: float = 0.0

    def __post_init__(self) -> None:
        _require(self.pca_sigma >= 0, "PCA lighting sigma must be >= 0")
        _require(
            0 < self.min_crop_area <= 1,
            f"--min-crop-area must be in (0, 1], got {self.min_crop_area}",
        )
        _require(0 <= self.erasing <= 1, f"--erasing must be in [0, 1], got {self.erasing}")
        _require(self.mixup >= 0, f"--mixup must be >= 0 (0 = off), got {self.mixup}")
        _require(self.cutmix >= 0, f"--cutmix must be >= 0 (0 = off), got {self.cutmix}")

    def plain(self) -> Augmentation:
        """The crops, flips and PCA lighting alone, without mixing, erasing or
        TrivialAugment: the training images closest to what the model meets at test
        time, e.g. to re-estimate batch-norm statistics on."""
        return dataclasses.replace(self, erasing=0.0, trivial_augment=False, mixup=0.0, cutmix=0.0)


@dataclass(frozen=True)
class TrainConfig:
    """Recipe for training one model; a saved copy reproduces the run.

    ``model_options`` are keyword options of the model's builder (``width``,
    ``fc_units``, ``dropout``, ``towers`` ... per family); the ones not given take the
    builder's defaults when the run starts, so a saved config holds every value used.
    ``augmentation`` is what the input pipeline does to each training image and batch.
    ``batch_size`` is the global batch, split over the
    replicas of a distribution strategy, so a recipe means the same on any device count.
    ``input_mode`` and ``cache_dir`` say where the images come from each epoch
    (``INPUT_MODES``); a stream cached in ``cache_dir`` reshuffles through a bounded
    buffer rather than in full (``alexedge.train.sources``). ``average_epochs`` N > 0
    makes the run's model the mean of its last N epochs' weights
    (``alexedge.train.averaging``) instead of the epoch with the best validation top-1,
    a choice made on the images that then measure it. ``swa_lr`` > 0 holds the learning
    rate at that value through those N epochs, the cosine decaying to it before them
    (stochastic weight averaging, Izmailov et al. 2018): the averaged weights then come
    from different points of a wide optimum, not from one point at a rate near zero.
    ``plain_epochs`` N > 0 trains the last N epochs on plain crops
    (``Augmentation.plain``): the model ends fitted to images like the test images
    rather than to mixed, erased or TrivialAugment-ed ones (He et al. 2019, "Data
    augmentation revisited"). ``time_budget`` M > 0 trains as many epochs as fit in M
    minutes on this machine, ``epochs`` at most, the schedule spanning exactly those
    (``alexedge.train.budget``). ``init_from`` names a finished run whose layers start
    this one, all but the classifier head (``alexedge.train.transfer``): the first
    ``freeze_epochs`` train the new head alone, then every layer trains at
    ``finetune_lr_scale`` times the schedule's rate. Its default is 1, the recipe's own
    rate: measured on a 15-epoch fine-tune of few images a class, lower rates
    underfitted (benchmarks/RESULTS.md); a long fine-tune of a strong backbone may want
    less, to adjust its features rather than overwrite them.
    """

    model: str = "alexnet-reduced"
    input_size: int = 64
    model_options: Mapping[str, Any] = field(default_factory=dict)
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
    average_epochs: int = 0  # 0: the best validation epoch; N: the mean of the last N
    swa_lr: float = 0.0  # > 0: the averaged epochs train at this constant rate (SWA)
    loss: str = "crossentropy"
    label_smoothing: float = 0.1
    augmentation: Augmentation = field(default_factory=Augmentation)
    plain_epochs: int = 0  # the last N epochs without mixing, erasing, TrivialAugment
    init_from: str = ""  # a finished run whose layers start this one (train.backbone)
    freeze_epochs: int = 0  # with init_from: the first N epochs train the new head alone
    finetune_lr_scale: float = 1.0  # with init_from: the rate x this once all layers train
    precision: str = "float32"
    xla: bool = False
    strategy: str = "auto"
    seed: int = 0
    input_mode: str = "auto"
    cache_dir: str = ""  # "" = no cache: a streamed split is decoded every epoch
    time_budget: float = 0.0  # minutes; > 0: epochs planned after epoch 1 to fit them

    def __post_init__(self) -> None:
        # TOML and JSON give lists; the frozen config holds a hashable tuple.
        object.__setattr__(self, "step_epochs", tuple(int(e) for e in self.step_epochs))
        object.__setattr__(self, "cache_dir", os.fspath(self.cache_dir))
        object.__setattr__(self, "model_options", dict(self.model_options))
        self._check_ranges()
        self._check_choices()
        self._check_model_options()
        self._check_fine_tune()

    def _check_ranges(self) -> None:
        _require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        _require(
            self.time_budget >= 0,
            f"--time-budget must be >= 0 minutes (0 = none), got {self.time_budget}",
        )
        _require(self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}")
        _require(self.input_size >= 16, f"input size must be at least 16, got {self.input_size}")
        _require(self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}")
        _require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        _require(0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)")
        _require(self.warmup_epochs >= 0, "warmup epochs must be >= 0")
        _require(self.weight_decay >= 0, "weight decay must be >= 0")
        _require(self.plateau_patience >= 0, "plateau patience must be >= 0 (0 = off)")
        _require(
            self.early_stopping_patience >= 0, "early stopping patience must be >= 0 (0 = off)"
        )
        _require(
            0 <= self.average_epochs <= self.epochs,
            f"--average-epochs must be between 0 and --epochs ({self.epochs}), "
            f"got {self.average_epochs}",
        )
        _require(
            not (self.average_epochs and self.early_stopping_patience),
            "--average-epochs averages the run's last epochs, which early stopping makes "
            "unknown in advance; use one of them",
        )
        _require(
            0 <= self.swa_lr < self.learning_rate,
            f"--swa-lr must be >= 0 and below the peak learning rate ({self.learning_rate}), "
            f"got {self.swa_lr}",
        )
        _require(
            not self.swa_lr or (self.average_epochs and self.schedule == "cosine"),
            "--swa-lr is the constant rate of the averaged epochs after a cosine decay; "
            "it needs --average-epochs N and --schedule cosine",
        )
        _require(
            0 <= self.plain_epochs <= self.epochs,
            f"--plain-epochs must be between 0 and --epochs ({self.epochs}), "
            f"got {self.plain_epochs}",
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

    def _check_model_options(self) -> None:
        # Their meaning is the family's (checked against it when the run starts); here
        # only what a TOML/JSON config can hold: names and scalar values.
        for name, value in self.model_options.items():
            _require(
                isinstance(name, str) and name.isidentifier(),
                f"model option names must be identifiers, got {name!r}",
            )
            _require(
                isinstance(value, _SCALARS),
                f"model option {name} must be a number, true/false or text, got {value!r}",
            )

    def _check_fine_tune(self) -> None:
        _require(
            0 <= self.freeze_epochs <= self.epochs,
            f"--freeze-epochs must be between 0 and --epochs ({self.epochs}), "
            f"got {self.freeze_epochs}",
        )
        _require(
            not self.freeze_epochs or self.init_from,
            "--freeze-epochs trains the new head of a fine-tune alone; it needs --init-from RUN",
        )
        _require(
            0 < self.finetune_lr_scale <= 1,
            f"--finetune-lr-scale must be in (0, 1], got {self.finetune_lr_scale}",
        )
        # A frozen layer's weights change places in ``model.get_weights()``: a mean
        # over epochs on both sides of the unfreezing would mix up layers.
        _require(
            self.average_epochs <= self.epochs - self.freeze_epochs,
            f"--average-epochs ({self.average_epochs}) must not reach into the "
            f"--freeze-epochs ({self.freeze_epochs}): the mean is of whole-network epochs",
        )

    def lr_drop_epochs(self) -> tuple[int, ...]:
        """Epochs after which the step schedule divides the learning rate by 10.

        Unset, at 50% and 75% of the run (the ResNet/VGG habit of two drops late).
        """
        if self.step_epochs:
            return self.step_epochs
        return tuple(sorted({e for e in (self.epochs // 2, self.epochs * 3 // 4) if e > 0}))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``; another model starts from its own option defaults."""
        if "model" in changes and changes["model"] != self.model:
            changes.setdefault("model_options", {})
        return dataclasses.replace(self, **changes)

    @classmethod
    def upgrade_saved_keys(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A config saved by an older version, in today's form (``config_from_dict``'s hook).

        Model options and augmentation fields were once top-level keys: they move into
        ``model_options`` and the ``augmentation`` table.
        """
        options = dict(values.pop("model_options", None) or {})
        for name in MODEL_OPTION_FIELDS:
            value = values.pop(name, None)
            if value is not None:
                options.setdefault(name, value)
        augmentation = dict(values.pop("augmentation", None) or {})
        for key, name in _FLAT_AUGMENTATION_KEYS.items():
            if key in values:
                augmentation.setdefault(name, values.pop(key))
        return {**values, "model_options": options, "augmentation": augmentation}
