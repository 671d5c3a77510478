"""TrivialAugment (Müller & Hutter 2021): one random op at a random strength per image.

No search and no strength to tune: each training image gets one operation drawn
uniformly from ``OPS`` at a strength drawn uniformly from its range. The ranges are
the paper's default space (RandAugment's operations, its "fixed standard" ranges).
The operations are Pillow's own definitions (``ImageOps``, ``ImageEnhance``, affine
transforms) written as TensorFlow ops, because the training stream is stateless and
seeded per image (``alexedge.train.input_pipeline``: a resumed run sees the batches an
uninterrupted one saw); Pillow- and albumentations-based versions run in Python with
their own random state, and keras-cv's layers draw from stateful generators. The
tests check each operation against Pillow on real pixels.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = [
    "MAX_ROTATE_DEGREES",
    "MAX_SHEAR",
    "MAX_TRANSLATE",
    "OPS",
    "apply_op",
    "draw_op",
    "trivial_augment",
]

OPS = (
    "identity",
    "auto_contrast",
    "equalize",
    "rotate",
    "solarize",
    "color",
    "posterize",
    "contrast",
    "brightness",
    "sharpness",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
)
# The paper's "fixed standard" space (its code's defaults): strength 0-1 maps linearly
# onto these; the geometric ones take a random sign.
MAX_ROTATE_DEGREES = 30.0
MAX_SHEAR = 0.3
MAX_TRANSLATE = 10 / 32  # of the image's side: 10 px of CIFAR's 32
ENHANCE_RANGE = (0.1, 1.9)  # ImageEnhance factor: 0 = the degenerate image, 1 = unchanged
POSTERIZE_BITS = (8, 4)  # bits kept, from strength 0 to 1
FILL = 128.0  # what rotations, shears and translations uncover (the paper's grey)
_SIGNED = frozenset({"rotate", "shear_x", "shear_y", "translate_x", "translate_y"})


def trivial_augment(
    images: tf.Tensor, index: tf.Tensor, strength: tf.Tensor, sign: tf.Tensor
) -> tf.Tensor:
    """A batch (N, H, W, 3) of float32 0-255 pixel values, image ``i`` with op
    ``OPS[index[i]]`` at ``strength[i]`` and ``sign[i]`` (the draws of ``draw_op``).

    Each op runs once on the images that drew it, so its kernels launch once per
    batch rather than once per image: the training input's CPU time per image with
    TrivialAugment fell from ~290 to ~220 us on a 2-core CPU (~135 without it).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    positions = tf.range(tf.shape(images)[0])
    groups = tf.dynamic_partition(images, index, len(OPS))
    strengths = tf.dynamic_partition(strength, index, len(OPS))
    signs = tf.dynamic_partition(sign, index, len(OPS))
    outs = [
        apply_op(group, name, group_strength, group_sign)
        for name, group, group_strength, group_sign in zip(
            OPS, groups, strengths, signs, strict=True
        )
    ]
    out = tf.dynamic_stitch(tf.dynamic_partition(positions, index, len(OPS)), outs)
    return tf.ensure_shape(out, images.shape)


def draw_op(seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One image's op: its index in ``OPS``, its strength in [0, 1) and its sign (-1 or
    1), all uniform and all from ``seed``."""
    draw = tf.random.stateless_uniform([3], seed)
    index = tf.minimum(tf.cast(draw[0] * len(OPS), tf.int32), len(OPS) - 1)
    sign = tf.where(draw[2] < 0.5, -1.0, 1.0)
    return index, draw[1], sign


def apply_op(
    images: tf.Tensor, name: str, strength: tf.Tensor | float, sign: tf.Tensor | float = 1.0
) -> tf.Tensor:
    """Operation ``name`` on a batch (N, H, W, 3) at ``strength`` in [0, 1] (``sign``
    -1/1 for the geometric ones), each one value or one per image."""
    images = tf.convert_to_tensor(images, tf.float32)
    count = tf.shape(images)[:1]
    strength = tf.broadcast_to(tf.convert_to_tensor(strength, tf.float32), count)
    sign = tf.broadcast_to(tf.convert_to_tensor(sign, tf.float32), count)
    signed = strength * sign if name in _SIGNED else strength
    enhance = _per_image(ENHANCE_RANGE[0] + strength * (ENHANCE_RANGE[1] - ENHANCE_RANGE[0]))
    side = tf.cast(tf.shape(images)[1:3], tf.float32)
    if name == "identity":
        return images
    if name == "auto_contrast":
        return _auto_contrast(images)
    if name == "equalize":
        return _equalize(images)
    if name == "rotate":
        return _rotate(images, signed * MAX_ROTATE_DEGREES)
    if name == "solarize":
        threshold = _per_image(256.0 - tf.round(strength * 256.0))
        return tf.where(images < threshold, images, 255.0 - images)
    if name == "color":
        return _blend(_luma(images)[..., None], images, enhance)
    if name == "posterize":
        bits = tf.round(POSTERIZE_BITS[0] + strength * (POSTERIZE_BITS[1] - POSTERIZE_BITS[0]))
        step = _per_image(tf.pow(2.0, 8.0 - bits))
        return tf.floor(tf.round(images) / step) * step
    if name == "contrast":
        mean = _per_image(tf.floor(tf.reduce_mean(_luma(images), axis=[1, 2]) + 0.5))
        return _blend(mean, images, enhance)
    if name == "brightness":
        return _blend(0.0, images, enhance)
    if name == "sharpness":
        return _blend(_smooth(images), images, enhance)
    zero, one = tf.zeros_like(strength), tf.ones_like(strength)
    if name == "shear_x":
        return _affine(images, [one, signed * MAX_SHEAR, zero, zero, one, zero])
    if name == "shear_y":
        return _affine(images, [one, zero, zero, signed * MAX_SHEAR, one, zero])
    if name == "translate_x":
        shift = tf.round(signed * MAX_TRANSLATE * side[1])
        return _affine(images, [one, zero, -shift, zero, one, zero])
    if name == "translate_y":
        shift = tf.round(signed * MAX_TRANSLATE * side[0])
        return _affine(images, [one, zero, zero, zero, one, -shift])
    raise ValueError(f"unknown TrivialAugment op {name!r}; known: {', '.join(OPS)}")


def _per_image(values: tf.Tensor) -> tf.Tensor:
    """(N,) values shaped to broadcast over (N, H, W, 3) images."""
    return tf.reshape(values, [-1, 1, 1, 1])


def _blend(degenerate: tf.Tensor | float, image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """ImageEnhance: ``factor`` 0 gives ``degenerate``, 1 ``image``, above 1 extrapolates;
    truncated to whole values as Pillow's ``Image.blend`` does."""
    return tf.clip_by_value(tf.floor(degenerate + factor * (image - degenerate)), 0.0, 255.0)


