"""tf.data pipelines over decoded base images: the paper's training augmentation.

Training (Krizhevsky et al. 2012, sec. 4.1): random ``input_size`` crop of the
base image, horizontal flip, PCA colour noise; optionally the Inception-style
random-resized crop instead of the fixed-size one. Evaluation: the centre crop,
which is exactly ``alexedge.preprocess.eval_transform`` of the original file, or
the paper's 10-crop (``ten_crop_predict``).
Randomness is stateless and seeded, so a seed fixes the whole augmentation stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.preprocess import center_crop, ten_crop

__all__ = [
    "RRC_RATIO",
    "RRC_SCALE",
    "eval_dataset",
    "eval_inputs",
    "ten_crop_eval_inputs",
    "ten_crop_predict",
    "train_dataset",
]

AUTOTUNE = tf.data.AUTOTUNE
# Szegedy et al. 2015 (Inception), as in torchvision's RandomResizedCrop: area share
# of the base image and aspect-ratio range of the crop.
RRC_SCALE = (0.08, 1.0)
RRC_RATIO = (3 / 4, 4 / 3)


def train_dataset(
    split: DecodedSplit,
    num_classes: int,
    input_size: int,
    batch_size: int,
    stats: ChannelStats,
    pca_sigma: float,
    seed: int,
    random_resized_crop: bool = False,
) -> tf.data.Dataset:
    """Shuffled, augmented, one-hot batches; reshuffled and re-randomized every epoch.

    ``random_resized_crop`` replaces the paper's fixed-size random crop with a crop
    of random area (``RRC_SCALE``) and aspect ratio (``RRC_RATIO``) resized to the
    input size: stronger augmentation that helps small datasets overfit less.
    """
    eigval = tf.constant(stats.pca_eigval, tf.float32)
    eigvec = tf.constant(stats.pca_eigvec, tf.float32)

    def augment(image, label, seeds):
        seeds = tf.reshape(seeds, [3, 2])
        if random_resized_crop:
            image = _random_resized_crop(image, input_size, seeds[0])
        else:
            image = tf.image.stateless_random_crop(image, [input_size, input_size, 3], seeds[0])
        image = tf.image.stateless_random_flip_left_right(image, seeds[1])
        image = tf.cast(image, tf.float32)
        if pca_sigma > 0:
            alpha = tf.random.stateless_normal([3], seeds[2], stddev=pca_sigma)
            shift = tf.linalg.matvec(eigvec, alpha * eigval) * 255.0
            image = tf.clip_by_value(image + shift, 0.0, 255.0)
        return image, tf.one_hot(label, num_classes)

    n = len(split)
    data = tf.data.Dataset.from_tensor_slices((split.images, split.labels))
    data = data.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(6)
    data = tf.data.Dataset.zip((data, seeds)).map(
        lambda pair, s: augment(pair[0], pair[1], s), num_parallel_calls=AUTOTUNE
    )
    return data.batch(batch_size, drop_remainder=n >= batch_size).prefetch(AUTOTUNE)


def _random_resized_crop(image: tf.Tensor, input_size: int, seed: tf.Tensor) -> tf.Tensor:
    """A random-area, random-aspect crop of ``image`` resized to ``input_size``, float32."""
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=RRC_RATIO,
        area_range=RRC_SCALE,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, size)
    # Antialiased bilinear, like Pillow in preprocess.base_image; its kernel is
    # non-negative, so values stay within 0-255.
    resized = tf.image.resize(crop, [input_size, input_size], antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def eval_inputs(split: DecodedSplit, input_size: int) -> np.ndarray:
    """Centre crops as float32: identical to ``eval_transform`` on the source files."""
    return np.stack([center_crop(img, input_size) for img in split.images]).astype(np.float32)


def eval_dataset(
    split: DecodedSplit, num_classes: int, input_size: int, batch_size: int
) -> tf.data.Dataset:
    images = eval_inputs(split, input_size)
    labels = tf.one_hot(split.labels, num_classes)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).prefetch(AUTOTUNE)


def ten_crop_eval_inputs(
    split: DecodedSplit, input_size: int, batch_size: int
) -> Iterator[np.ndarray]:
    """Float32 batches of ``10 * b`` crops (``preprocess.ten_crop`` order per image).

    A generator, because all ten crops of a large validation set would not fit in
    memory (50,000 ImageNet images would take 75 GB as uint8).
    """
    for start in range(0, len(split), batch_size):
        chunk = split.images[start : start + batch_size]
        crops = np.concatenate([ten_crop(img, input_size) for img in chunk])
        yield crops.astype(np.float32)


def ten_crop_predict(
    predict: Callable[[np.ndarray], np.ndarray],
    split: DecodedSplit,
    input_size: int,
    batch_size: int = 32,
) -> np.ndarray:
    """Class probabilities averaged over the ten crops of each image, ``(N, classes)``.

    ``predict`` maps a float32 batch to softmax outputs, e.g.
    ``lambda x: model(x, training=False).numpy()`` or an edge-runtime classifier, so
    the same 10-crop evaluation serves Keras and TFLite models.
    """
    outputs = []
    for batch in ten_crop_eval_inputs(split, input_size, batch_size):
        probs = np.asarray(predict(batch), np.float32)
        outputs.append(probs.reshape(-1, 10, probs.shape[-1]).mean(axis=1))
    return np.concatenate(outputs)
