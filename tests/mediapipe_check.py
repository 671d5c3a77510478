"""Classify (or embed) images with MediaPipe Tasks; print the results as JSON.

Runs inside the MediaPipe virtual environment that ``test_mediapipe_compat.py``
builds (mediapipe pins absl-py ~= 2.3, tfmot needs ~= 1.2, so it cannot be imported
beside the project), so it imports nothing from alexedge: the comparison with the
edge runtime happens in the test, in the project's environment.

Usage: ``python mediapipe_check.py MODEL.tflite IMAGE...``; prints one JSON document
``{"mediapipe": version, "results": [{"file", "categories": [{"index", "name", "score"}]}]}``.
``python mediapipe_check.py --embed MODEL.tflite IMAGE...`` runs ``ImageEmbedder`` (no
L2 normalisation, float vectors) and prints ``{"file", "head_name", "embedding": [...]}``
per image.
A model MediaPipe refuses exits non-zero with MediaPipe's own message on stderr.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["--embed"]:
        return embed(argv[1:])
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import ImageClassifier, ImageClassifierOptions

    model, images = argv[0], argv[1:]
    options = ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=model), max_results=5
    )
    results = []
    with ImageClassifier.create_from_options(options) as classifier:
        for path in images:
            found = classifier.classify(mp.Image.create_from_file(path))
            categories = found.classifications[0].categories
            results.append(
                {
                    "file": path,
                    "categories": [
                        {"index": c.index, "name": c.category_name, "score": c.score}
                        for c in categories
                    ],
                }
            )
    json.dump({"mediapipe": mp.__version__, "results": results}, sys.stdout)
    return 0


def embed(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import ImageEmbedder, ImageEmbedderOptions

    model, images = argv[0], argv[1:]
    options = ImageEmbedderOptions(
        base_options=BaseOptions(model_asset_path=model), l2_normalize=False, quantize=False
    )
    results = []
    with ImageEmbedder.create_from_options(options) as embedder:
        for path in images:
            found = embedder.embed(mp.Image.create_from_file(path)).embeddings[0]
            vector = [float(v) for v in found.embedding]
            results.append({"file": path, "head_name": found.head_name, "embedding": vector})
    json.dump({"mediapipe": mp.__version__, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
