"""``alexedge classify MODEL IMAGE_OR_DIR...``: the command behind the CLI wrapper.

Lives here rather than in ``cli.py`` so that it runs with only the edge extra
installed and can be tested without Typer. A bad image costs one line on stderr
and the batch goes on (exit 1 at the end); a bad model stops at once (exit 2),
since nothing after it could succeed.

Folders of photos are bound by decoding, not by the model: a 400 px JPEG takes
longer to decode and resize than a 64x64 model takes to run. So worker threads
decode and preprocess ahead (Pillow releases the GIL while decoding and
resizing) while the main thread runs the model on the images before them, in
chunks of ``_CHUNK`` (one invoke per chunk when the model's batch is dynamic,
``Classifier.predict`` splits it otherwise). At most ``_WINDOW`` images are in
flight, so memory does not grow with the folder; results come out in input order.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

import numpy as np

from alexedge.data.files import list_images
from alexedge.edge_runtime.classifier import Classifier, prediction_text, read_labels
from alexedge.errors import AlexEdgeError, DataError
from alexedge.metrics import ranked_classes

__all__ = ["EXIT_BAD_IMAGES", "EXIT_BAD_MODEL", "EXIT_OK", "default_workers", "run_classify"]

EXIT_OK = 0
EXIT_BAD_IMAGES = 1
EXIT_BAD_MODEL = 2

# Images per predict call: enough to amortize an invoke's fixed cost on small
# models, small enough that the first results print at once.
_CHUNK = 16
# Images decoded or decoding ahead of the one being printed: one chunk being
# predicted while the next is prepared.
_WINDOW = 2 * _CHUNK


def default_workers() -> int:
    """Decoding threads: one per core, at most 4 (the main thread needs a core to invoke)."""
    return max(1, min(4, os.cpu_count() or 1))


def run_classify(
    model: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    labels_file: str | os.PathLike[str] | None = None,
    top: int = 5,
    as_json: bool = False,
    threads: int | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    resize: str = "crop",
    workers: int | None = None,
) -> int:
    """Classify image files and folders (walked recursively) and print the results.

    Text mode prints each image's path, then ``label - score: 0.5758`` lines,
    highest first. JSON mode prints one object per image per line:
    ``{"path": ..., "predictions": [{"label", "index", "score"}, ...]}``. Images
    are printed in the order given (folders in ``list_images`` order), each with
    the same result as ``Classifier.classify`` would give it alone.

    Args:
        model: the ``.tflite`` file.
        inputs: image files and folders.
        labels_file: class names, one a line; overrides the model's own labels.
        top: how many classes to print per image.
        as_json: print JSON lines instead of text.
        threads: interpreter CPU threads.
        out: where results go (default: ``sys.stdout`` at call time).
        err: where problems go, one line each (default: ``sys.stderr``).
        mean: normalization passed to ``Classifier`` (default: the model's own).
        std: normalization passed to ``Classifier`` (default: the model's own).
        resize: ``crop`` or ``squash``, passed to ``Classifier``.
        workers: image decoding threads (default: ``default_workers()``).

    Returns:
        0 if every image was classified, 1 if some image failed, 2 if the model,
        its labels or the options cannot be used.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if top < 1:
        print(f"error: --top must be at least 1, got {top}", file=err)
        return EXIT_BAD_MODEL
    if workers is not None and workers < 1:
        print(f"error: --workers must be at least 1, got {workers}", file=err)
        return EXIT_BAD_MODEL
    try:
        labels = read_labels(labels_file) if labels_file is not None else None
        classifier = Classifier(model, labels, threads=threads, mean=mean, std=std, resize=resize)
    except AlexEdgeError as e:
        print(f"error: {e}", file=err)
        return EXIT_BAD_MODEL
    failed = 0
    with ThreadPoolExecutor(workers or default_workers(), "alexedge-classify") as pool:
        prepared = _prepared_in_order(pool, classifier.preprocess, _image_paths(inputs))
        for chunk in _chunks(prepared, _CHUNK):
            failed += _classify_chunk(classifier, chunk, top, as_json, out, err)
    return EXIT_BAD_IMAGES if failed else EXIT_OK


# One image on its way through: its path, then its model input or why it has none.
_Item = tuple[Path, np.ndarray | None, str | None]


def _prepared_in_order(
    pool: ThreadPoolExecutor,
    preprocess: Callable[[Path], np.ndarray],
    paths: Iterable[tuple[Path, str | None]],
) -> Iterator[_Item]:
    """Preprocess in the pool, at most ``_WINDOW`` ahead, yielding in input order."""
    pending: deque[tuple[Path, Future[np.ndarray | str] | None, str | None]] = deque()
    for path, problem in paths:
        job = None if problem is not None else pool.submit(_try_preprocess, preprocess, path)
        pending.append((path, job, problem))
        if len(pending) >= _WINDOW:
            yield _settle(*pending.popleft())
    while pending:
        yield _settle(*pending.popleft())


def _try_preprocess(preprocess: Callable[[Path], np.ndarray], path: Path) -> np.ndarray | str:
    try:
        return preprocess(path)
    except DataError as e:
        return str(e)


def _settle(path: Path, job: Future[np.ndarray | str] | None, problem: str | None) -> _Item:
    if job is None:
        return path, None, problem
    result = job.result()
    return (path, None, result) if isinstance(result, str) else (path, result, None)


def _chunks(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    chunk: list[_Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _classify_chunk(
    classifier: Classifier, chunk: list[_Item], top: int, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """Predict the chunk's good images in one call, print every item in order; count failures.

    Problems are printed in their place among the results, so a terminal showing
    both streams reads in input order, as it did one image at a time.
    """
    good = [pixels for _, pixels, _ in chunk if pixels is not None]
    ranked = _ranked_rows(classifier, good, top) if good else iter(())
    labels = classifier.labels
    failed = 0
    for path, pixels, problem in chunk:
        if pixels is None:
            print(f"error: {problem}", file=err)
            failed += 1
        else:
            _print_result(out, path, labels, *next(ranked), as_json)
    return failed


def _ranked_rows(
    classifier: Classifier, good: list[np.ndarray], top: int
) -> Iterator[tuple[list[int], list[float]]]:
    """Each image's ``top`` class indices, best first, and their scores, from one predict.

    The same order (one ``ranked_classes`` sort for the chunk; ties: lower index
    first) and the same float32 scores as ``Classifier.top_k``, in plain lists and
    without ``Prediction`` objects: right after an invoke every numpy call and object
    runs on cold caches, and a 64x64 int8 model invokes in about 130 us an image.
    """
    batch = good[0][None] if len(good) == 1 else np.stack(good)
    probs = classifier.predict(batch)
    order = ranked_classes(probs, top).tolist()
    rows = probs.tolist()
    return ((row, [scores[i] for i in row]) for row, scores in zip(order, rows, strict=True))


def _image_paths(inputs: Sequence[str | os.PathLike[str]]) -> Iterator[tuple[Path, str | None]]:
    """Each path to classify, or a path with the reason it yields no image."""
    if not inputs:
        yield Path("."), "no image or folder given"
    for item in map(Path, inputs):
        if item.is_dir():
            images = list_images(item)
            if not images:
                yield item, f"{item}: no images found in this folder"
            yield from ((image, None) for image in images)
        elif not item.exists():
            yield item, f"{item}: no such file or folder"
        else:
            yield item, None


def _print_result(
    out: TextIO,
    path: Path,
    labels: Sequence[str],
    indices: list[int],
    scores: list[float],
    as_json: bool,
) -> None:
    """One image's ranked classes in one write, so a pipe never sees half of it.

    Text lines are ``str(Prediction(...))`` of each class, written without the objects.
    """
    if as_json:
        ranked = [
            {"label": labels[i], "index": i, "score": score}
            for i, score in zip(indices, scores, strict=True)
        ]
        text = json.dumps({"path": str(path), "predictions": ranked}, ensure_ascii=False)
    else:
        lines = map(prediction_text, [labels[i] for i in indices], scores)
        text = "\n".join([str(path), *lines])
    out.write(text + "\n")
