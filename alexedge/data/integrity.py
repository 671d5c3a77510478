"""Is an encoded JPEG or PNG intact? One answer for ``data fetch``, ``data check`` and training.

Pillow decodes more than it should. libjpeg reports damaged entropy-coded data
("Corrupt JPEG data: ... extraneous bytes", "bad Huffman code") as warnings and
recovers, and Pillow drops the warnings: a valid JPEG header followed by random bytes
decodes to noise without a word. So JPEGs are decoded a second time by simplejpeg
(the same libjpeg-turbo, with stop-on-warning), at 1/8 scale, which still reads every
entropy-coded byte. Pillow also stops reading a PNG once its rows are full and skips
the CRCs of its pixel chunks, so a PNG is checked by walking its chunks (every CRC)
and inflating the pixel stream in pieces, counting bytes instead of keeping them,
which also bounds memory for huge-dimension images.
"""

from __future__ import annotations

import struct
import zlib

import simplejpeg

from alexedge.errors import DataError

__all__ = ["CorruptImage", "check_jpeg", "check_png", "corrupt_reason"]

_JPEG_SOI = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SCALE = 8  # the smallest DCT scale libjpeg offers
# simplejpeg decodes to these from each JPEG colour space; CMYK only to CMYK.
_JPEG_OUTPUT = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}
_INFLATE_PIECE = 1 << 20
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x0, y0, dx, dy).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)


class CorruptImage(DataError):
    """The bytes of a JPEG or PNG are damaged although a lenient decoder may accept them."""


def corrupt_reason(data: bytes) -> str | None:
    """Why a JPEG or PNG is corrupt, or None if it is intact or another format."""
    try:
        if data.startswith(_JPEG_SOI):
            check_jpeg(data)
        elif data.startswith(_PNG_SIGNATURE):
            check_png(data)
    except CorruptImage as e:
        return f"corrupt data ({e})"
    return None


def check_jpeg(data: bytes) -> None:
    """Decode at 1/8 scale with libjpeg's warnings as errors.

    Raises:
        CorruptImage: libjpeg warned or failed; the message is libjpeg's.
    """
    try:
        _, _, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        output = _JPEG_OUTPUT.get(colorspace, "RGB")
        simplejpeg.decode_jpeg(data, colorspace=output, min_factor=_JPEG_SCALE, strict=True)
    except ValueError as e:
        raise CorruptImage(str(e)) from e


def check_png(data: bytes) -> None:
    """Walk the chunks, check each CRC, and inflate IDAT without keeping the pixels.

    Raises:
        CorruptImage: Truncated before IEND, a CRC mismatch, or pixel data that does
            not inflate to exactly what the header declares.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise CorruptImage("no PNG signature")
    view = memoryview(data)
    pos, expected, produced = len(_PNG_SIGNATURE), -1, 0
    inflater = zlib.decompressobj()
    while True:
        if pos + 12 > len(data):
            raise CorruptImage("truncated before the IEND chunk")
        length, kind = struct.unpack(">I4s", view[pos : pos + 8])
        body = view[pos + 8 : pos + 8 + length]
        end = pos + 12 + length
        if end > len(data) or zlib.crc32(body, zlib.crc32(kind)) != _u32(view, end - 4):
            raise CorruptImage(f"bad CRC in a {kind!r} chunk")
        if kind == b"IHDR":
            expected = _png_raw_size(bytes(body))
        elif kind == b"IDAT":
            produced += _inflated_size(inflater, body, expected - produced)
        elif kind == b"IEND":
            break
        pos = end
    if produced != expected or not inflater.eof:
        raise CorruptImage(f"pixel data inflates to {produced} bytes, the header says {expected}")


def _u32(view: memoryview, pos: int) -> int:
    return struct.unpack(">I", view[pos : pos + 4])[0]


def _inflated_size(inflater: zlib._Decompress, body: memoryview, room: int) -> int:
    try:
        produced = len(inflater.decompress(body, _INFLATE_PIECE))
        while inflater.unconsumed_tail and produced <= room:
            produced += len(inflater.decompress(inflater.unconsumed_tail, _INFLATE_PIECE))
    except zlib.error as e:
        raise CorruptImage(f"pixel data does not inflate ({e})") from e
    if produced > room:
        raise CorruptImage("more pixel data than the header declares")
    return produced


def _png_raw_size(ihdr: bytes) -> int:
    """Bytes the IDAT stream must inflate to: each row's filter byte plus its samples."""
    if len(ihdr) < 13:
        raise CorruptImage("IHDR chunk too short")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", ihdr[:13])
    if color not in _PNG_CHANNELS:
        raise CorruptImage(f"unknown PNG colour type {color}")
    bits = _PNG_CHANNELS[color] * depth

    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    if not interlace:
        return rows(width, height)
    return sum(
        rows(
            -(-(width - x0) // dx) if width > x0 else 0,
            -(-(height - y0) // dy) if height > y0 else 0,
        )
        for x0, y0, dx, dy in _ADAM7
    )
