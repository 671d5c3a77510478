"""``alexedge classify MODEL IMAGE_OR_DIR...``: the command behind the CLI wrapper.

Lives here rather than in ``cli.py`` so that it runs with only the edge extra
installed and can be tested without Typer. A bad image costs one line on stderr
and the batch goes on (exit 1 at the end); a bad model stops at once (exit 2),
since nothing after it could succeed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from alexedge.data.files import list_images
from alexedge.edge_runtime.classifier import Classifier, Prediction, read_labels
from alexedge.errors import AlexEdgeError

__all__ = ["EXIT_BAD_IMAGES", "EXIT_BAD_MODEL", "EXIT_OK", "run_classify"]

EXIT_OK = 0
EXIT_BAD_IMAGES = 1
EXIT_BAD_MODEL = 2


def run_classify(
    model: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    labels_file: str | os.PathLike[str] | None = None,
    top: int = 5,
    as_json: bool = False,
    threads: int | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Classify image files and folders (walked recursively) and print the results.

    Text mode prints each image's path, then ``label - score: 0.5758`` lines,
    highest first. JSON mode prints one object per image per line:
    ``{"path": ..., "predictions": [{"label", "index", "score"}, ...]}``.

    Args:
        model: the ``.tflite`` file.
        inputs: image files and folders.
        labels_file: class names, one a line; overrides a ``labels.txt`` beside
            the model.
        top: how many classes to print per image.
        as_json: print JSON lines instead of text.
        threads: interpreter CPU threads.
        out: where results go (default: ``sys.stdout`` at call time).
        err: where problems go, one line each (default: ``sys.stderr``).

    Returns:
        0 if every image was classified, 1 if some image failed, 2 if the model,
        its labels or the options cannot be used.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if top < 1:
        print(f"error: --top must be at least 1, got {top}", file=err)
        return EXIT_BAD_MODEL
    try:
        labels = read_labels(labels_file) if labels_file is not None else None
        classifier = Classifier(model, labels, threads=threads)
    except AlexEdgeError as e:
        print(f"error: {e}", file=err)
        return EXIT_BAD_MODEL
    failed = 0
    for path, problem in _image_paths(inputs):
        if problem is None:
            try:
                predictions = classifier.classify(path, top)
            except AlexEdgeError as e:
                problem = str(e)
            else:
                _print_result(out, path, predictions, as_json)
                continue
        print(f"error: {problem}", file=err)
        failed += 1
    return EXIT_BAD_IMAGES if failed else EXIT_OK


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
    if as_json:
        ranked = [{"label": p.label, "index": p.index, "score": p.score} for p in predictions]
        print(json.dumps({"path": str(path), "predictions": ranked}, ensure_ascii=False), file=out)
        return
    print(path, file=out)
    for prediction in predictions:
        print(prediction, file=out)
