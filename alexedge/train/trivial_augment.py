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


def trivial_augment(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """``image`` (H, W, 3) float32 of 0-255 pixel values with one random op applied."""
    index, strength, sign = draw_op(seed)
    branches = [(lambda name=name: apply_op(image, name, strength, sign)) for name in OPS]
    out = tf.switch_case(index, branches)
    out.set_shape(image.shape)
    return out


def draw_op(seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The op's index in ``OPS``, its strength in [0, 1) and its sign (-1 or 1), all
    uniform and all from ``seed``."""
    draw = tf.random.stateless_uniform([3], seed)
    index = tf.minimum(tf.cast(draw[0] * len(OPS), tf.int32), len(OPS) - 1)
    sign = tf.where(draw[2] < 0.5, -1.0, 1.0)
    return index, draw[1], sign


def apply_op(image: tf.Tensor, name: str, strength: tf.Tensor, sign: tf.Tensor = 1.0) -> tf.Tensor:
    """Operation ``name`` at ``strength`` in [0, 1] (``sign`` -1/1 for the geometric ones)."""
    image = tf.convert_to_tensor(image, tf.float32)
    strength = tf.convert_to_tensor(strength, tf.float32)
    signed = strength * sign if name in _SIGNED else strength
    enhance = ENHANCE_RANGE[0] + strength * (ENHANCE_RANGE[1] - ENHANCE_RANGE[0])
    side = tf.cast(tf.shape(image)[:2], tf.float32)
    if name == "identity":
        return image
    if name == "auto_contrast":
        return _auto_contrast(image)
    if name == "equalize":
        return _equalize(image)
    if name == "rotate":
        return _rotate(image, signed * MAX_ROTATE_DEGREES)
    if name == "solarize":
        threshold = 256.0 - tf.round(strength * 256.0)
        return tf.where(image < threshold, image, 255.0 - image)
    if name == "color":
        gray = _luma(image)[:, :, None]
        return _blend(gray, image, enhance)
    if name == "posterize":
        bits = tf.round(POSTERIZE_BITS[0] + strength * (POSTERIZE_BITS[1] - POSTERIZE_BITS[0]))
        step = tf.pow(2.0, 8.0 - bits)
        return tf.floor(tf.round(image) / step) * step
    if name == "contrast":
        mean = tf.floor(tf.reduce_mean(_luma(image)) + 0.5)
        return _blend(mean, image, enhance)
    if name == "brightness":
        return _blend(0.0, image, enhance)
    if name == "sharpness":
        return _blend(_smooth(image), image, enhance)
    if name == "shear_x":
        return _affine(image, [1.0, signed * MAX_SHEAR, 0.0, 0.0, 1.0, 0.0])
    if name == "shear_y":
        return _affine(image, [1.0, 0.0, 0.0, signed * MAX_SHEAR, 1.0, 0.0])
    if name == "translate_x":
        shift = tf.round(signed * MAX_TRANSLATE * side[1])
        return _affine(image, [1.0, 0.0, -shift, 0.0, 1.0, 0.0])
    if name == "translate_y":
        shift = tf.round(signed * MAX_TRANSLATE * side[0])
        return _affine(image, [1.0, 0.0, 0.0, 0.0, 1.0, -shift])
    raise ValueError(f"unknown TrivialAugment op {name!r}; known: {', '.join(OPS)}")


def _blend(degenerate: tf.Tensor | float, image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """ImageEnhance: ``factor`` 0 gives ``degenerate``, 1 ``image``, above 1 extrapolates;
    truncated to whole values as Pillow's ``Image.blend`` does."""
    return tf.clip_by_value(tf.floor(degenerate + factor * (image - degenerate)), 0.0, 255.0)


def _luma(image: tf.Tensor) -> tf.Tensor:
    """Pillow's ``convert("L")``: ITU-R 601-2 luma, rounded to whole values."""
    weights = tf.constant([0.299, 0.587, 0.114], tf.float32)
    return tf.round(tf.tensordot(image, weights, axes=1))


def _smooth(image: tf.Tensor) -> tf.Tensor:
    """``ImageFilter.SMOOTH`` (3x3, centre 5, the rest 1, over 13); Pillow keeps the
    one-pixel border as it was."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    inner = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "VALID")[0]
    inner = tf.round(inner)
    padded = tf.pad(inner, [[1, 1], [1, 1], [0, 0]])
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    border = (rows == 0) | (rows == height - 1) | (cols == 0) | (cols == width - 1)
    return tf.where(border[:, :, None], image, padded)


def _auto_contrast(image: tf.Tensor) -> tf.Tensor:
    """``ImageOps.autocontrast``: each channel stretched to 0-255; flat ones unchanged.
    In float64 with Pillow's formula, whose products land on whole numbers."""
    pixels = tf.cast(image, tf.float64)
    low = tf.reduce_min(pixels, axis=[0, 1])
    high = tf.reduce_max(pixels, axis=[0, 1])
    scale = 255.0 / tf.maximum(high - low, 1.0)
    stretched = tf.clip_by_value(tf.floor(pixels * scale - low * scale), 0.0, 255.0)
    return tf.where(high > low, tf.cast(stretched, tf.float32), image)


def _equalize(image: tf.Tensor) -> tf.Tensor:
    """``ImageOps.equalize``, channel by channel, with Pillow's lookup table."""
    values = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.int32)
    channels = []
    for c in range(3):
        channel = values[:, :, c]
        histogram = tf.math.bincount(channel, minlength=256, maxlength=256)
        # The count of the highest value present is left out of the step (Pillow).
        present = tf.cast(tf.where(histogram > 0)[:, 0], tf.int32)
        last = tf.gather(histogram, present[-1])
        step = (tf.reduce_sum(histogram) - last) // 255
        # lut[i] = (step // 2 + count of values below i) // step
        below = tf.cumsum(histogram, exclusive=True)
        lut = tf.minimum((step // 2 + below) // tf.maximum(step, 1), 255)
        mapped = tf.cast(tf.gather(lut, channel), tf.float32)
        channels.append(tf.where(step > 0, mapped, image[:, :, c]))
    return tf.stack(channels, axis=-1)


def _rotate(image: tf.Tensor, degrees: tf.Tensor) -> tf.Tensor:
    """Rotation about the image's centre; positive ``degrees`` turn it counterclockwise
    as Pillow's ``Image.rotate`` does."""
    angle = degrees * (math.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    side = tf.cast(tf.shape(image)[:2], tf.float32)
    cy, cx = side[0] / 2.0, side[1] / 2.0  # Pillow's centre, in its pixel-centre coordinates
    # Output point p samples the input at centre + R(-angle) (p - centre), y pointing down.
    return _affine(
        image,
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy],
    )


def _affine(image: tf.Tensor, coefficients: list) -> tf.Tensor:
    """Pillow's ``Image.transform(AFFINE, (a, b, c, d, e, f))``, bilinear, ``FILL`` outside:
    output point (x, y) takes the input at (a x + b y + c, d x + e y + f).

    Pillow's points are pixel centres (pixel i spans i to i + 1), TensorFlow's are
    pixel indices, so the offsets shift by half a pixel through the linear part.
    """
    a, b, c, d, e, f = (tf.cast(v, tf.float32) for v in coefficients)
    c = c + 0.5 * (a + b) - 0.5
    f = f + 0.5 * (d + e) - 0.5
    transform = tf.stack([a, b, c, d, e, f, 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform[None],
        output_shape=tf.shape(image)[:2],
        fill_value=FILL,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[0]
    return tf.clip_by_value(out, 0.0, 255.0)