def _luma(images: tf.Tensor) -> tf.Tensor:
    """Pillow's ``convert("L")``: ITU-R 601-2 luma, rounded to whole values."""
    weights = tf.constant([0.299, 0.587, 0.114], tf.float32)
    return tf.round(tf.tensordot(images, weights, axes=1))


def _smooth(images: tf.Tensor) -> tf.Tensor:
    """``ImageFilter.SMOOTH`` (3x3, centre 5, the rest 1, over 13); Pillow keeps the
    one-pixel border as it was."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    # SAME, not VALID and a pad: on an empty batch TensorFlow's VALID depthwise conv
    # keeps the input's height and width. The border it gets wrong is replaced below.
    smoothed = tf.round(tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME"))
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    border = (rows == 0) | (rows == height - 1) | (cols == 0) | (cols == width - 1)
    return tf.where(border[:, :, None], images, smoothed)


def _auto_contrast(images: tf.Tensor) -> tf.Tensor:
    """``ImageOps.autocontrast``: each channel stretched to 0-255; flat ones unchanged.
    In float64 with Pillow's formula, whose products land on whole numbers."""
    pixels = tf.cast(images, tf.float64)
    low = tf.reduce_min(pixels, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(pixels, axis=[1, 2], keepdims=True)
    scale = 255.0 / tf.maximum(high - low, 1.0)
    stretched = tf.clip_by_value(tf.floor(pixels * scale - low * scale), 0.0, 255.0)
    return tf.where(high > low, tf.cast(stretched, tf.float32), images)


def _equalize(images: tf.Tensor) -> tf.Tensor:
    """``ImageOps.equalize``, channel by channel, with Pillow's lookup table."""
    values = tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.int32)
    count = tf.shape(images)[0]
    pixels = tf.shape(images)[1] * tf.shape(images)[2]
    # One 256-bin histogram per image and channel, all from one bincount: the value
    # of channel c of image n counts in bin (3 n + c) * 256 + value.
    bins = values + (tf.range(count)[:, None, None, None] * 3 + tf.range(3)) * 256
    histogram = tf.math.bincount(
        tf.reshape(bins, [-1]), minlength=count * 768, maxlength=count * 768
    )
    histogram = tf.reshape(histogram, [count, 3, 256])
    # The count of the highest value present is left out of the step (Pillow).
    last = tf.gather(histogram, tf.reduce_max(values, axis=[1, 2]), batch_dims=2)
    step = (pixels - last) // 255
    # lut[i] = (step // 2 + count of values below i) // step
    below = tf.cumsum(histogram, axis=-1, exclusive=True)
    lut = tf.minimum((step[..., None] // 2 + below) // tf.maximum(step, 1)[..., None], 255)
    mapped = tf.cast(tf.gather(tf.reshape(lut, [-1]), bins), tf.float32)
    return tf.where(step[:, None, None, :] > 0, mapped, images)


def _rotate(images: tf.Tensor, degrees: tf.Tensor) -> tf.Tensor:
    """Rotation about the images' centre; positive ``degrees`` (one per image) turn it
    counterclockwise as Pillow's ``Image.rotate`` does."""
    angle = tf.cast(degrees, tf.float64) * (math.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    side = tf.cast(tf.shape(images)[1:3], tf.float64)
    cy, cx = side[0] / 2.0, side[1] / 2.0  # Pillow's centre, in its pixel-centre coordinates
    # Output point p samples the input at centre + R(-angle) (p - centre), y pointing down.
    return _affine(
        images,
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy],
    )


def _affine(images: tf.Tensor, coefficients: list[tf.Tensor]) -> tf.Tensor:
    """Pillow's ``Image.transform(AFFINE, (a, b, c, d, e, f))``, bilinear, ``FILL`` outside,
    with one value of each coefficient per image: output point (x, y) takes the input
    at (a x + b y + c, d x + e y + f).

    Pillow's points are pixel centres (pixel i spans i to i + 1), TensorFlow's are
    pixel indices, so the offsets shift by half a pixel through the linear part.
    The coefficients are worked out in float64 and rounded once: in float32, cos and
    sin differ in the last bit between one value and a vector of them, and graph
    rewrites reorder the sums, so an image's result would depend on its batch and on
    whether it ran eagerly or in the input pipeline.
    """
    a, b, c, d, e, f = (tf.cast(v, tf.float64) for v in coefficients)
    c = c + 0.5 * (a + b) - 0.5
    f = f + 0.5 * (d + e) - 0.5
    zero = tf.zeros_like(a)
    transforms = tf.cast(tf.stack([a, b, c, d, e, f, zero, zero], axis=1), tf.float32)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=FILL,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return tf.clip_by_value(out, 0.0, 255.0)
