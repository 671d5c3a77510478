"""Training augmentation and evaluation views, each checked so that skipping it fails.

The paper's random crops and flips, PCA colour noise, random-resized crops, mixup, CutMix,
random erasing (TrivialAugment: ``test_trivial_augment``), and the centre and 10-crop
views evaluation reports; also shapes, pixel ranges and seeding of the training stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import channel_stats
from alexedge.errors import DataError
from alexedge.preprocess import center_crop, ten_crop

BASE, SIZE, CLASSES = 12, 8, 3


def _coordinate_image(height: int, width: int) -> np.ndarray:
    """Pixel (y, x) holds (y, x, 7): any crop says where it came from."""
    y, x = np.mgrid[:height, :width]
    return np.stack([y, x, np.full_like(y, 7)], axis=-1).astype(np.uint8)


def _split(n: int = 6, seed: int = 0) -> DecodedSplit:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, BASE, BASE, 3), dtype=np.uint8)
    labels = (np.arange(n) % CLASSES).astype(np.int32)
    return DecodedSplit(images, labels, tuple(f"{i}.jpg" for i in range(n)), ())


def test_ten_crop_order_is_corners_centre_then_mirrors() -> None:
    img = _coordinate_image(10, 13)
    crops = ten_crop(img, 6)
    assert crops.shape == (10, 6, 6, 3) and crops.dtype == np.uint8
    top_left = [(c[0, 0, 0], c[0, 0, 1]) for c in crops[:5]]
    assert top_left == [(0, 0), (0, 7), (4, 0), (4, 7), (2, 3)]
    np.testing.assert_array_equal(crops[4], center_crop(img, 6))
    for i in range(5):
        np.testing.assert_array_equal(crops[i + 5], crops[i][:, ::-1])
    assert (crops[5, 0, 0, 1], crops[5, 0, -1, 1]) == (5, 0)  # mirrored: x runs backwards
    with pytest.raises(DataError, match="cannot take 11x11"):
        ten_crop(img, 11)


def test_ten_crop_predict_averages_the_ten_crops() -> None:
    from alexedge.train.input_pipeline import ten_crop_eval_inputs, ten_crop_predict

    split = _split(5)
    batches = list(ten_crop_eval_inputs(split, SIZE, batch_size=2))
    assert [b.shape for b in batches] == [(20, SIZE, SIZE, 3)] * 2 + [(10, SIZE, SIZE, 3)]
    assert all(b.dtype == np.float32 for b in batches)

    def predict(x: np.ndarray) -> np.ndarray:  # a "model" whose output is its channel means
        return x.mean(axis=(1, 2))

    expected = np.stack([ten_crop(img, SIZE).mean(axis=(0, 1, 2)) for img in split.images])
    np.testing.assert_allclose(ten_crop_predict(predict, split, SIZE, 2), expected, rtol=1e-5)


def test_evaluation_reports_the_centre_view_and_the_mean_of_ten() -> None:
    """``predict_split`` is what ``evaluate_model`` and ``alexedge evaluate`` report."""
    from alexedge.train.input_pipeline import predict_split

    split = _split(5)

    def predict(x: np.ndarray) -> np.ndarray:  # a "model" whose output is its channel means
        return x.mean(axis=(1, 2))

    views = predict_split(predict, split, SIZE, ten_crop=True, chunk_size=2)
    top = (BASE - SIZE) // 2
    centre = split.images[:, top : top + SIZE, top : top + SIZE].mean(axis=(1, 2))
    ten = np.stack([ten_crop(img, SIZE).mean(axis=(0, 1, 2)) for img in split.images])
    np.testing.assert_allclose(views.centre, centre, rtol=1e-5)
    np.testing.assert_allclose(views.ten_crop, ten, rtol=1e-5)
    assert not np.allclose(centre, ten)  # the two views differ on these images
    np.testing.assert_array_equal(views.labels, split.labels)


def _first_batch(seed: int, rrc: bool, pca_sigma: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    from alexedge.train.config import Augmentation
    from alexedge.train.input_pipeline import train_dataset

    split = _split()
    stats = channel_stats(split.images)
    augmentation = Augmentation(pca_sigma=pca_sigma, random_resized_crop=rrc)
    data = train_dataset(split, CLASSES, SIZE, 4, stats, augmentation, seed)
    images, labels = next(iter(data))
    return images.numpy(), labels.numpy()


@pytest.mark.parametrize("rrc", [False, True])
def test_training_batches_have_model_shapes_and_pixel_range(rrc: bool) -> None:
    images, labels = _first_batch(0, rrc)
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 255.0
    assert images.max() > 128  # raw 0-255 pixels, not normalized
    assert labels.shape == (4, CLASSES)
    np.testing.assert_array_equal(labels.sum(axis=1), 1.0)


@pytest.mark.parametrize("rrc", [False, True])
def test_augmentation_is_fixed_by_the_seed(rrc: bool) -> None:
    first, _ = _first_batch(5, rrc)
    np.testing.assert_array_equal(first, _first_batch(5, rrc)[0])
    assert not np.array_equal(first, _first_batch(6, rrc)[0])


def test_plain_crop_is_an_exact_window_of_a_base_image() -> None:
    # Without colour noise the paper's crop copies pixels (maybe mirrored); the
    # random-resized crop resamples them, so it almost never does.
    def is_window(crop: np.ndarray, images: np.ndarray) -> bool:
        for img in images:
            for view in (img, img[:, ::-1]):
                for top in range(BASE - SIZE + 1):
                    for left in range(BASE - SIZE + 1):
                        if np.array_equal(view[top : top + SIZE, left : left + SIZE], crop):
                            return True
        return False

    base = _split().images
    plain, _ = _first_batch(1, rrc=False, pca_sigma=0.0)
    resized, _ = _first_batch(1, rrc=True, pca_sigma=0.0)
    assert all(is_window(c.astype(np.uint8), base) for c in plain)
    assert not all(is_window(np.round(c).astype(np.uint8), base) for c in resized)


def _one_image_stream(image: np.ndarray, n: int, augmentation, stats=None) -> np.ndarray:
    """A batch of ``n`` training draws from copies of one base image."""
    from alexedge.train.input_pipeline import train_dataset

    images = np.repeat(image[None], n, axis=0)
    labels = (np.arange(n) % CLASSES).astype(np.int32)
    split = DecodedSplit(images, labels, tuple(f"{i}.jpg" for i in range(n)), ())
    stats = stats or channel_stats(images)
    data = train_dataset(split, CLASSES, SIZE, n, stats, augmentation, seed=0)
    return next(iter(data))[0].numpy()


def test_crops_move_and_mirror_from_draw_to_draw() -> None:
    """The paper's crop: any window of the base image, mirrored half the time."""
    from alexedge.train.config import Augmentation

    crops = _one_image_stream(_coordinate_image(BASE, BASE), 32, Augmentation(pca_sigma=0.0))
    mirrored = crops[:, 0, 0, 1] > crops[:, 0, -1, 1]  # x runs backwards along the row
    corners = {(int(c[0, 0, 0]), int(c[0, :, 1].min())) for c in crops}
    assert len(corners) >= 5, corners
    assert 8 <= mirrored.sum() <= 24, mirrored


