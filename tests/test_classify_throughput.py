"""``alexedge classify DIR`` decodes in a worker pool and batches, yet prints what one-by-one would.

Three tiny 16x16 models built here (dynamic-batch float32 and uint8, fixed-batch
float32) classify a folder of 40 varied images; every line must match
``Classifier.classify`` on each file alone, in the same order.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading

import numpy as np
import pytest
from PIL import Image
from tflite_models import to_tflite

from alexedge.data.files import list_images
from alexedge.edge_runtime import classify_command
from alexedge.edge_runtime.classifier import Classifier, Prediction
from alexedge.edge_runtime.classify_command import run_classify

SIZE = 16
CLASSES = 5
COUNT = 40


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import tf_keras as keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    peaked = keras.initializers.RandomNormal(0.0, 3.0)  # image-dependent rankings
    outputs = keras.layers.Dense(CLASSES, activation="softmax", kernel_initializer=peaked)(x)
    model = keras.Model(inputs, outputs)
    root = tmp_path_factory.mktemp("classify_models")
    paths = {}
    for kind in ("float32", "uint8", "fixed"):
        paths[kind] = root / f"{kind}.tflite"
        paths[kind].write_bytes(
            to_tflite(
                model,
                fixed_batch=kind == "fixed",
                quantize="uint8" if kind == "uint8" else "float32",
            )
        )
    return paths


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """40 smooth random images of varied sizes and formats, some in a subfolder."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(7)
    for i in range(COUNT):
        coarse = rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)
        width, height = (int(v) for v in rng.integers(18, 60, 2))
        image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)
        where = root / "sub" if i % 3 == 0 else root
        where.mkdir(exist_ok=True)
        image.save(where / f"img{i:02d}.{'png' if i % 4 == 0 else 'jpg'}")
    return root


def _run(model, inputs, **options) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_classify(model, inputs, out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def _result_text(path, predictions: list[Prediction], as_json: bool) -> str:
    """What classify prints for one image, from ``Classifier.classify``'s own objects."""
    if as_json:
        ranked = [dataclasses.asdict(p) for p in predictions]
        return json.dumps({"path": str(path), "predictions": ranked}, ensure_ascii=False) + "\n"
    return "\n".join([str(path), *map(str, predictions)]) + "\n"


def _one_by_one(model, paths, top: int, as_json: bool, **options) -> str:
    classifier = Classifier(model, **options)
    return "".join(_result_text(p, classifier.classify(p, top), as_json) for p in paths)


@pytest.mark.parametrize("kind", ["float32", "uint8", "fixed"])
def test_folder_prints_exactly_what_one_by_one_prints(models, folder, kind, monkeypatch):
    paths = list_images(folder)
    expected = {as_json: _one_by_one(models[kind], paths, 3, as_json) for as_json in (False, True)}
    sizes: list[int] = []
    threads: set[str] = set()
    predict, preprocess = Classifier.predict, Classifier.preprocess

    def spy_predict(self, batch):
        sizes.append(len(batch))
        return predict(self, batch)

    def spy_preprocess(self, source):
        threads.add(threading.current_thread().name)
        return preprocess(self, source)

    monkeypatch.setattr(Classifier, "predict", spy_predict)
    monkeypatch.setattr(Classifier, "preprocess", spy_preprocess)
    for as_json in (False, True):
        code, out, err = _run(models[kind], [folder], top=3, as_json=as_json)
        assert (code, err) == (0, "")
        assert out.splitlines() == expected[as_json].splitlines()
    lines = out.splitlines()
    assert len(lines) == COUNT and json.loads(lines[0])["path"] == str(paths[0])
    # Batched (the chunks hold many images) and decoded off the main thread.
    assert max(sizes) > 1
    assert threads and all(name.startswith("alexedge-classify") for name in threads)


def test_corrupt_image_costs_one_line_and_the_rest_print(models, folder, tmp_path):
    images = list_images(folder)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(images[1].read_bytes()[:40])  # a header and nothing else
    inputs = [*images[:20], bad, *images[20:]]
    code, out, err = _run(models["float32"], inputs, top=2)
    assert code == 1
    assert len(err.splitlines()) == 1 and str(bad) in err and err.startswith("error: ")
    expected = _one_by_one(models["float32"], [*images[:20], *images[20:]], 2, False)
    assert out == expected


def test_images_in_flight_are_bounded(models, folder, monkeypatch):
    """Never more than a window plus a chunk decoded ahead of what is printed."""
    monkeypatch.setattr(classify_command, "_CHUNK", 2)
    monkeypatch.setattr(classify_command, "_WINDOW", 4)
    started = 0
    ahead: list[int] = []
    lock = threading.Lock()
    preprocess = Classifier.preprocess

    def counting(self, source):
        nonlocal started
        with lock:
            started += 1
        return preprocess(self, source)

    class Tracking(io.StringIO):
        printed = 0

        def write(self, text: str) -> int:
            if text.startswith("{"):
                with lock:
                    ahead.append(started - self.printed)
                self.printed += 1
            return super().write(text)

    monkeypatch.setattr(Classifier, "preprocess", counting)
    out = Tracking()
    code = run_classify(models["float32"], [folder], as_json=True, out=out, workers=4)
    assert code == 0 and out.printed == COUNT
    assert max(ahead) <= 4 + 2


def test_workers_below_one_is_refused(models, folder):
    code, out, err = _run(models["float32"], [folder], workers=0)
    assert (code, out) == (2, "") and "--workers" in err and len(err.splitlines()) == 1


def test_mean_std_and_resize_reach_the_classifier(models, folder):
    images = list_images(folder)[:5]
    options = {"mean": 127.5, "std": 127.5, "resize": "squash"}
    code, out, _ = _run(models["float32"], images, top=3, **options)
    assert code == 0 and out == _one_by_one(models["float32"], images, 3, False, **options)
    assert out != _run(models["float32"], images, top=3)[1]
