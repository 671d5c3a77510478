"""The same pixels everywhere: training evaluation, the streamed path and the edge runtime.

``eval_inputs(decode_split(...))`` (Keras evaluation), the streamed evaluation dataset
and ``eval_transform(path)`` (the edge runtime, int8 calibration) must give the same
tensor for the same file, including the files that need care: EXIF-rotated photos,
grayscale, CMYK, 16-bit PNG, RGBA, and images smaller than the input. That tensor is the
paper's: the shorter side resized, the centre kept, never the whole photo squashed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from image_files import write_image, write_odd_formats
from PIL import Image

from alexedge.data.dataset import Sample
from alexedge.data.decode import decode_split
from alexedge.data.stream import file_split
from alexedge.preprocess import base_size_for, eval_transform
from alexedge.train.input_pipeline import eval_dataset, eval_inputs

SIZE = 24


def _exif_rotated(path: Path) -> Path:
    """A JPEG stored landscape with an EXIF orientation tag saying 'rotate 90 degrees'."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    pixels[:, :20] = 255  # a white band that shows which way is up
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("parity")
    return [
        *write_odd_formats(folder),
        _exif_rotated(folder / "rotated.jpg"),
        write_image(folder / "small.png", 9, seed=6),
        write_image(folder / "plain.jpg", 40, seed=7),
    ]


def test_keras_evaluation_sees_what_the_edge_runtime_sees(files: list[Path]) -> None:
    samples = [Sample(str(p), i % 3) for i, p in enumerate(files)]
    split = decode_split(samples, base_size_for(SIZE))
    assert not split.skipped
    keras_inputs = eval_inputs(split, SIZE)
    edge_inputs = np.stack([eval_transform(p, SIZE) for p in files]).astype(np.float32)
    np.testing.assert_array_equal(keras_inputs, edge_inputs)


def test_streamed_evaluation_sees_the_same_pixels(files: list[Path]) -> None:
    samples = [Sample(str(p), i % 3) for i, p in enumerate(files)]
    streamed = eval_dataset(file_split(samples, base_size_for(SIZE)), 3, SIZE, batch_size=4)
    images = np.concatenate([x.numpy() for x, _ in streamed])
    edge_inputs = np.stack([eval_transform(p, SIZE) for p in files]).astype(np.float32)
    np.testing.assert_array_equal(images, edge_inputs)


def test_exif_orientation_is_applied(files: list[Path]) -> None:
    rotated = next(p for p in files if p.name == "rotated.jpg")
    pixels = eval_transform(rotated, SIZE)
    # Stored with the white band at the left; displayed (rotated 90 CW) it is at the top.
    assert pixels[:3].mean() > 200 > pixels[-3:].mean()


@pytest.mark.parametrize("shape", [(32, 64), (64, 32)])
def test_the_shorter_side_is_resized_and_the_centre_kept(shape: tuple[int, int]) -> None:
    """On ramps (value 3 x column in red, 3 x row in green) the input's slope is the scale
    and its mean the place: both axes scaled by the shorter side (a squash would scale the
    longer one more), and the ramps' middle values at the crop's middle."""
    height, width = shape
    rows, cols = np.mgrid[:height, :width]
    ramps = np.stack([3 * cols, 3 * rows, np.zeros_like(rows)], axis=-1).astype(np.uint8)
    pixels = eval_transform(ramps, SIZE).astype(np.float64)
    scale = base_size_for(SIZE) / min(shape)
    x_slope = np.polyfit(np.arange(SIZE), pixels[SIZE // 2, :, 0], 1)[0]
    y_slope = np.polyfit(np.arange(SIZE), pixels[:, SIZE // 2, 1], 1)[0]
    assert x_slope == pytest.approx(3 / scale, rel=0.03)
    assert y_slope == pytest.approx(3 / scale, rel=0.03)
    middle = (3 * (width - 1) / 2, 3 * (height - 1) / 2)
    assert pixels[..., :2].mean(axis=(0, 1)) == pytest.approx(middle, abs=2.5 * 3 / scale)
