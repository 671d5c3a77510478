"""The one definition of how a decoded image becomes model input.

Training, evaluation, int8 calibration and the edge runtime all call these
functions, so a model sees the same pixels on the phone as it did in validation.
Only numpy and Pillow are used: the edge runtime imports this module without
TensorFlow. Normalization (mean/std) is *not* here: it is the model's first layer,
so exported models take raw RGB 0-255 and apps need not know the statistics.

Geometry follows Krizhevsky et al. (2012, sec. 2): resize the shorter side to S
(256 for a 224 input, scaled by the same 256/224 ratio for other sizes), take the
central S x S square as the *base image*; training crops randomly from it and
evaluation takes its centre.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from alexedge.errors import DataError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MODEL_INPUT_MEAN",
    "MODEL_INPUT_STD",
    "base_image",
    "base_size_for",
    "center_crop",
    "center_crops",
    "eval_transform",
    "load_rgb",
    "squash_transform",
    "ten_crop",
]

# Refuse decompression bombs well below Pillow's default warning threshold: no
# classifier input needs more than a 12k x 8k photo.
MAX_IMAGE_PIXELS = 100_000_000
# What alexedge models expect of the pixels fed to them: raw 0-255 (mean 0, std 1), as
# TFLite metadata's NormalizationOptions says it (one value: MediaPipe refuses three).
MODEL_INPUT_MEAN = (0.0,)
MODEL_INPUT_STD = (1.0,)
_BASE_RATIO = 256 / 224


def base_size_for(input_size: int) -> int:
    """The side S of the base image for a given model input size (256 for 224)."""
    return round(input_size * _BASE_RATIO)


def load_rgb(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Decode any image file into an RGB ``uint8`` array of shape (H, W, 3).

    Handles grayscale, palette, RGBA, CMYK, 16-bit PNG, EXIF orientation and
    animated GIFs (first frame). Raises ``DataError`` naming the file for anything
    that is not a complete, decodable image of a sane size.
    """
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        if not isinstance(source, bytes) and os.path.getsize(source) == 0:
            raise DataError(f"{name}: empty file (0 bytes)")
        fp = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
        with fp, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as img:
                _check_pixels(img, name)
                img.seek(0)
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb_array(img)
    except FileNotFoundError as e:
        raise DataError(f"{name}: no such file") from e
    except IsADirectoryError as e:
        raise DataError(f"{name}: is a directory, not an image") from e
    except UnidentifiedImageError as e:
        raise DataError(f"{name}: not an image file Pillow can read") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{name}: refused, too many pixels (decompression bomb?)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{name}: unreadable image ({e})") from e


def _check_pixels(img: Image.Image, name: str) -> None:
    width, height = img.size
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(
            f"{name}: refused, {width}x{height} exceeds {MAX_IMAGE_PIXELS:,} pixels "
            "(decompression bomb?)"
        )
    if width < 1 or height < 1:
        raise DataError(f"{name}: image has no pixels")


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale PNG: keep the top 8 bits instead of clipping at 255.
        arr = np.asarray(img, dtype=np.uint32)
        arr = (arr >> 8).astype(np.uint8) if arr.max() > 255 else arr.astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if img.mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if img.mode in ("P", "PA") and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def base_image(rgb: np.ndarray, base_size: int) -> np.ndarray:
    """Resize the shorter side to ``base_size`` and take the central square.

    Pillow's bilinear filter antialiases when shrinking, which matters for 500 px
    photos going to 256.
    """
    height, width = rgb.shape[:2]
    scale = base_size / min(height, width)
    new_w = max(base_size, round(width * scale))
    new_h = max(base_size, round(height * scale))
    if (new_w, new_h) != (width, height):
        resized = Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR)
        rgb = np.asarray(resized, dtype=np.uint8)
    return center_crop(rgb, base_size)


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    if height < size or width < size:
        raise DataError(f"cannot crop {size}x{size} from a {width}x{height} image")
    top = (height - size) // 2
    left = (width - size) // 2
    return rgb[top : top + size, left : left + size]


def eval_transform(
    source: np.ndarray | str | os.PathLike[str] | bytes, input_size: int
) -> np.ndarray:
    """Evaluation preprocessing: base image, then its centre ``input_size`` crop.

    Returns ``uint8`` (input_size, input_size, 3), the raw-pixel model input.
    """
    rgb = source if isinstance(source, np.ndarray) else load_rgb(_as_path(source))
    return np.ascontiguousarray(center_crop(base_image(rgb, base_size_for(input_size)), input_size))


def squash_transform(
    source: np.ndarray | str | os.PathLike[str] | bytes, input_size: int
) -> np.ndarray:
    """The whole image resized to ``input_size`` square, aspect ratio not kept.

    What most phone camera pipelines feed a classifier; the edge runtime offers it
    beside ``eval_transform`` for models that were trained or evaluated that way.
    Returns ``uint8`` (input_size, input_size, 3).
    """
    rgb = source if isinstance(source, np.ndarray) else load_rgb(_as_path(source))
    if rgb.shape[:2] == (input_size, input_size):
        return np.ascontiguousarray(rgb)
    resized = Image.fromarray(rgb).resize((input_size, input_size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def center_crops(images: Iterable[np.ndarray], input_size: int) -> np.ndarray:
    """``center_crop`` of each base image, stacked ``(N, s, s, 3)`` in its own dtype.

    The evaluation, calibration and BN-statistics inputs of a decoded split; callers
    that feed a model cast to float32 themselves (a paper-size set stays uint8 until
    it is batched).
    """
    return np.stack([center_crop(img, input_size) for img in images])


def ten_crop(rgb: np.ndarray, input_size: int) -> np.ndarray:
    """The paper's test-time crops (Krizhevsky et al. 2012, sec. 4.1), ``(10, s, s, 3)``.

    Order: top-left, top-right, bottom-left, bottom-right, centre, then the
    horizontal mirror of each in the same order, so ``crops[i + 5]`` is
    ``crops[i][:, ::-1]`` and ``crops[:5]`` alone is the five-crop. Pass the base
    image (``base_image``); the model's softmax outputs are averaged over the ten.
    """
    height, width = rgb.shape[:2]
    s = input_size
    if height < s or width < s:
        raise DataError(f"cannot take {s}x{s} crops from a {width}x{height} image")
    corners = [(0, 0), (0, width - s), (height - s, 0), (height - s, width - s)]
    crops = [rgb[top : top + s, left : left + s] for top, left in corners]
    crops.append(center_crop(rgb, s))
    crops += [c[:, ::-1] for c in crops]
    return np.ascontiguousarray(np.stack(crops))


def _as_path(source: str | os.PathLike[str] | bytes) -> str | bytes:
    return source if isinstance(source, bytes) else str(Path(source))
