"""tf.data pipelines over base images: the paper's training augmentation, eval crops.

Training (Krizhevsky et al. 2012, sec. 4.1): random ``input_size`` crop of the
base image, horizontal flip, PCA colour noise; optionally the Inception-style
random-resized crop instead of the fixed-size one, TrivialAugment, random erasing, and mixup or
CutMix of whole batches (``alexedge.train.config.Augmentation``). Evaluation: the centre crop,
which is exactly ``alexedge.preprocess.eval_transform`` of the original file, or
the paper's 10-crop (``ten_crop_predict``).
Randomness is stateless and seeded, so a seed fixes the whole augmentation stream;
``train_epochs`` derives each epoch's seed from the run's seed and the epoch number, so
epoch ``e`` is the same batches whether the run started at epoch 0 or resumed at ``e``.
Every function takes a split decoded in memory or one streamed from its files
(``alexedge.data.stream``); ``alexedge.train.sources`` turns either into base
images, so both get the same augmentation and the same crops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.data.stream import Split, base_image_chunks
from alexedge.errors import DataError
from alexedge.preprocess import center_crops, ten_crop
from alexedge.train.config import Augmentation
from alexedge.train.sources import TrainingSource, eval_images
from alexedge.train.trivial_augment import draw_op, trivial_augment

__all__ = [
    "ERASING_AREA",
    "ERASING_RATIO",
    "RRC_RATIO",
    "SplitPredictions",
    "eval_dataset",
    "eval_inputs",
    "predict_split",
    "ten_crop_eval_inputs",
    "ten_crop_predict",
    "train_dataset",
    "train_epochs",
]

AUTOTUNE = tf.data.AUTOTUNE
# Szegedy et al. 2015 (Inception), as in torchvision's RandomResizedCrop: aspect-ratio
# range of the crop (its smallest area share is ``Augmentation.min_crop_area``).
RRC_RATIO = (3 / 4, 4 / 3)
# Zhong et al. 2017: the erased rectangle's area share of the crop and aspect ratio.
ERASING_AREA = (0.02, 0.33)
ERASING_RATIO = (0.3, 3.3)
# Epoch e of a run with seed s draws from seed s * _EPOCH_STRIDE + e.
_EPOCH_STRIDE = 1_000_003
# tf.data's default graph rewrites serialize the pipeline and rebuild it, and the
# serializer writes the in-memory images once per path that reaches them: once per
# epoch's pass. 60 passes over Tiny ImageNet-20's 10,000 images held 8.4 GB, 80 passes
# 11.5 GB; without the rewrites, one copy. The maps are already parallel and the
# batches prefetched, so the rewrites had little left to gain (same img/s measured).
_WITHOUT_GRAPH_REWRITES = tf.data.Options()
_WITHOUT_GRAPH_REWRITES.experimental_optimization.apply_default_optimizations = False


def train_dataset(
    split: Split,
    num_classes: int,
    input_size: int,
    batch_size: int,
    stats: ChannelStats,
    augmentation: Augmentation,
    seed: int,
    cache_dir: str = "",
) -> tf.data.Dataset:
    """Shuffled, augmented, one-hot batches; reshuffled and re-randomized every epoch.

    ``cache_dir`` keeps a streamed split's decoded images on disk after the first
    pass (``alexedge.train.sources``); a split in memory ignores it.
    """
    source = TrainingSource(split, cache_dir)
    augment = _Augment(num_classes, input_size, stats, augmentation)
    return _pass(source, augment, batch_size, seed).prefetch(AUTOTUNE)


def train_epochs(
    split: Split,
    num_classes: int,
    input_size: int,
    batch_size: int,
    stats: ChannelStats,
    augmentation: Augmentation,
    seed: int,
    epochs: range,
    cache_dir: str = "",
    plain_from: int | None = None,
) -> tf.data.Dataset:
    """Batches for ``epochs`` (epoch numbers from 0), one pass each, then again forever.

    Epochs from ``plain_from`` on take ``augmentation.plain()`` (``--plain-epochs``).

    Epoch ``e`` is shuffled and augmented from a seed made of ``seed`` and ``e`` alone,
    so a run resumed after epoch ``k`` sees exactly the batches the uninterrupted run
    saw from epoch ``k`` on. One iterator serves the whole run: a new iterator per
    epoch would re-serialize the dataset with the images in it (~6 s an epoch for
    10,000 Tiny ImageNet images). The passes are chained in Python with integer seeds
    (inside ``flat_map`` a tensor seed meets ``get_seed``'s Python comparisons once a
    global seed is set), and the chain repeats so that a stream that loses an
    unreadable file never runs dry before its last epoch.
    """
    source = TrainingSource(split, cache_dir)
    full = _Augment(num_classes, input_size, stats, augmentation)
    plain = _Augment(num_classes, input_size, stats, augmentation.plain())
    passes = [
        _pass(
            source,
            plain if plain_from is not None and e >= plain_from else full,
            batch_size,
            seed * _EPOCH_STRIDE + e,
        )
        for e in epochs
    ]
    data = functools.reduce(tf.data.Dataset.concatenate, passes)
    return data.repeat().prefetch(AUTOTUNE).with_options(_WITHOUT_GRAPH_REWRITES)


def _pass(source: TrainingSource, augment: _Augment, batch_size: int, seed: int) -> tf.data.Dataset:
    """One shuffled, augmented pass in full batches (a small split keeps its last batch);
    iterated again, it reshuffles and draws new augmentation."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(6)
    data = tf.data.Dataset.zip((source.epoch(seed), seeds)).map(
        lambda pair, s: augment.per_image(pair[0], pair[1], s), num_parallel_calls=AUTOTUNE
    )
    data = data.batch(batch_size, drop_remainder=len(source.split) >= batch_size)
    data = data.map(augment.per_batch, num_parallel_calls=AUTOTUNE)
    augmentation = augment.augmentation
    if augmentation.mixup == 0 and augmentation.cutmix == 0:
        return data
    # Its own stream (seed + 1): the per-image draws stay what they are without mixing.
    batch_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)
    batch_seeds = batch_seeds.batch(2)
    mix = functools.partial(_mix_batch, mixup=augmentation.mixup, cutmix=augmentation.cutmix)
    return tf.data.Dataset.zip((data, batch_seeds)).map(
        lambda batch, s: mix(batch[0], batch[1], s), num_parallel_calls=AUTOTUNE
    )


