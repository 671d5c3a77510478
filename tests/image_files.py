"""Write small real image files (good and broken) for dataset and check tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "write_bomb_png",
    "write_image",
    "write_odd_formats",
    "write_truncated_jpeg",
]


def write_image(path: Path, size: int = 8, seed: int = 0, mode: str = "RGB") -> Path:
    """A random-noise image; the format follows the suffix (.jpg, .JPEG, .png, ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    img = Image.fromarray(rgb)
    if mode == "I;16":
        gray = np.random.default_rng(seed).integers(0, 65536, (size, size), dtype=np.uint16)
        img = Image.fromarray(gray)  # 16-bit grayscale PNG
    elif mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


def write_odd_formats(folder: Path) -> list[Path]:
    """CMYK JPEG, grayscale JPEG, RGBA PNG and 16-bit PNG: readable, but not plain RGB."""
    return [
        write_image(folder / "cmyk.jpg", 16, 1, "CMYK"),
        write_image(folder / "gray.jpg", 16, 2, "L"),
        write_image(folder / "rgba.png", 16, 3, "RGBA"),
        write_image(folder / "deep.png", 16, 4, "I;16"),
    ]


def write_truncated_jpeg(path: Path) -> Path:
    full = write_image(path, 64, seed=7).read_bytes()
    path.write_bytes(full[: len(full) // 2])
    return path


def write_bomb_png(path: Path, side: int = 20_000) -> Path:
    """A PNG whose header claims side x side pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    data += chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
