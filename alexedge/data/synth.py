"""The built-in default dataset: procedurally drawn shapes and textures as JPEG files.

Every command needs a dataset that ships with the tool, downloads nothing and trains
in minutes on a laptop, yet is hard enough that accuracy separates a good model from a
broken one (a dataset solved in one epoch hides bugs in compression and export). So
each image has one labelled object (a shape such as ``five_point_star`` or a textured
patch such as ``horizontal_stripes``) with random position, scale, rotation and colour,
on a cluttered background with distractor strokes and blobs that look like no class,
partial occlusion, colour jitter, sensor-like noise and JPEG artefacts.

Each image is a pure function of (seed, split, class index, image index), so output is
byte-identical for a config whatever the process count or order, and a 10-class
dataset is the first 10 class folders of a 30-class one. Only numpy and Pillow are
used, no TensorFlow.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from alexedge.errors import ConfigError, DataError
from alexedge.progress import progress_bar

__all__ = ["CLASS_NAMES", "SynthConfig", "synthesize_dataset"]

_SPLITS = ("train", "val")
_SUPERSAMPLE = 2  # draw at 2x and box-filter down: antialiased edges at no Pillow cost
_JPEG_QUALITY = 90
_CHUNK = 25  # images per worker task: amortizes inter-process overhead
_MIN_IMAGES_FOR_POOL = 1500  # below this, starting worker processes costs more than it saves
_TAU = 2 * np.pi

Points = np.ndarray  # (k, 2) polygon vertices in the object's unit frame, y pointing down


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SynthConfig:
    """What to generate; saved as ``synth_config.json`` so a dataset can be regenerated."""

    classes: int = 20
    per_class: int = 400
    val_per_class: int = 50
    size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        limits = {
            "classes": (2, len(CLASS_NAMES)),
            "per_class": (1, 100_000),  # file names have five digits
            "val_per_class": (1, 100_000),
            "size": (16, 1024),  # below 16 px a shape is a handful of pixels
            "seed": (0, 2**63 - 1),  # numpy seeds must be non-negative
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            _check_int(name, value, low, high)
            # numpy integers pass the check; store plain ints so the JSON record works.
            object.__setattr__(self, name, int(value))

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES[: self.classes]


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"synth: {name} must be an integer, got {value!r}")
    if not low <= value <= high:
        hint = f" (the synthetic dataset has {high} classes)" if name == "classes" else ""
        raise ConfigError(f"synth: {name} must be between {low} and {high}, got {value}{hint}")


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Place:
    """Where an object sits on the canvas: centre and radius in pixels, angle in radians."""

    cx: float
    cy: float
    radius: float
    angle: float

    def points(self, unit: Points) -> list[tuple[float, float]]:
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        x = self.cx + self.radius * (unit[:, 0] * cos - unit[:, 1] * sin)
        y = self.cy + self.radius * (unit[:, 0] * sin + unit[:, 1] * cos)
        return list(zip(x.tolist(), y.tolist(), strict=True))


def _arc(start: float, stop: float, count: int = 72) -> Points:
    t = np.linspace(start, stop, count, endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _ngon(sides: int) -> Points:
    return _arc(-np.pi / 2, 1.5 * np.pi, sides)


def _star(tips: int, inner: float) -> Points:
    radii = np.tile([1.0, inner], tips)[:, None]
    return _arc(-np.pi / 2, 1.5 * np.pi, 2 * tips) * radii


def _plus(rng: np.random.Generator) -> Points:
    w = rng.uniform(0.22, 0.36)
    arm = [(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w)]
    return np.concatenate([arm, -np.array(arm)])


def _heart() -> Points:
    t = np.linspace(0, _TAU, 72, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y + 2.5], axis=1) / 16.5


def _arrow(rng: np.random.Generator) -> Points:
    shaft, neck, head = rng.uniform(0.14, 0.24), rng.uniform(0.05, 0.35), rng.uniform(0.5, 0.7)
    top = [(-1, -shaft), (neck, -shaft), (neck, -head)]
    return np.array([*top, (1, 0), *[(x, -y) for x, y in reversed(top)]])


def _hourglass(waist: float) -> Points:
    return np.array([(-0.75, -1), (0.75, -1), (waist, 0), (0.75, 1), (-0.75, 1), (-waist, 0)])


_BOLT = np.array(
    [(-0.1, -1), (0.5, -1), (0.1, -0.2), (0.5, -0.2), (-0.35, 1), (-0.05, 0.1), (-0.45, 0.1)]
)
_HOUSE = np.array([(-0.8, 1), (0.8, 1), (0.8, -0.1), (0, -1), (-0.8, -0.1)])
_SQUARE = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * 0.8
# Flat side down, shifted so that the centre of mass is near the origin.
_SEMICIRCLE = np.concatenate([_arc(np.pi, _TAU, 36), [(1, 0)]]) + np.array([0, 0.4])


def _diamond(rng: np.random.Generator) -> Points:
    return np.array([(0, -1), (1, 0), (0, 1), (-1, 0)]) * [rng.uniform(0.6, 0.8), 1]


# --------------------------------------------------------------------------- class catalogue

# A shape draws 255 (holes: 0) into an "L" mask; a texture maps rotated pixel
# coordinates (u, v) and a period to a boolean pattern.
ShapeFn = Callable[[ImageDraw.ImageDraw, _Place, np.random.Generator], None]
TextureFn = Callable[[np.ndarray, np.ndarray, float, np.random.Generator], np.ndarray]


def _polygon(unit: Callable[[np.random.Generator], Points]) -> ShapeFn:
    def draw(d: ImageDraw.ImageDraw, place: _Place, rng: np.random.Generator) -> None:
        d.polygon(place.points(unit(rng)), fill=255)

    return draw


def _ring(d: ImageDraw.ImageDraw, place: _Place, rng: np.random.Generator) -> None:
    d.polygon(place.points(_arc(0, _TAU)), fill=255)
    d.polygon(place.points(_arc(0, _TAU) * rng.uniform(0.5, 0.72)), fill=0)


def _crescent(d: ImageDraw.ImageDraw, place: _Place, rng: np.random.Generator) -> None:
    bite = _arc(0, _TAU) * rng.uniform(0.8, 1.0) + [rng.uniform(0.35, 0.6), 0.0]
    d.polygon(place.points(_arc(0, _TAU)), fill=255)
    d.polygon(place.points(bite), fill=0)


def _spiral(d: ImageDraw.ImageDraw, place: _Place, rng: np.random.Generator) -> None:
    turns = rng.uniform(2.0, 3.0)
    # Both handednesses, because training flips images horizontally.
    angle = rng.choice([-1.0, 1.0]) * turns * _TAU * np.linspace(0.15, 1.0, 160)
    radius = np.linspace(0.15, 1.0, 160)
    unit = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    width = max(2, round(place.radius / turns * rng.uniform(0.22, 0.35)))
    d.line(place.points(unit), fill=255, width=width, joint="curve")


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def _bands(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    return _frac(v / p) < rng.uniform(0.35, 0.6)


def _checker(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    cell = p * rng.uniform(0.5, 0.75)
    return (np.floor(u / cell) + np.floor(v / cell)) % 2 == 0


def _grid(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    line = rng.uniform(0.15, 0.28)
    return (_frac(u / p) < line) | (_frac(v / p) < line)


def _dots(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    shift = 0.5 * (np.floor(v / p) % 2) * rng.integers(0, 2)  # square or hexagonal lattice
    du, dv = _frac(u / p + shift) - 0.5, _frac(v / p) - 0.5
    return du**2 + dv**2 < rng.uniform(0.22, 0.34) ** 2


def _rings(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    return _frac(np.hypot(u, v) / p) < rng.uniform(0.35, 0.6)


def _zigzag(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    wave = 2 * np.abs(_frac(u / (p * rng.uniform(1.0, 1.8))) - 0.5)
    return _frac(v / p + wave * rng.uniform(0.6, 1.1)) < rng.uniform(0.35, 0.55)


def _waves(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    wave = np.sin(_TAU * u / (p * rng.uniform(1.6, 2.6)))
    return _frac(v / p + wave * rng.uniform(0.3, 0.5)) < rng.uniform(0.35, 0.55)


def _bricks(u: np.ndarray, v: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    mortar = rng.uniform(0.14, 0.22)
    row = np.floor(v / p)
    return (_frac(v / p) < mortar) | (_frac(u / (2 * p) + 0.5 * (row % 2)) < mortar / 2)


class _Spec(NamedTuple):
    draw: ShapeFn | TextureFn
    is_texture: bool
    angles: tuple[float, ...]  # base orientations in degrees
    tilt: float  # uniform jitter around a base orientation, degrees; 180 means any angle


def _shape(fn: ShapeFn, angles: tuple[float, ...] = (0.0,), tilt: float = 180.0) -> _Spec:
    return _Spec(fn, False, angles, tilt)


def _texture(fn: TextureFn, angles: tuple[float, ...] = (0.0,), tilt: float = 12.0) -> _Spec:
    return _Spec(fn, True, angles, tilt)


# Orientation-sensitive classes get a small tilt so that no two classes become each
# other under rotation (square vs diamond, plus vs x), and no class is the mirror
# image of another, because training uses horizontal flips. The first 20 mix shapes
# and textures so the default dataset has both.
_SPECS: dict[str, _Spec] = {
    "circle": _shape(_polygon(lambda rng: _arc(0, _TAU))),
    "square": _shape(_polygon(lambda rng: _SQUARE), tilt=15),
    "triangle": _shape(_polygon(lambda rng: _ngon(3))),
    "five_point_star": _shape(_polygon(lambda rng: _star(5, rng.uniform(0.38, 0.5)))),
    "lightning_bolt": _shape(_polygon(lambda rng: _BOLT), tilt=40),
    "plus_sign": _shape(_polygon(_plus), tilt=15),
    "ring": _shape(_ring),
    "crescent": _shape(_crescent),
    "heart": _shape(_polygon(lambda rng: _heart()), tilt=25),
    "arrow": _shape(_polygon(_arrow)),
    "checkerboard": _texture(_checker, tilt=15),
    "horizontal_stripes": _texture(_bands),
    "vertical_stripes": _texture(_bands, angles=(90.0,)),
    "diagonal_stripes": _texture(_bands, angles=(45.0, 135.0)),
    "polka_dots": _texture(_dots, tilt=180),
    "concentric_circles": _texture(_rings, tilt=180),
    "grid": _texture(_grid),
    "zigzag": _texture(_zigzag),
    "wavy_lines": _texture(_waves),
    "spiral": _shape(_spiral),
    "diamond": _shape(_polygon(_diamond), tilt=15),
    "x_mark": _shape(_polygon(_plus), angles=(45.0,), tilt=15),
    "hexagon": _shape(_polygon(lambda rng: _ngon(6))),
    "semicircle": _shape(_polygon(lambda rng: _SEMICIRCLE)),
    "hourglass": _shape(_polygon(lambda rng: _hourglass(rng.uniform(0.06, 0.16))), tilt=20),
    "house": _shape(_polygon(lambda rng: _HOUSE), tilt=20),
    "six_point_star": _shape(_polygon(lambda rng: _star(6, rng.uniform(0.5, 0.6)))),
    "ellipse": _shape(_polygon(lambda rng: _arc(0, _TAU) * [1, rng.uniform(0.4, 0.62)])),
    "brick_wall": _texture(_bricks, tilt=10),
    "crosshatch": _texture(_grid, angles=(45.0,)),
}

CLASS_NAMES: tuple[str, ...] = tuple(_SPECS)


# --------------------------------------------------------------------------- rendering


def _render(class_idx: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """One (size, size, 3) uint8 image of class ``class_idx``, drawn from ``rng`` alone."""
    n = size * _SUPERSAMPLE
    canvas = _background(rng, n)
    _clutter(canvas, rng, n)
    spec = _SPECS[CLASS_NAMES[class_idx]]
    if spec.is_texture:
        place = _draw_texture(canvas, spec, rng, n)
    else:
        place = _draw_shape(canvas, spec, rng, n)
    _occlude(canvas, rng, place)
    return _finish(np.asarray(canvas.reduce(_SUPERSAMPLE), dtype=np.float32), rng)


def _background(rng: np.random.Generator, n: int) -> Image.Image:
    """A smooth random colour field plus mid-frequency mottling, so that the object's
    colour never gives the class away and a flat background is never assumed."""
    coarse = rng.uniform(0, 255, (int(rng.integers(2, 5)),) * 2 + (3,))
    tint = rng.uniform(0, 255, 3) * rng.uniform(0.1, 0.6)
    coarse = coarse * (1 - tint.max() / 255) + tint
    fine = rng.normal(128, rng.uniform(4, 14), (int(rng.integers(6, 14)),) * 2 + (3,))
    # Both fields are upsampled as uint8 and added in C: this is the hot path.
    return ImageChops.add(_upsample(coarse, n), _upsample(fine, n), scale=1.0, offset=-128)


def _upsample(small: np.ndarray, n: int) -> Image.Image:
    pixels = np.clip(small + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).resize((n, n), Image.Resampling.BILINEAR)


def _clutter(canvas: Image.Image, rng: np.random.Generator, n: int) -> None:
    """Distractors behind the object: straight strokes, irregular fragments and soft
    blobs. None of them resembles a class, so the model must find the object."""
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 3))):
        ends = rng.uniform(-0.1, 1.1, 4) * n
        width = max(1, round(n * rng.uniform(0.016, 0.038)))
        draw.line(ends.tolist(), fill=_random_colour(rng), width=width)
    for _ in range(int(rng.integers(0, 3))):
        centre, radius = rng.uniform(0, n, 2), n * rng.uniform(0.04, 0.1)
        draw.polygon(_fragment(rng, centre, radius), fill=_random_colour(rng))
    blobs = [(rng.uniform(0, n, 2), n * rng.uniform(0.06, 0.18)) for _ in range(rng.integers(0, 3))]
    _soft_blobs(canvas, rng, blobs, n)


def _fragment(
    rng: np.random.Generator, centre: np.ndarray, radius: float
) -> list[tuple[float, float]]:
    # 6-9 vertices at jittered angles and radii: lumpy, never a regular polygon.
    count = int(rng.integers(6, 10))
    angles = np.sort(rng.uniform(0, _TAU, count))
    radii = radius * rng.uniform(0.45, 1.0, count)
    x, y = centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)
    return list(zip(x.tolist(), y.tolist(), strict=True))


def _soft_blobs(
    canvas: Image.Image,
    rng: np.random.Generator,
    blobs: Sequence[tuple[np.ndarray, float]],
    n: int,
) -> None:
    if not blobs:
        return
    blur = n * rng.uniform(0.02, 0.05)
    layer, mask = Image.new("RGB", canvas.size), Image.new("L", canvas.size, 0)
    paint, stencil = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for centre, radius in blobs:
        aspect = rng.uniform(0.5, 1.0)
        box = np.array([-radius, -radius * aspect, radius, radius * aspect])
        # The colour layer reaches past the stencil so the blurred edge keeps the colour.
        halo = box * 1.5 + np.sign(box) * 2 * blur
        paint.ellipse((np.tile(centre, 2) + halo).tolist(), fill=_random_colour(rng))
        stencil.ellipse((np.tile(centre, 2) + box).tolist(), fill=int(rng.integers(140, 256)))
    canvas.paste(layer, (0, 0), mask.filter(ImageFilter.GaussianBlur(blur)))


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = rng.integers(0, 256, 3).tolist()
    return r, g, b


def _contrasting(rng: np.random.Generator, against: np.ndarray) -> np.ndarray:
    """A random colour far enough from ``against`` to be seen; the closest few draws
    are rejected rather than clipped so the colour distribution stays broad."""
    best, best_dist = against, -1.0
    for _ in range(16):
        colour = rng.uniform(0, 255, 3)
        dist = float(np.linalg.norm(colour - against))
        if dist >= 150:
            return colour
        if dist > best_dist:
            best, best_dist = colour, dist
    return best


def _place(spec: _Spec, rng: np.random.Generator, n: int) -> _Place:
    radius = n * rng.uniform(0.24, 0.38)
    margin = min(radius * 0.85, n / 2)  # may poke up to ~15% of the object out of frame
    cx, cy = rng.uniform(margin, n - margin, 2)
    return _Place(float(cx), float(cy), float(radius), _orientation(spec, rng))


def _orientation(spec: _Spec, rng: np.random.Generator) -> float:
    degrees = rng.choice(spec.angles) + rng.uniform(-spec.tilt, spec.tilt)
    return float(np.deg2rad(degrees))


def _mean_under(canvas: Image.Image, mask: Image.Image) -> np.ndarray:
    if mask.getbbox() is None:
        return np.array(ImageStat.Stat(canvas).mean)
    return np.array(ImageStat.Stat(canvas, mask).mean)


def _shaded(colour: np.ndarray, rng: np.random.Generator, n: int) -> Image.Image:
    """A colour with a linear lighting gradient, so that flat fills are not a cue.

    The ramp is computed on an 8x8 grid and upsampled, which is exact for
    a linear ramp and far cheaper than a full-size float image."""
    angle, strength = rng.uniform(0, _TAU), rng.uniform(-45, 45)
    ramp = np.linspace(-0.5, 0.5, 8)
    light = strength * (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    return _upsample(colour + light[:, :, None], n)


def _draw_shape(canvas: Image.Image, spec: _Spec, rng: np.random.Generator, n: int) -> _Place:
    place = _place(spec, rng, n)
    mask = Image.new("L", canvas.size, 0)
    spec.draw(ImageDraw.Draw(mask), place, rng)  # type: ignore[call-arg]
    colour = _contrasting(rng, _mean_under(canvas, mask))
    canvas.paste(_shaded(colour, rng, n), (0, 0), mask)
    return place


def _draw_texture(canvas: Image.Image, spec: _Spec, rng: np.random.Generator, n: int) -> _Place:
    """A patterned patch (or the whole frame); its base is sometimes see-through so the
    pattern lies directly on the clutter."""
    angle = _orientation(spec, rng)
    region = _region(rng, n)
    period = n * rng.uniform(0.12, 0.2)
    yy, xx = _centred_grid(n)
    xx, yy = xx + np.float32(rng.uniform(0, period)), yy + np.float32(rng.uniform(0, period))
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = xx * cos + yy * sin, -xx * sin + yy * cos
    pattern = spec.draw(u, v, period, rng)  # type: ignore[call-arg]
    base = _contrasting(rng, _mean_under(canvas, region))
    if rng.random() < 0.7:
        canvas.paste(_shaded(base, rng, n), (0, 0), region)
    ink = _contrasting(rng, base)
    stencil = np.asarray(region, dtype=np.uint8) * pattern.astype(np.uint8)
    canvas.paste(_shaded(ink, rng, n), (0, 0), Image.fromarray(stencil))
    bbox = region.getbbox() or (0, 0, n, n)
    centre = ((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
    return _Place(centre[0], centre[1], (bbox[2] - bbox[0]) / 2, angle)


@functools.lru_cache(maxsize=4)
def _centred_grid(n: int) -> np.ndarray:
    grid = np.mgrid[0:n, 0:n].astype(np.float32) - np.float32(n / 2)
    grid.flags.writeable = False
    return grid


def _region(rng: np.random.Generator, n: int) -> Image.Image:
    mask = Image.new("L", (n, n), 0)
    if rng.random() < 0.2:
        mask.paste(255, (0, 0, n, n))
        return mask
    half = n * rng.uniform(0.22, 0.42, 2)
    centre = rng.uniform(half * 0.9, n - half * 0.9)
    box = np.concatenate([centre - half, centre + half]).tolist()
    draw = ImageDraw.Draw(mask)
    if rng.random() < 0.5:
        draw.rectangle(box, fill=255)
    else:
        draw.ellipse(box, fill=255)
    return mask


def _occlude(canvas: Image.Image, rng: np.random.Generator, place: _Place) -> None:
    """Things in front of the object: strokes across it and a blob over its edge."""
    n = canvas.size[0]
    draw = ImageDraw.Draw(canvas)
    if rng.random() < 0.25:
        for _ in range(int(rng.integers(1, 3))):
            through = np.array([place.cx, place.cy]) + rng.uniform(-1, 1, 2) * place.radius
            direction = rng.uniform(0, _TAU)
            step = n * np.array([np.cos(direction), np.sin(direction)])
            width = max(1, round(n * rng.uniform(0.019, 0.056)))
            ends = np.concatenate([through - step, through + step]).tolist()
            draw.line(ends, fill=_random_colour(rng), width=width)
    if rng.random() < 0.2:
        direction = rng.uniform(0, _TAU)
        offset = (
            place.radius * rng.uniform(0.7, 1.1) * np.array([np.cos(direction), np.sin(direction)])
        )
        centre = np.array([place.cx, place.cy]) + offset
        draw.polygon(
            _fragment(rng, centre, place.radius * rng.uniform(0.3, 0.5)), fill=_random_colour(rng)
        )


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera-like colour cast, contrast and exposure changes, then sensor noise."""
    gains = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    mean = image.mean()
    image = (image - mean) * np.float32(rng.uniform(0.7, 1.15)) + mean
    image = image * gains + np.float32(rng.uniform(-25, 25))
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(2, 7))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _encode(image: np.ndarray) -> bytes:
    # Fixed settings, no optimize/progressive: the bytes depend only on the pixels.
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=_JPEG_QUALITY, subsampling="4:2:0")
    return buffer.getvalue()