def test_pca_lighting_shifts_each_image_by_one_colour_along_the_pcs() -> None:
    """Sec. 4.1: pixel + eigvec @ (alpha * eigval), alpha ~ N(0, sigma) per image."""
    from alexedge.train.config import Augmentation

    sigma = 0.1
    rng = np.random.default_rng(0)
    stats = channel_stats(rng.integers(0, 256, (4, BASE, BASE, 3), dtype=np.uint8))
    grey = np.full((BASE, BASE, 3), 128, np.uint8)
    out = _one_image_stream(grey, 64, Augmentation(pca_sigma=sigma), stats)
    shifts = out[:, 0, 0, :] - 128.0
    one_colour = np.broadcast_to(128.0 + shifts[:, None, None, :], out.shape)
    np.testing.assert_allclose(out, one_colour, atol=1e-4)
    alpha = np.linalg.solve(np.array(stats.pca_eigvec), shifts.T / 255.0).T
    alpha /= np.array(stats.pca_eigval)
    assert 0.8 * sigma < alpha.std() < 1.2 * sigma and abs(alpha.mean()) < 0.3 * sigma


def test_decode_split_refuses_what_cannot_fit_in_memory(monkeypatch) -> None:
    import alexedge.data.decode as decode
    from alexedge.data.dataset import Sample
    from alexedge.errors import DataError

    monkeypatch.setattr(decode, "_available_memory_bytes", lambda: 10_000_000)
    samples = [Sample(f"/nonexistent/{i}.jpg", 0) for i in range(100)]
    with pytest.raises(DataError, match="GB decoded"):
        decode.decode_split(samples, 256)


def _flat_batch(augmentation, n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list]:
    """One batch of ``n`` flat images, image i of value 10 * (i + 1) and class i, so a
    pixel says which image it came from and a label column which image it weighs."""
    from alexedge.train.input_pipeline import train_dataset

    values = [10.0 * (i + 1) for i in range(n)]
    images = np.stack([np.full((BASE, BASE, 3), v, np.uint8) for v in values])
    split = DecodedSplit(
        images, np.arange(n, dtype=np.int32), tuple(f"{i}.jpg" for i in range(n)), ()
    )
    data = train_dataset(split, n, SIZE, n, channel_stats(images), augmentation, seed)
    x, y = next(iter(data))
    return x.numpy(), y.numpy(), values


