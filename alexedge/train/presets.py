"""Tuned recipes, by name (``alexedge train --preset NAME``) or picked from the data.

Each preset is a full ``TrainConfig``; options given on the command line override it.
Without ``--preset`` or ``--config``, ``recipe_for_data`` picks one from what the
dataset looks like (image size, images per class), so ``alexedge train --data DIR``
alone trains Tiny ImageNet-sized data with its tuned recipe. The numbers behind each
are in ``benchmarks/`` and the README.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from PIL import Image

from alexedge.data.dataset import ImageDataset
from alexedge.errors import ConfigError
from alexedge.train.config import TrainConfig

__all__ = ["PRESETS", "QUICK", "DataShape", "Recipe", "data_shape", "get_preset", "recipe_for_data"]

# The recipe of data no preset fits: TrainConfig's defaults, the pipeline's quick run.
QUICK = "quick"

PRESETS: dict[str, TrainConfig] = {
    # 20 Tiny ImageNet classes (500 train / 50 val images of 64x64 each) within 30
    # minutes on a 2-core CPU; measured on two disjoint 20-class subsets by
    # benchmarks/bench_train_tiny_imagenet.py (figures in the README).
    # - input 56: its base image is 64 (round(56 * 256 / 224)), the files' own size, so
    #   training crops 56 of 64 with no resampling and evaluation takes the centre 56.
    # - precision auto: mixed_bfloat16 on CPUs with AVX512-BF16/AMX (2.4x the float32
    #   step throughput here), float32 on CPUs without (bf16 is emulated and slow there).
    # - pool2 off, width 0.5: conv3-5 at 13x13 as in the paper (6x6 with pool2), 3.57M
    #   parameters, 12.5-18 s an epoch here. It overfits less than width 0.75 with pool2 at
    #   the same 30 epochs (second subset: 71.8% vs 71.6%, training top-1 82% vs 90%).
    # - mixup 0.2: what lifted the second subset off the 71-72% plateau every other
    #   change landed on (60 epochs: 74.8% centre, 75.4% 10-crop; without mixup 71.4%,
    #   training top-1 95%). Dropout 0.5 on the FC layers, label smoothing 0.1, PCA
    #   lighting and weight decay 5e-4 regularize too.
    # - trivial_augment with 100 epochs: one random op (colour, contrast, equalize,
    #   solarize, rotate, shear, translate ...) per image on top of mixup. At 60 epochs
    #   it lifted the first subset (76.4% vs 73.7%) but not the second (73.6% vs 75.0% /
    #   73.8% for seeds 0 / 1) and underfitted: training loss and validation loss still
    #   falling at the last epoch. 80 epochs: 76.2% / 75.5% centre for seed 0 but
    #   75.6% / 73.5% for seed 1 (per-image TrivialAugment, before its rotations were
    #   worked out in float64). 100 epochs, seeds 0 / 1: a 75.0% / 76.6% centre
    #   (76.9% / 77.8% 10-crop), b 76.7% / 75.7% (78.0% / 76.8%); 13 s an epoch alone
    #   here, 23-25 min a whole run.
    # - average_epochs 5: the model is the mean of the last 5 epochs with batch-norm
    #   statistics re-estimated on plain crops, not the epoch picked on the validation
    #   images. The re-estimate is what counts: BN statistics gathered on mixup batches
    #   do not fit real images (80 epochs, mixup 0.3: last epoch 73.8% / 72.8%, the same
    #   weights re-estimated 74.7% / 74.0%; means of 5-20 epochs within 0.2 pt of that).
    # Tried on the second subset and not kept: input 64 (72.1% at 30 epochs), batch 64
    # at lr 0.05 (71.2%), CutMix alpha 1 (62.0% vs 67.7% at epoch 23, width 0.5 with
    # pool2), random-resized crops of 35-100% of the area (66.6% vs 69.8%, same net).
    # Tried on both subsets at 60 epochs without TrivialAugment and not kept (README):
    # width 0.625, SWA after a step schedule, SWA with --swa-lr 0.02, random erasing
    # 0.25: each within 1-2 pt of the recipe, no more than it moves between seeds 0 and 1.
    "tiny-imagenet": TrainConfig(
        model="alexnet-reduced",
        input_size=56,
        model_options={"width": 0.5, "fc_units": 512, "dropout": 0.5, "pool2": False},
        epochs=100,
        batch_size=128,
        learning_rate=0.1,
        warmup_epochs=2,
        label_smoothing=0.1,
        pca_lighting=0.1,
        trivial_augment=True,
        mixup=0.2,
        average_epochs=5,
        precision="auto",
    ),
}


@dataclass(frozen=True)
class DataShape:
    image_size: int  # median shorter side of a sample of training images, pixels
    images_per_class: int  # training images / classes


@dataclass(frozen=True)
class Recipe:
    name: str
    config: TrainConfig
    why: str  # one line for the user: what in the data chose it


# Images read (headers only) to estimate the size: enough for a median, instant.
_SIZE_SAMPLE = 25


def data_shape(dataset: ImageDataset) -> DataShape:
    """Image size and images per class of ``dataset``'s training split.

    Reads the headers of a spread of up to 25 training images (Pillow opens files
    lazily, so no pixels are decoded); unreadable ones are skipped here and reported
    by the decoder later.
    """
    train = dataset.train
    step = max(1, len(train) // _SIZE_SAMPLE)
    sizes = []
    for sample in train[::step][:_SIZE_SAMPLE]:
        try:
            with Image.open(sample.path) as image:
                sizes.append(min(image.size))
        except (OSError, ValueError):
            continue
    size = int(statistics.median(sizes)) if sizes else 0
    return DataShape(size, len(train) // max(1, dataset.num_classes))


def recipe_for_data(shape: DataShape) -> Recipe:
    """The tuned recipe for data shaped like ``shape``, else the quick default.

    ``tiny-imagenet`` was tuned on 64x64 images with 500 per class; it fits images of
    48-96 px (its 56 px input needs a 64 px base) with at least 200 images per class
    (fewer cannot feed 100 epochs of a 3.6M-parameter net without overfitting).
    """
    seen = f"{shape.image_size}px images, {shape.images_per_class} per class"
    if 48 <= shape.image_size <= 96 and shape.images_per_class >= 200:
        return Recipe("tiny-imagenet", PRESETS["tiny-imagenet"], seen)
    return Recipe(QUICK, TrainConfig(), seen)


def get_preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None
