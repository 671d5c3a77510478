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
from alexedge.edge_runtime.classifier import Classifier, Prediction, read_labels
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
    ranked = iter(_top_k_rows(classifier, np.stack(good), top) if good else ())
    failed = 0
    for path, pixels, problem in chunk:
        if pixels is None:
            print(f"error: {problem}", file=err)
            failed += 1
        else:
            _print_result(out, path, next(ranked), as_json)
    return failed


def _top_k_rows(classifier: Classifier, batch: np.ndarray, top: int) -> list[list[Prediction]]:
    """``Classifier.top_k`` of every row of ``predict(batch)``, ranked in one sort.

    A 64x64 int8 model invokes in about 150 us an image; ``top_k`` row by row
    costs 9 us of it, one ``ranked_classes`` sort for the chunk and ``tolist`` 4 us,
    with the same order (ties: lower index first) and the same float32 scores.
    """
    probs = classifier.predict(batch)
    order = ranked_classes(probs, top).tolist()
    labels = classifier.labels
    return [
        [Prediction(labels[i], i, scores[i]) for i in row]
        for row, scores in zip(order, probs.tolist(), strict=True)
    ]


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


def _print_result(out: TextIO, path: Path, predictions: list[Prediction], as_json: bool) -> None:
    """One image's result in one write, so a pipe never sees half of it."""
    if as_json:
        ranked = [{"label": p.label, "index": p.index, "score": p.score} for p in predictions]
        text = json.dumps({"path": str(path), "predictions": ranked}, ensure_ascii=False)
    else:
        text = "\n".join([str(path), *map(str, predictions)])
    out.write(text + "\n")
