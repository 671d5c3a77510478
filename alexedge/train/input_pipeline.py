"""tf.data pipelines over decoded base images: the paper's training augmentation.

Training (Krizhevsky et al. 2012, sec. 4.1): random ``input_size`` crop of the
base image, horizontal flip, PCA colour noise. Evaluation: the centre crop, which
is exactly ``alexedge.preprocess.eval_transform`` of the original file.
Randomness is stateless and seeded, so a seed fixes the whole augmentation stream.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.preprocess import center_crop

__all__ = ["eval_dataset", "eval_inputs", "train_dataset"]

AUTOTUNE = tf.data.AUTOTUNE


def train_dataset(
    split: DecodedSplit,
    num_classes: int,
    input_size: int,
    batch_size: int,
    stats: ChannelStats,
    pca_sigma: float,
    seed: int,
) -> tf.data.Dataset:
    """Shuffled, augmented, one-hot batches; reshuffled and re-randomized every epoch."""
    eigval = tf.constant(stats.pca_eigval, tf.float32)
    eigvec = tf.constant(stats.pca_eigvec, tf.float32)

    def augment(image, label, seeds):
        seeds = tf.reshape(seeds, [3, 2])
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


def eval_inputs(split: DecodedSplit, input_size: int) -> np.ndarray:
    """Centre crops as float32: identical to ``eval_transform`` on the source files."""
    return np.stack([center_crop(img, input_size) for img in split.images]).astype(np.float32)


def eval_dataset(
    split: DecodedSplit, num_classes: int, input_size: int, batch_size: int
) -> tf.data.Dataset:
    images = eval_inputs(split, input_size)
    labels = tf.one_hot(split.labels, num_classes)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).prefetch(AUTOTUNE)