class _Augment:
    """The training augmentation in two stages, for any source.

    ``per_image`` takes (base image, label, 6 seed values), crops and flips, and makes
    every other random draw of that image; ``per_batch`` applies TrivialAugment, PCA
    lighting and random erasing to a batch at once from those draws, in that order.
    The draws are per image and seeded per image, and each op's result for an image
    does not depend on its batch, so the stream is the one per-image augmentation
    gives; batched, TrivialAugment's kernels launch once per batch, not per image.
    (The crop and flip gain nothing from batching: they stay per image.)
    """

    def __init__(
        self, num_classes: int, input_size: int, stats: ChannelStats, augmentation: Augmentation
    ) -> None:
        self.num_classes = num_classes
        self.input_size = input_size
        self.augmentation = augmentation
        self._eigval = tf.constant(stats.pca_eigval, tf.float32)
        self._eigvec = tf.constant(stats.pca_eigvec, tf.float32)

    def per_image(
        self, image: tf.Tensor, label: tf.Tensor, seeds: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        """(float32 crop, one-hot label, this image's draws for ``per_batch``)."""
        augmentation, size = self.augmentation, self.input_size
        seeds = tf.reshape(seeds, [3, 2])
        if augmentation.random_resized_crop:
            image = _random_resized_crop(image, size, augmentation.min_crop_area, seeds[0])
        else:
            image = tf.image.stateless_random_crop(image, [size, size, 3], seeds[0])
        image = tf.image.stateless_random_flip_left_right(image, seeds[1])
        image = tf.cast(image, tf.float32)
        draws = {}
        if augmentation.trivial_augment:
            # Folded from the flip's seed: the other draws stay as without it.
            op_seed = tf.random.experimental.stateless_fold_in(seeds[1], 1)
            draws["op"], draws["strength"], draws["sign"] = draw_op(op_seed)
        if augmentation.pca_sigma > 0:
            alpha = tf.random.stateless_normal([3], seeds[2], stddev=augmentation.pca_sigma)
            draws["shift"] = tf.linalg.matvec(self._eigvec, alpha * self._eigval) * 255.0
        if augmentation.erasing > 0:
            # Folded from the crop's seed: the other draws stay as without erasing.
            erase_seed = tf.random.experimental.stateless_fold_in(seeds[0], 1)
            draws["erased"], draws["noise"] = _random_erasing(
                tf.shape(image), augmentation.erasing, erase_seed
            )
        return image, tf.one_hot(label, self.num_classes), draws

    def per_batch(
        self, images: tf.Tensor, labels: tf.Tensor, draws: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, tf.Tensor]:
        if "op" in draws:
            images = trivial_augment(images, draws["op"], draws["strength"], draws["sign"])
        if "shift" in draws:
            images = tf.clip_by_value(images + draws["shift"][:, None, None, :], 0.0, 255.0)
        if "erased" in draws:
            images = tf.where(draws["erased"][..., None], draws["noise"], images)
        return images, labels


def _random_erasing(
    shape: tf.Tensor, probability: float, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Which pixels of an image of ``shape`` (H, W, 3) to erase, (H, W) booleans, and
    the uniform 0-255 noise that replaces them: with ``probability``, one rectangle
    of ``ERASING_AREA`` of the image and aspect ratio in ``ERASING_RATIO``
    (log-uniform); otherwise none."""
    draw = tf.random.stateless_uniform([6], seed)
    noise_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    height = tf.cast(shape[0], tf.float32)
    width = tf.cast(shape[1], tf.float32)
    area = height * width * (ERASING_AREA[0] + draw[1] * (ERASING_AREA[1] - ERASING_AREA[0]))
    log_lo, log_hi = np.log(ERASING_RATIO[0]), np.log(ERASING_RATIO[1])
    ratio = tf.exp(log_lo + draw[2] * (log_hi - log_lo))
    box_h = tf.clip_by_value(tf.round(tf.sqrt(area * ratio)), 1.0, height)
    box_w = tf.clip_by_value(tf.round(tf.sqrt(area / ratio)), 1.0, width)
    top = tf.floor(draw[3] * (height - box_h + 1))
    left = tf.floor(draw[4] * (width - box_w + 1))
    inside = _box_mask(shape[0], shape[1], top, left, box_h, box_w)
    inside = inside & (draw[0] < probability)
    return inside, tf.random.stateless_uniform(shape, noise_seed, 0.0, 255.0)


def _box_mask(
    height: tf.Tensor, width: tf.Tensor, top: tf.Tensor, left: tf.Tensor, box_h, box_w
) -> tf.Tensor:
    """``(height, width)`` booleans, true inside the rectangle (float corner, float size)."""
    rows = tf.cast(tf.range(height), tf.float32)[:, None]
    cols = tf.cast(tf.range(width), tf.float32)[None, :]
    return (rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)


def _mix_batch(
    images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor, mixup: float, cutmix: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Mixup or CutMix of a batch with itself in a shuffled order; labels mix alike.

    One lambda ~ Beta(alpha, alpha) per batch, as in both papers' reference code.
    CutMix pastes a box of area 1 - lambda from the partner image and mixes the labels
    by the box's real (clipped) area.
    """
    keys = tf.random.experimental.stateless_split(seed, 4)
    partner = tf.argsort(tf.random.stateless_uniform([tf.shape(images)[0]], keys[1]))
    other_images = tf.gather(images, partner)
    other_labels = tf.gather(labels, partner)

    def beta(alpha: float) -> tf.Tensor:
        pair = tf.random.stateless_gamma([2], keys[2], alpha=alpha)
        return pair[0] / (pair[0] + pair[1])

    def do_mixup() -> tuple[tf.Tensor, tf.Tensor]:
        lam = beta(mixup)
        return lam * images + (1 - lam) * other_images, lam * labels + (1 - lam) * other_labels

    def do_cutmix() -> tuple[tf.Tensor, tf.Tensor]:
        lam = beta(cutmix)
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
        centre = tf.random.stateless_uniform([2], keys[3])
        cut = tf.sqrt(1.0 - lam)
        top = tf.clip_by_value(tf.round(centre[0] * h - cut * h / 2), 0.0, h)
        bottom = tf.clip_by_value(tf.round(centre[0] * h + cut * h / 2), 0.0, h)
        left = tf.clip_by_value(tf.round(centre[1] * w - cut * w / 2), 0.0, w)
        right = tf.clip_by_value(tf.round(centre[1] * w + cut * w / 2), 0.0, w)
        inside = _box_mask(height, width, top, left, bottom - top, right - left)
        mixed = tf.where(inside[None, :, :, None], other_images, images)
        kept = 1.0 - (bottom - top) * (right - left) / (h * w)
        return mixed, kept * labels + (1 - kept) * other_labels

    if mixup > 0 and cutmix > 0:
        return tf.cond(tf.random.stateless_uniform([], keys[0]) < 0.5, do_cutmix, do_mixup)
    return do_cutmix() if cutmix > 0 else do_mixup()


def _random_resized_crop(
    image: tf.Tensor, input_size: int, min_area: float, seed: tf.Tensor
) -> tf.Tensor:
    """A random-area, random-aspect crop of ``image`` resized to ``input_size``, float32."""
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=RRC_RATIO,
        area_range=(min_area, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, size)
    # Antialiased bilinear, like Pillow in preprocess.base_image; its kernel is
    # non-negative, so values stay within 0-255.
    resized = tf.image.resize(crop, [input_size, input_size], antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def eval_inputs(split: DecodedSplit, input_size: int) -> np.ndarray:
    """Centre crops as float32: identical to ``eval_transform`` on the source files.

    All at once, so for splits in memory only; ``predict_split`` takes any split.
    """
    return center_crops(split.images, input_size).astype(np.float32)


def eval_dataset(
    split: Split, num_classes: int, input_size: int, batch_size: int, cache_dir: str = ""
) -> tf.data.Dataset:
    """Centre-crop float32 batches with one-hot labels, in split order (Keras validation)."""
    if isinstance(split, DecodedSplit):
        images = eval_inputs(split, input_size)
        labels = tf.one_hot(split.labels, num_classes)
        data = tf.data.Dataset.from_tensor_slices((images, labels))
    else:
        top = (split.base_size - input_size) // 2  # as preprocess.center_crop

        def crop(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            window = image[top : top + input_size, top : top + input_size]
            return tf.cast(window, tf.float32), tf.one_hot(label, num_classes)

        data = eval_images(split, cache_dir).map(crop, num_parallel_calls=AUTOTUNE)
    return data.batch(batch_size).prefetch(AUTOTUNE)


def ten_crop_eval_inputs(split: Split, input_size: int, batch_size: int) -> Iterator[np.ndarray]:
    """Float32 batches of ``10 * b`` crops (``preprocess.ten_crop`` order per image).

    A generator, because all ten crops of a large validation set would not fit in
    memory (50,000 ImageNet images would take 75 GB as uint8). A streamed split
    yields its readable images only.
    """
    for images, _ in base_image_chunks(split, batch_size):
        yield _ten_crops(images, input_size)


def _ten_crops(images: np.ndarray, input_size: int) -> np.ndarray:
    return np.concatenate([ten_crop(img, input_size) for img in images]).astype(np.float32)


def ten_crop_predict(
    predict: Callable[[np.ndarray], np.ndarray],
    split: Split,
    input_size: int,
    batch_size: int = 32,
) -> np.ndarray:
    """Class probabilities averaged over the ten crops of each image, ``(N, classes)``.

    ``predict`` maps a float32 batch to softmax outputs, e.g.
    ``lambda x: model(x, training=False).numpy()`` or an edge-runtime classifier, so
    the same 10-crop evaluation serves Keras and TFLite models. Rows follow the
    readable images; ``predict_split`` also returns their labels.
    """
    outputs = []
    for batch in ten_crop_eval_inputs(split, input_size, batch_size):
        outputs.append(_mean_of_ten(predict, batch))
    return np.concatenate(outputs)


def _mean_of_ten(predict: Callable[[np.ndarray], np.ndarray], crops: np.ndarray) -> np.ndarray:
    probs = np.asarray(predict(crops), np.float32)
    return probs.reshape(-1, 10, probs.shape[-1]).mean(axis=1)


@dataclass(frozen=True)
class SplitPredictions:
    labels: np.ndarray  # (N,) of the images that could be read
    centre: np.ndarray  # (N, classes) centre-crop probabilities
    ten_crop: np.ndarray | None  # (N, classes) averaged over the 10 crops, if asked for


def predict_split(
    predict: Callable[[np.ndarray], np.ndarray],
    split: Split,
    input_size: int,
    ten_crop: bool = False,
    chunk_size: int = 256,
    description: str | None = None,
) -> SplitPredictions:
    """Centre-crop (and 10-crop) predictions in one pass over ``split``, chunk by chunk.

    A streamed split is decoded ``chunk_size`` images at a time by parallel threads,
    never all at once; the 10 crops go to ``predict`` 32 images (320 crops) at a time,
    as in ``ten_crop_predict``. Labels come back with the predictions because a
    streamed split drops the files it cannot read.
    """
    labels, centre, averaged = [], [], []
    for images, chunk_labels in base_image_chunks(split, chunk_size, description):
        labels.append(chunk_labels)
        crops = center_crops(images, input_size).astype(np.float32)
        centre.append(np.asarray(predict(crops), np.float32))
        if ten_crop:
            for start in range(0, len(images), 32):
                batch = _ten_crops(images[start : start + 32], input_size)
                averaged.append(_mean_of_ten(predict, batch))
    if not labels:
        raise DataError(f"none of the {len(split)} images could be read (see the lines above)")
    return SplitPredictions(
        np.concatenate(labels),
        np.concatenate(centre),
        np.concatenate(averaged) if ten_crop else None,
    )
