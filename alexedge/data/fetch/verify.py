"""Is a download a usable image? Answered with bounded memory, from worker threads.

Fully decoding every download to check it is what let eight 9000x9000 PNGs of
100 KB each take 6.5 GB. So: the header gives format, size and mode without
decoding; a PNG is checked by walking its chunks (``alexedge.data.integrity``),
never holding its pixels; a JPEG decodes at 1/8 scale (libjpeg's DCT scaling,
Pillow's ``draft``), which still reads every byte, so truncation shows, and then
again with libjpeg's corrupt-data warnings as errors (``corrupt``), the rule
``data check`` and training apply too; other formats decode at full size. Every
decode holds its estimated bytes from a shared ``DecodeBudget``, so the workers
together never decode more than the budget at once.

No ``warnings`` calls here: filters are process-wide and not thread-safe. The
pixel cap is checked explicitly; ``fetch_dataset`` silences Pillow's
DecompressionBombWarning once, from the main thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import threading
from collections.abc import Callable, Iterator

from PIL import Image

from alexedge.data.fetch.types import Failure
from alexedge.data.files import IMAGE_SUFFIXES
from alexedge.data.integrity import CorruptImage, check_jpeg, check_png
from alexedge.preprocess import MAX_IMAGE_PIXELS

__all__ = ["DecodeBudget", "check_content"]

# MPO is how Pillow reports multi-picture JPEGs from cameras, common on photo sites.
_FORMAT_SUFFIX = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
}
_JPEG_SCALE = 8  # the smallest DCT scale libjpeg offers
_TRIM_ABOVE = 32 << 20  # below this a decode leaves too little behind to be worth a trim


class DecodeBudget:
    """A semaphore counted in bytes of decoded pixels, shared by all workers."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        """Wait until ``nbytes`` fit; an image larger than the budget waits to run alone."""
        nbytes = min(max(nbytes, 1), self._budget)
        with self._cond:
            while self._used + nbytes > self._budget:
                self._cond.wait()
            self._used += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._used -= nbytes
                self._cond.notify_all()


def check_content(data: bytes, min_bytes: int, budget: DecodeBudget) -> str:
    """Return the file suffix for the image's format, or raise the reason to drop it."""
    if len(data) < min_bytes:
        raise Failure("too_small")
    try:
        with Image.open(io.BytesIO(data)) as img:
            suffix = _FORMAT_SUFFIX.get(img.format or "")
            if suffix is None or suffix not in IMAGE_SUFFIXES:
                raise Failure("unsupported_format")
            width, height = img.size
            if width < 1 or height < 1:
                raise Failure("not_image")
            if width * height > MAX_IMAGE_PIXELS:
                raise Failure("too_many_pixels")
            if img.format == "PNG":
                check_png(data)
            else:
                _decode_small(img, data, budget)
        return suffix
    except Failure:
        raise
    except CorruptImage as e:  # a PNG whose chunks do not add up
        raise Failure("not_image") from e
    except Image.DecompressionBombError as e:
        raise Failure("too_many_pixels") from e
    # The bytes are from strangers: a decoder crash means "not a usable image" and
    # must not end a run of a million URLs.
    except Exception as e:
        raise Failure("not_image") from e


def _decode_small(img: Image.Image, data: bytes, budget: DecodeBudget) -> None:
    width, height = img.size
    extra = 0
    jpeg = img.format in ("JPEG", "MPO")
    if jpeg:
        if img.info.get("progressive"):  # libjpeg keeps every coefficient: 2 bytes a sample
            extra = width * height * len(img.getbands()) * 2
        img.draft(None, (max(1, width // _JPEG_SCALE), max(1, height // _JPEG_SCALE)))
        copies = 1
    else:
        copies = 2  # WebP and TIFF decoders hand Pillow a buffer it then copies
    reduced_w, reduced_h = img.size
    pixel_bytes = 1 if img.mode in ("1", "L", "P") else 4  # Pillow pads RGB to 4 bytes
    estimate = reduced_w * reduced_h * pixel_bytes * copies + extra
    with budget.hold(estimate):
        img.load()
        img.close()  # free the pixels while the budget still counts them
        if jpeg:
            _check_strictly(data)
    if estimate >= _TRIM_ABOVE:
        _return_freed_memory()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator returns memory its own way
        return None


def _return_freed_memory() -> None:
    """Give a large decode's freed pages back to the OS.

    glibc keeps one heap per thread and rarely shrinks it: eight workers that each
    once decoded a 9000x9000 image held 2.2 GB between them although only one
    decoded at a time (measured); ``malloc_trim`` returns the free pages (0.4 GB).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _check_strictly(data: bytes) -> None:
    """A JPEG Pillow decoded may still be noise: libjpeg's warnings decide."""
    try:
        check_jpeg(data)
    except CorruptImage as e:
        raise Failure("corrupt") from e
