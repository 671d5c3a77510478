"""TrivialAugment: each operation against Pillow's own, the draw, the training stream."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

SIZE = 40
GREY = (128, 128, 128)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A photo-like image: smooth colour regions with noise, in 20-220 (as photos
    seldom reach 0 and 255, which would leave auto-contrast nothing to do)."""
    rng = np.random.default_rng(0)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((SIZE, SIZE), Image.BILINEAR), np.int32)
    noisy = smooth + rng.integers(-25, 26, smooth.shape)
    return (20 + np.clip(noisy, 0, 255) * 200 // 255).astype(np.uint8)


def _ours(image: np.ndarray, name: str, strength: float, sign: float = 1.0) -> np.ndarray:
    import tensorflow as tf

    from alexedge.train.trivial_augment import apply_op

    out = apply_op(tf.constant(image[None], tf.float32), name, strength, sign).numpy()[0]
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 255
    return out


def _enhance(factor: float, enhancer: type) -> Callable[[Image.Image], Image.Image]:
    return lambda pil: enhancer(pil).enhance(factor)


# (op, strength, Pillow's version at that strength): factor = 0.1 + 1.8 * strength,
# solarize threshold = 256 - 256 * strength, posterize bits = 8 - 4 * strength.
PHOTOMETRIC = [
    ("identity", 0.7, lambda pil: pil),
    ("auto_contrast", 0.7, ImageOps.autocontrast),
    ("equalize", 0.7, ImageOps.equalize),
    ("solarize", 0.25, lambda pil: ImageOps.solarize(pil, 192)),
    ("posterize", 0.5, lambda pil: ImageOps.posterize(pil, 6)),
    ("posterize", 1.0, lambda pil: ImageOps.posterize(pil, 4)),
    ("color", 0.0, _enhance(0.1, ImageEnhance.Color)),
    ("color", 1.0, _enhance(1.9, ImageEnhance.Color)),
    ("contrast", 0.25, _enhance(0.55, ImageEnhance.Contrast)),
    ("contrast", 1.0, _enhance(1.9, ImageEnhance.Contrast)),
    ("brightness", 0.0, _enhance(0.1, ImageEnhance.Brightness)),
    ("brightness", 0.75, _enhance(1.45, ImageEnhance.Brightness)),
    ("sharpness", 0.0, _enhance(0.1, ImageEnhance.Sharpness)),
    ("sharpness", 1.0, _enhance(1.9, ImageEnhance.Sharpness)),
]


@pytest.mark.parametrize(("name", "strength", "pillow"), PHOTOMETRIC)
def test_photometric_ops_are_pillows(image: np.ndarray, name: str, strength: float, pillow):
    expected = np.asarray(pillow(Image.fromarray(image)), np.float32)
    ours = _ours(image, name, strength)
    differ = np.abs(ours - expected)
    # Pillow truncates a product that is a whole number in its float64 but just below
    # it in our float32 (factor 1.45 times 20) one lower: a few percent of pixels by 1.
    assert differ.max() <= 1 and (differ > 0).mean() < 0.05, (differ.max(), (differ > 0).mean())
    if name != "identity":
        assert np.abs(ours - image).mean() > 1, "the op changed the image"


def _inside(coefficients: tuple | None, degrees: float = 0.0) -> np.ndarray:
    """Pixels whose samples stay a pixel away from the filled area (Pillow and
    TensorFlow treat the last half pixel at the edge differently)."""
    white = Image.new("L", (SIZE, SIZE), 255)
    if coefficients is None:
        moved = white.rotate(degrees, resample=Image.BILINEAR, fillcolor=0)
    else:
        moved = white.transform(white.size, Image.AFFINE, coefficients, Image.BILINEAR, fillcolor=0)
    ring = np.pad(np.asarray(moved) == 255, 1, constant_values=False)  # the border too
    return ring[1:-1, 1:-1] & ring[:-2, 1:-1] & ring[2:, 1:-1] & ring[1:-1, :-2] & ring[1:-1, 2:]


# (op, strength, sign, Pillow coefficients or None for a rotation, rotation degrees)
GEOMETRIC = [
    ("rotate", 17 / 30, 1.0, None, 17.0),
    ("rotate", 25 / 30, -1.0, None, -25.0),
    ("shear_x", 2 / 3, 1.0, (1, 0.2, 0, 0, 1, 0), 0.0),
    ("shear_y", 1.0, -1.0, (1, 0, 0, -0.3, 1, 0), 0.0),
]


@pytest.mark.parametrize(("name", "strength", "sign", "coefficients", "degrees"), GEOMETRIC)
def test_geometric_ops_are_pillows(image, name, strength, sign, coefficients, degrees) -> None:
    pil = Image.fromarray(image)
    if coefficients is None:
        expected = pil.rotate(degrees, resample=Image.BILINEAR, fillcolor=GREY)
    else:
        expected = pil.transform(pil.size, Image.AFFINE, coefficients, Image.BILINEAR, GREY)
    expected = np.asarray(expected, np.float32)
    ours = _ours(image, name, strength, sign)
    inside = _inside(coefficients, degrees)
    assert 0.6 < inside.mean() < 0.99  # the op moved pixels out and grey in
    assert np.abs(ours - expected)[inside].max() < 1.01  # Pillow rounds, we keep fractions
    corners = ours[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert (np.abs(corners - 128) < 1).all(axis=-1).any(), "an uncovered corner is grey"


@pytest.mark.parametrize(
    ("name", "sign", "axis"), [("translate_x", 1.0, 1), ("translate_y", -1.0, 0)]
)
def test_translations_shift_whole_pixels_and_fill_grey(image, name, sign, axis) -> None:
    shift = round(0.5 * 10 / 32 * SIZE) * int(sign)  # strength 0.5 of 10/32 of the side
    ours = _ours(image, name, 0.5, sign)
    expected = np.full_like(image, 128)
    if axis == 1:
        expected[:, shift:] = image[:, :-shift]
    else:
        expected[:shift] = image[-shift:]
    np.testing.assert_allclose(ours, expected, atol=1e-3)


def test_one_op_per_image_drawn_from_the_seed(image: np.ndarray) -> None:
    import tensorflow as tf

    from alexedge.train.trivial_augment import OPS, apply_op, draw_op, trivial_augment

    draws = [draw_op(tf.constant([seed, 7])) for seed in range(120)]
    index, strength, sign = (tf.stack(values) for values in zip(*draws, strict=True))
    assert set(index.numpy()) == set(range(len(OPS)))
    assert (strength.numpy() >= 0).all() and (strength.numpy() < 1).all()
    assert set(sign.numpy()) == {-1.0, 1.0}
    # Different images, so that a mix-up of positions shows.
    rng = np.random.default_rng(3)
    shifts = rng.integers(-20, 21, (120, 1, 1, 3))
    batch = tf.constant(np.clip(image[None].astype(np.int32) + shifts, 0, 255), tf.float32)
    out = trivial_augment(batch, index, strength, sign).numpy()
    for i, (k, s, g) in enumerate(zip(index.numpy(), strength.numpy(), sign.numpy(), strict=True)):
        alone = apply_op(batch[i : i + 1], OPS[k], s, g).numpy()[0]
        np.testing.assert_array_equal(out[i], alone, err_msg=f"image {i}, {OPS[k]}")
    # Two images: most ops have none to work on (an empty batch each).
    few = trivial_augment(batch[:2], index[:2], strength[:2], sign[:2]).numpy()
    np.testing.assert_array_equal(few, out[:2])
    # The input pipeline runs it as a graph, rewritten by Grappler: the same pixels.
    data = tf.data.Dataset.from_tensors((batch, index, strength, sign)).map(trivial_augment)
    np.testing.assert_array_equal(next(iter(data)).numpy(), out)
    with pytest.raises(ValueError, match="unknown TrivialAugment op"):
        apply_op(batch, "invert", 0.5)


def test_training_stream_with_trivial_augment_is_seeded_and_in_range() -> None:
    from alexedge.data.decode import DecodedSplit
    from alexedge.data.stats import channel_stats
    from alexedge.train.config import Augmentation
    from alexedge.train.input_pipeline import train_dataset

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (16, 12, 12, 3), dtype=np.uint8)
    split = DecodedSplit(images, np.arange(16, dtype=np.int32) % 2, tuple(map(str, range(16))), ())
    stats = channel_stats(images)

    def batch(trivial: bool, seed: int) -> np.ndarray:
        augmentation = Augmentation(pca_sigma=0.0, trivial_augment=trivial)
        data = train_dataset(split, 2, 10, 16, stats, augmentation, seed)
        return next(iter(data))[0].numpy()

    first = batch(True, 0)
    assert first.shape == (16, 10, 10, 3) and first.min() >= 0 and first.max() <= 255
    np.testing.assert_array_equal(first, batch(True, 0))  # the seed fixes the ops
    plain = batch(False, 0)
    changed = [not np.array_equal(a, b) for a, b in zip(first, plain, strict=True)]
    assert sum(changed) >= 8  # most images changed ("identity" and weak ops may not)
