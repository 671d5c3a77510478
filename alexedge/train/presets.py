"""Tuned recipes, by name (``alexedge train --preset NAME``) or picked from the data.

Each preset is a full ``TrainConfig``; options given on the command line override it.
Without ``--preset`` or ``--config``, ``recipe_for_data`` picks one from what the
dataset looks like (image size, images per class), so ``alexedge train --data DIR``
alone trains Tiny ImageNet-sized data with its tuned recipe. The numbers behind each
are in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from PIL import Image

from alexedge.data.dataset import ImageDataset
from alexedge.errors import ConfigError
from alexedge.train.config import Augmentation, TrainConfig

__all__ = ["PRESETS", "QUICK", "DataShape", "Recipe", "data_shape", "get_preset", "recipe_for_data"]

# The recipe of data no preset fits: TrainConfig's defaults, the pipeline's quick run.
QUICK = "quick"

PRESETS: dict[str, TrainConfig] = {
    # 20 Tiny ImageNet classes (500 train / 50 val images of 64x64 each) within 30 minutes
    # on a 2-core CPU; what was measured and tried is in benchmarks/RESULTS.md. Why:
    # - input 56: its base image is 64 (round(56 * 256 / 224)), the files' own size, so
    #   training crops 56 of 64 with no resampling and evaluation takes the centre 56.
    # - precision auto: bfloat16 only on CPUs that have it natively; emulated it is slow.
    # - width 0.5 without pool2: conv3-5 at the paper's 13x13 resolution, and fewer
    #   parameters to overfit 500 images a class than a wider net with pool2.
    # - mixup and TrivialAugment on top of dropout, label smoothing, PCA lighting and
    #   weight decay: without mixup the net fits its 500 images a class and plateaus; the
    #   heavier augmentation needs the 100 epochs (with fewer, both losses still fall at
    #   the end).
    # - average_epochs 5: the mean of the last epochs, batch-norm statistics re-estimated
    #   on plain crops (those gathered on mixed batches do not fit real images), instead
    #   of an epoch picked on the images that then measure it.
    "tiny-imagenet": TrainConfig(
        model="alexnet-reduced",
        input_size=56,
        model_options={"width": 0.5, "fc_units": 512, "dropout": 0.5, "pool2": False},
        epochs=100,
        batch_size=128,
        learning_rate=0.1,
        warmup_epochs=2,
        label_smoothing=0.1,
        augmentation=Augmentation(pca_sigma=0.1, trivial_augment=True, mixup=0.2),
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