# --------------------------------------------------------------------------- writing


class _Job(NamedTuple):
    """A run of consecutive images of one class in one split: one worker task."""

    seed: int
    split: int
    class_idx: int
    start: int
    stop: int
    size: int


def _render_job(job: _Job) -> list[bytes]:
    # The rng key names the image, not its position in any queue: order-independent.
    return [
        _encode(_render(job.class_idx, np.random.default_rng(key), job.size))
        for key in ([job.seed, job.split, job.class_idx, i] for i in range(job.start, job.stop))
    ]


def _jobs(config: SynthConfig) -> list[_Job]:
    counts = (config.per_class, config.val_per_class)
    return [
        _Job(config.seed, split, class_idx, start, min(start + _CHUNK, counts[split]), config.size)
        for split in range(len(_SPLITS))
        for class_idx in range(config.classes)
        for start in range(0, counts[split], _CHUNK)
    ]


def _worker_count(total_images: int) -> int:
    if total_images < _MIN_IMAGES_FOR_POOL:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, 8))


def _rendered(jobs: list[_Job], workers: int) -> Iterator[tuple[_Job, list[bytes]]]:
    """Yield jobs with their JPEG bytes, in job order, from ``workers`` processes.

    Workers are spawned, not forked: the caller may have TensorFlow's threads
    running, and forking a threaded process can deadlock the child.
    """
    if workers <= 1:
        for job in jobs:
            yield job, _render_job(job)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        yield from zip(jobs, pool.map(_render_job, jobs), strict=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _images(config: SynthConfig) -> Iterator[tuple[Path, bytes]]:
    """Relative path and bytes of every image, train split first."""
    jobs = _jobs(config)
    total = config.classes * (config.per_class + config.val_per_class)
    with contextlib.closing(_rendered(jobs, _worker_count(total))) as results:
        for job, blobs in results:
            name = CLASS_NAMES[job.class_idx]
            folder = Path(_SPLITS[job.split], name)
            for index, data in enumerate(blobs, start=job.start):
                yield folder / f"{name}_{index:05d}.jpg", data


def _write_image(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _check_target(out: Path) -> None:
    if not (out.exists() or out.is_symlink()):
        return
    if not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder; choose another output path")
    if any(out.iterdir()):
        raise DataError(
            f"{out}: folder exists and is not empty; delete it or choose another output path"
        )


def _describe(config: SynthConfig) -> str:
    record = {
        "generator": "alexedge.data.synth",
        "config": asdict(config),
        "class_names": list(config.class_names),
    }
    return json.dumps(record, indent=2) + "\n"


def synthesize_dataset(
    config: SynthConfig, out: str | os.PathLike[str], progress: bool = True
) -> Path:
    """Write the synthetic dataset as JPEGs in the folder-per-class layout.

    Produces ``out/train/<class>/<class>_00000.jpg ...``, ``out/val/...`` and
    ``out/synth_config.json``, readable by ``load_dataset(out)``. The dataset is
    built in a hidden sibling folder and renamed into place at the end, so a crash
    or Ctrl-C never leaves a half-written ``out``. With more than a few thousand
    images, rendering runs in spawned worker processes; a script calling this at
    import time therefore needs the usual ``if __name__ == "__main__":`` guard.

    Args:
        config: what to generate; the same config always gives identical bytes.
        out: the dataset folder; must not exist or be empty.
        progress: draw a progress bar on stderr.

    Returns:
        ``out`` as a ``Path``.

    Raises:
        DataError: ``out`` exists and is a file or a non-empty folder.
    """
    out = Path(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _fill(tmp, config, progress)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _fill(tmp: Path, config: SynthConfig, progress: bool) -> None:
    for split in _SPLITS:
        for name in config.class_names:
            (tmp / split / name).mkdir(parents=True)
    total = config.classes * (config.per_class + config.val_per_class)
    with contextlib.closing(_images(config)) as images:
        items = progress_bar(images, "Drawing synthetic images", total) if progress else images
        for relative, data in items:
            _write_image(tmp / relative, data)
    (tmp / "synth_config.json").write_text(_describe(config), encoding="utf-8")


def _publish(tmp: Path, out: Path) -> None:
    # rename(2) replaces an empty directory atomically and refuses a non-empty one, so
    # a folder filled by someone else while we were drawing is never clobbered.
    try:
        os.replace(tmp, out)
    except OSError as e:
        raise DataError(f"{out}: could not move the new dataset into place ({e})") from e
