"""Classify images with MediaPipe Tasks ``ImageClassifier``; print the results as JSON.

Runs inside the MediaPipe virtual environment that ``test_mediapipe_compat.py``
builds (mediapipe pins absl-py ~= 2.3, tfmot needs ~= 1.2, so it cannot be imported
beside the project), so it imports nothing from alexedge: the comparison with the
edge runtime happens in the test, in the project's environment.

Usage: ``python mediapipe_check.py MODEL.tflite IMAGE...``; prints one JSON document
``{"mediapipe": version, "results": [{"file", "categories": [{"index", "name", "score"}]}]}``.
A model MediaPipe refuses exits non-zero with MediaPipe's own message on stderr.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