def test_mixup_mixes_images_and_labels_by_the_same_weight() -> None:
    from alexedge.train.config import Augmentation

    x, y, values = _flat_batch(Augmentation(pca_sigma=0.0, mixup=0.4))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    assert ((y > 0).sum(axis=1) <= 2).all() and (y.max(axis=1) < 1).any()
    for image, label in zip(x, y, strict=True):
        np.testing.assert_allclose(image, label @ np.array(values), rtol=1e-4)


def test_cutmix_pastes_a_box_whose_area_is_the_partners_label_weight() -> None:
    from alexedge.train.config import Augmentation

    x, y, values = _flat_batch(Augmentation(pca_sigma=0.0, cutmix=1.0), seed=3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    pasted = 0
    for image, label in zip(x, y, strict=True):
        shares = [np.mean(image[..., 0] == v) for v in values]
        np.testing.assert_allclose(shares, label, atol=1e-6)
        pasted += label.max() < 1
        if label.max() < 1:  # the pasted pixels form one rectangle
            rows, cols = np.nonzero(image[..., 0] != values[int(label.argmax())])
            box = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1, 0]
            assert len(np.unique(box)) == 1
    assert pasted > 0


def test_mixup_and_cutmix_together_take_one_of_them_per_batch() -> None:
    from alexedge.train.config import Augmentation

    kinds = set()
    for seed in range(8):
        x, _, _ = _flat_batch(Augmentation(pca_sigma=0.0, mixup=0.4, cutmix=1.0), seed=seed)
        flat = all(len(np.unique(image)) == 1 for image in x)
        kinds.add("mixup" if flat else "cutmix")
    assert kinds == {"mixup", "cutmix"}


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_random_erasing_replaces_one_rectangle_with_noise(probability: float) -> None:
    from alexedge.train.config import Augmentation

    x, y, values = _flat_batch(Augmentation(pca_sigma=0.0, erasing=probability))
    np.testing.assert_array_equal(np.sort(y, axis=1)[:, -1], 1.0)  # labels untouched
    for image, label in zip(x, y, strict=True):
        value = values[int(label.argmax())]
        erased = np.any(image != value, axis=-1)
        if probability == 0:
            assert not erased.any()
            continue
        rows, cols = np.nonzero(erased)
        box_area = (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
        assert 0 < box_area <= 0.33 * SIZE * SIZE + 2 * SIZE  # rounding adds a row/column
        assert erased.sum() >= 0.9 * box_area  # noise fills the box (rarely hits the value)


def test_augmentation_options_are_checked() -> None:
    from alexedge.errors import ConfigError
    from alexedge.train.config import Augmentation

    for bad in ({"mixup": -1.0}, {"cutmix": -0.5}, {"erasing": 1.5}, {"min_crop_area": 0.0}):
        with pytest.raises(ConfigError, match=next(iter(bad)).replace("_", "-")):
            Augmentation(**bad)


def test_plain_epochs_drop_mixing_and_per_image_extras_from_their_epoch_on() -> None:
    from alexedge.train.config import Augmentation
    from alexedge.train.input_pipeline import train_epochs

    split = _split(8)
    stats = channel_stats(split.images)
    heavy = Augmentation(mixup=0.4, erasing=1.0, trivial_augment=True)

    def passes(augmentation: Augmentation, epochs: range, plain_from=None) -> list:
        data = train_epochs(
            split, CLASSES, SIZE, 8, stats, augmentation, 3, epochs, plain_from=plain_from
        )
        return [x.numpy() for x, _ in data.take(len(epochs))]  # one batch = one pass

    first, second = passes(heavy, range(2), plain_from=1)
    # Epoch 0 as a fully augmented run's, epoch 1 as a plain run's same epoch.
    np.testing.assert_array_equal(first, passes(heavy, range(1))[0])
    np.testing.assert_array_equal(second, passes(heavy.plain(), range(1, 2))[0])
    assert not np.array_equal(second, passes(heavy, range(1, 2))[0])
    assert heavy.plain() == Augmentation()  # crops, flips and PCA lighting stay on


def test_plain_epochs_are_checked() -> None:
    from alexedge.errors import ConfigError
    from alexedge.train.config import TrainConfig

    assert TrainConfig(epochs=4, plain_epochs=4).plain_epochs == 4
    for bad in (-1, 5):
        with pytest.raises(ConfigError, match="--plain-epochs must be between 0 and"):
            TrainConfig(epochs=4, plain_epochs=bad)
