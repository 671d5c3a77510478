"""Where the tf.data pipelines get base images: from memory, or decoded from files.

Both sources give ``(base image (S, S, 3) uint8, label int32)`` elements, so the
training augmentation and the evaluation crops are one piece of code whatever the
source. A ``FileSplit`` is decoded by ``read_base_image`` (Pillow, through
``tf.numpy_function`` in a parallel map: Pillow releases the GIL), so streamed pixels
are exactly ``decode_split``'s; unreadable files are filtered out of the stream and
named once on stderr.

With a cache folder, ``Dataset.cache`` writes the decoded base images there on the
first full pass and later passes (and resumed runs) read them back instead of
decoding. A file cache can only be read in the order it was written, so a cached
training stream is written in one fixed permutation and reshuffled every pass
through a buffer of ``SHUFFLE_BUFFER_BYTES``, the usual trade of record-file
pipelines; without a cache every pass reshuffles all the paths, exactly as the
in-memory source reshuffles all the images.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import numpy as np
import tensorflow as tf

from alexedge.data.decode import DecodedSplit, decode_workers, read_base_image
from alexedge.data.stream import FileSplit, SkipLog, Split, prepare_cache_dir
from alexedge.errors import DataError
from alexedge.progress import say

__all__ = [
    "SHUFFLE_BUFFER_BYTES",
    "TrainingSource",
    "cache_prefix",
    "eval_images",
    "training_images",
]

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER_BYTES = 1 << 30  # decoded images held for shuffling a cached stream
_CACHE_ORDER_SEED = 20120000  # the cached permutation; independent of the run's seed
# Files decoded per Python call: 2,200 -> 4,100 img/s streaming Tiny ImageNet's
# 64x64 JPEGs on 2 cores (1 file per call: the call overhead dominated).
DECODE_CHUNK = 64


class TrainingSource:
    """A training split as a dataset built once, and one shuffled pass of it per seed.

    Built eagerly, outside any ``tf.data`` function, so the images (or the paths of a
    large split) are captured by reference, never copied into a function graph;
    ``epoch(seed)`` makes one pass of it per epoch from the same source. An
    uncached ``FileSplit`` shuffles its paths with the same op, seed and size as a
    ``DecodedSplit`` of the same files shuffles its images, so both give the same order.
    """

    def __init__(self, split: Split, cache_dir: str = "") -> None:
        self.split = split
        self._buffer = len(split)
        self._decode_after_shuffle = isinstance(split, FileSplit) and not cache_dir
        if isinstance(split, DecodedSplit):
            self._base = tf.data.Dataset.from_tensor_slices((split.images, split.labels))
        elif not cache_dir:
            self._base = _paths(split)
        else:
            # Written in a permutation that does not depend on the seed, so every epoch
            # (and a resumed run) reads the cache the first pass wrote.
            order = np.random.default_rng(_CACHE_ORDER_SEED).permutation(len(split))
            self._base = _cached(_decoded(_paths(split, order), split), split, cache_dir, "train")
            self._buffer = max(1, min(len(split), SHUFFLE_BUFFER_BYTES // (split.base_size**2 * 3)))

    def epoch(self, seed: int) -> tf.data.Dataset:
        """One pass in the order ``seed`` fixes (reshuffled again if iterated again)."""
        data = self._base.shuffle(self._buffer, seed=seed, reshuffle_each_iteration=True)
        if self._decode_after_shuffle:  # paths: shuffled, then decoded
            return _decoded(data, self.split)
        return data


def training_images(split: Split, seed: int, cache_dir: str = "") -> tf.data.Dataset:
    """Base images and labels, reshuffled every pass; the order is fixed by ``seed``.

    ``cache_dir`` applies to a ``FileSplit`` only.
    """
    return TrainingSource(split, cache_dir).epoch(seed)


def eval_images(split: FileSplit, cache_dir: str = "") -> tf.data.Dataset:
    """The readable base images and labels of ``split`` in file order, decoded per pass."""
    data = _decoded(_paths(split), split)
    return _cached(data, split, cache_dir, "eval") if cache_dir else data


def _paths(split: FileSplit, order: np.ndarray | None = None) -> tf.data.Dataset:
    # Bytes, not str: file names that are not valid UTF-8 survive the round trip.
    paths = np.array([os.fsencode(p) for p in split.paths], dtype=object)
    labels = split.labels
    if order is not None:
        paths, labels = paths[order], labels[order]
    return tf.data.Dataset.from_tensor_slices((paths, labels))


def _decoded(paths: tf.data.Dataset, split: FileSplit) -> tf.data.Dataset:
    """Decode in chunks of up to ``DECODE_CHUNK`` files per ``numpy_function`` call, in order.

    One call per file spent more time in the Python call than in decoding a small
    JPEG; chunks amortize it (see ``DECODE_CHUNK``). A small split gets smaller
    chunks, so tf.data still has several to decode at once (100 files in chunks of
    64 kept only two threads busy).
    """
    skips = SkipLog()
    base_size = split.base_size
    chunk_size = max(1, min(DECODE_CHUNK, len(split) // (4 * decode_workers())))

    def decode(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.zeros((len(chunk), base_size, base_size, 3), np.uint8)
        ok = np.zeros(len(chunk), np.bool_)
        for i, path in enumerate(chunk):
            name = os.fsdecode(path)
            result = read_base_image(name, base_size)
            if isinstance(result, str):
                skips(name, result)
            else:
                images[i], ok[i] = result, True
        return images, ok

    def tf_decode(chunk: tf.Tensor, labels: tf.Tensor):
        images, ok = tf.numpy_function(decode, [chunk], [tf.uint8, tf.bool], name="read_base_image")
        images.set_shape([None, base_size, base_size, 3])
        ok.set_shape([None])
        return images, labels, ok

    data = paths.batch(chunk_size).map(tf_decode, num_parallel_calls=AUTOTUNE)
    return data.unbatch().filter(_readable).map(_without_flag)


def _readable(image: tf.Tensor, label: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
    return ok


def _without_flag(image: tf.Tensor, label: tf.Tensor, ok: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return image, label


def cache_prefix(split: FileSplit, cache_dir: str | Path, kind: str) -> Path:
    """The cache file prefix for ``split``: a digest of its files, labels and base size.

    A different subset, label order or input size gets its own cache. Images edited in
    place under the same name are not noticed: delete the cache folder after that.
    """
    digest = hashlib.sha256(f"{kind}\n{split.base_size}\n".encode())
    for path, label in zip(split.paths, split.labels, strict=True):
        digest.update(os.fsencode(path) + f"\t{int(label)}\n".encode())
    name = f"{kind}-{split.base_size}px-{len(split)}-{digest.hexdigest()[:16]}"
    return Path(cache_dir) / name


def _cached(data: tf.data.Dataset, split: FileSplit, cache_dir: str, kind: str) -> tf.data.Dataset:
    folder = prepare_cache_dir(cache_dir)
    assert folder is not None
    prefix = cache_prefix(split, folder, kind)
    # ``PREFIX.index`` appears when a first pass has finished writing. TensorFlow logs
    # "did not fully read the dataset being cached" even after a complete pass
    # (tensorflow/tensorflow#60174): the index, not that warning, says what was kept.
    if prefix.with_name(prefix.name + ".index").is_file():
        say(f"reading decoded {kind} images from the cache {prefix}")
    else:
        _claim_unfinished_cache(prefix)
        say(f"caching decoded {kind} images in {prefix} during the first pass")
    return data.cache(str(prefix))


def _claim_unfinished_cache(prefix: Path) -> None:
    """Remove what a killed writer left, unless another live process is writing it now.

    TensorFlow refuses to write a cache whose lock file exists, and a killed run
    leaves one behind: without this, a run killed during its first epoch could not
    resume. Our own ``.writer`` file says which process is writing.
    """
    writer = prefix.with_name(prefix.name + ".writer")
    me = f"{os.getpid()}@{socket.gethostname()}"
    if writer.is_file():
        owner = writer.read_text().strip()
        if owner != me and _is_alive(owner):
            raise DataError(
                f"{prefix}: another process ({owner}) is writing this cache; wait for its "
                f"first epoch to end, or delete {writer} if that process is gone"
            )
    # ``PREFIX_<shard>.*`` while writing; ``PREFIX.data-*`` if killed while finishing.
    leftovers = sorted(prefix.parent.glob(f"{prefix.name}_*"))
    leftovers += sorted(prefix.parent.glob(f"{prefix.name}.data-*"))
    if leftovers:
        say(f"removing an unfinished cache: {prefix}")
    for path in leftovers:
        path.unlink(missing_ok=True)
    writer.write_text(me + "\n")


def _is_alive(owner: str) -> bool:
    pid, _, host = owner.partition("@")
    if host != socket.gethostname():
        return True  # cannot tell from here; assume it is
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
