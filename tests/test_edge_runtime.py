"""The edge runtime against real TFLite files built here with the stock converter.

Each variant (float32, float16, full int8 with uint8 or int8 I/O, a logits model, a
fixed-batch model and a "third-party" uint8 model that expects [-1, 1] input and
ends in logits) is checked twice: against the interpreter's raw outputs after
(de)quantization, and against the Keras model it came from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter
from PIL import Image
from tflite_models import tiny_classifier, to_tflite

from alexedge.data import Sample
from alexedge.edge_runtime import (
    Classifier,
    Prediction,
    evaluate_tflite,
    load_interpreter,
    predict_images,
    read_labels,
    run_classify,
)
from alexedge.edge_runtime import interpreter as interpreter_module
from alexedge.edge_runtime.classifier import (
    _dequantization_table,
    _softmax_unless_probabilities,
    _Tensor,
)
from alexedge.errors import ConfigError, DataError, ModelError
from alexedge.preprocess import eval_transform

SIZE = 32
CLASSES = 10
# TensorFlow's own interpreter warns that it is deprecated: that is why it is tried last.
_TF_LITE_DEPRECATED = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
VARIANTS = ("float32", "float16", "uint8", "int8", "logits", "fixed", "thirdparty")


def _images(count: int, seed: int) -> np.ndarray:
    """Smooth random colour fields: varied enough to move a tiny net's logits."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(count, 4, 4, 3), dtype=np.uint8)
    smooth = [Image.fromarray(c).resize((SIZE, SIZE), Image.Resampling.BILINEAR) for c in coarse]
    return np.stack([np.asarray(image) for image in smooth])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every variant as a .tflite in its own folder, with the Keras model it came from.

    The Keras entry is a function from uint8 pixels to what the model should output
    as probabilities, so tests can compare without knowing the variant.
    """
    import tensorflow as tf

    ours = tiny_classifier(SIZE, CLASSES, scale=1 / 127.5, convs=2, seed=0)
    logits = tiny_classifier(SIZE, CLASSES, scale=1 / 127.5, convs=2, softmax=False, seed=1)
    third = tiny_classifier(SIZE, CLASSES, scale=None, convs=2, softmax=False, seed=2)
    calibration = _images(32, seed=1).astype(np.float32)
    files = {
        "float32": to_tflite(ours),
        "float16": to_tflite(ours, quantize="float16"),
        "uint8": to_tflite(ours, quantize="uint8", calibration=calibration),
        "int8": to_tflite(ours, quantize="int8", calibration=calibration),
        "logits": to_tflite(logits),
        "fixed": to_tflite(ours, fixed_batch=True),
        "thirdparty": to_tflite(third, quantize="uint8", calibration=calibration / 127.5 - 1),
    }
    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name, data in files.items():
        (root / name).mkdir()
        paths[name] = root / name / "model.tflite"
        paths[name].write_bytes(data)

    def keras_probs(model, scale=1.0, offset=0.0, softmax=False):
        def run(pixels):
            out = model(pixels.astype(np.float32) * scale + offset, training=False).numpy()
            return tf.nn.softmax(out).numpy() if softmax else out

        return run

    reference = {name: keras_probs(ours) for name in VARIANTS}
    reference["logits"] = keras_probs(logits, softmax=True)
    reference["thirdparty"] = keras_probs(third, 1 / 127.5, -1.0, softmax=True)
    return types.SimpleNamespace(paths=paths, keras=reference)


def _classifier(built, name: str, **kwargs) -> Classifier:
    return Classifier(built.paths[name], **kwargs)


def _raw_interpreter_probs(path: Path, pixels: np.ndarray) -> np.ndarray:
    """What the interpreter itself says, one image at a time, (de)quantized by hand.

    A uint8 input takes the raw pixels (its quantization encodes the normalization,
    even for the third-party model trained on [-1, 1]); any other quantized input
    takes the pixels quantized with its scale and zero point.
    """
    interpreter = LiteRTInterpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for image in pixels:
        x = image[None].astype(np.float32)
        scale, zero_point = inp["quantization"]
        if inp["dtype"] == np.uint8:
            x = image[None]
        elif scale:
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zero_point, info.min, info.max)
        interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"]).astype(np.float32)
        scale, zero_point = out["quantization"]
        rows.append((y - zero_point) * scale if scale else y)
    return np.concatenate(rows)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _write_image(path: Path, seed: int, size=(48, 40)) -> Path:
    pixels = np.asarray(Image.fromarray(_images(1, seed)[0]).resize(size))
    Image.fromarray(pixels).save(path)
    return path


# --- formats and outputs ------------------------------------------------------------


def test_prediction_text_is_label_dash_score_with_four_decimals():
    assert str(Prediction("alp", 3, 0.57578)) == "alp - score: 0.5758"
    assert str(Prediction("n01443537 goldfish", 0, 1.0)) == "n01443537 goldfish - score: 1.0000"


@pytest.mark.parametrize("name", VARIANTS)
def test_outputs_equal_interpreter_outputs_after_dequantization(built, name):
    classifier = _classifier(built, name)
    pixels = _images(6, seed=2)
    raw = _raw_interpreter_probs(built.paths[name], pixels)
    if name in ("logits", "thirdparty"):
        raw = _softmax(raw)
    probs = classifier.predict(pixels)
    assert probs.dtype == np.float32 and probs.shape == (6, CLASSES)
    np.testing.assert_allclose(probs, raw, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "atol"),
    [
        ("float32", 1e-5),
        ("float16", 1e-2),
        ("logits", 1e-5),
        ("fixed", 1e-5),
        ("uint8", 0.06),
        ("int8", 0.06),
        ("thirdparty", 0.06),
    ],
)
def test_probabilities_match_the_keras_model(built, name, atol):
    pixels = _images(16, seed=3)
    expected = built.keras[name](pixels)
    probs = _classifier(built, name).predict(pixels)
    np.testing.assert_allclose(probs, expected, atol=atol)
    assert (probs.argmax(1) == expected.argmax(1)).mean() >= 0.9
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)


def test_variants_exercise_the_quantization_they_claim(built):
    """Guards the tests above: int8 input needs its zero point, third-party a real scale."""
    details = {}
    for name in ("float16", "uint8", "int8", "thirdparty", "fixed"):
        interpreter, _ = load_interpreter(built.paths[name])
        details[name] = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert details["float16"][0]["dtype"] == np.float32
    assert details["int8"][0]["dtype"] == np.int8 and details["int8"][0]["quantization"][1] == -128
    assert details["uint8"][1]["dtype"] == np.uint8
    third_in, third_out = details["thirdparty"]
    assert third_in["dtype"] == np.uint8 and third_in["quantization"][0] < 0.01
    assert third_out["quantization"][0] != pytest.approx(1 / 256)
    assert list(details["fixed"][0]["shape_signature"]) == [1, SIZE, SIZE, 3]


@pytest.mark.parametrize(
    ("dtype", "scale", "zero_point"),
    [(np.uint8, 1 / 256, 0), (np.int8, 1 / 256, -128), (np.uint8, 0.016283851, 192)],
)
def test_dequantization_table_equals_the_arithmetic(dtype, scale, zero_point):
    spec = _Tensor(0, (1, CLASSES), dtype, scale, zero_point)
    q = np.arange(256, dtype=np.uint8).view(dtype).reshape(2, 128)
    expected = (q.astype(np.float32) - zero_point) * np.float32(scale)
    np.testing.assert_array_equal(_dequantization_table(spec)[q.view(np.uint8)], expected)


def test_softmax_check_decides_exactly_as_float32_comparisons():
    """Rows on both sides of every tolerance bound, by one float32 step, plus NaN and logits."""
    tol = np.float32(1e-3)
    rng = np.random.default_rng(0)
    base = rng.dirichlet(np.ones(CLASSES), 40).astype(np.float32)
    rows = [base[i] * f for i, f in enumerate(np.linspace(0.998, 1.002, 40, dtype=np.float32))]
    for bound, index in ((-tol, 0), (np.float32(1) + tol, 1)):
        for step in (-1, 0, 1):
            row = np.full(CLASSES, 0.0, np.float32)
            row[index] = bound + step * np.spacing(bound)
            row[2] = np.float32(1) - row[index]
            rows.append(row)
    rows += [np.full(CLASSES, np.nan, np.float32), rng.normal(0, 3, CLASSES).astype(np.float32)]
    scores = np.stack(rows).astype(np.float32)
    is_probs = (
        (scores.min(axis=1) >= -tol)
        & (scores.max(axis=1) <= 1 + tol)
        & (np.abs(scores.sum(axis=1) - 1) <= tol)
    )
    assert 0 < is_probs.sum() < len(scores) - 10  # the rows do straddle the bounds
    with np.errstate(invalid="ignore"):
        softmax = np.exp(scores - scores.max(axis=1, keepdims=True))
        expected = np.where(is_probs[:, None], scores, softmax / softmax.sum(1, keepdims=True))
        got = _softmax_unless_probabilities(scores)
        one_by_one = np.concatenate([_softmax_unless_probabilities(r[None]) for r in scores])
    np.testing.assert_array_equal(got, expected.astype(np.float32))
    np.testing.assert_array_equal(one_by_one, got)


@pytest.mark.parametrize("name", ["float32", "fixed", "uint8"])
def test_a_batch_gives_the_same_rows_as_single_images(built, name):
    classifier = _classifier(built, name)
    pixels = _images(5, seed=4)
    batch = classifier.predict(pixels)
    singles = np.concatenate([classifier.predict(image) for image in pixels])
    np.testing.assert_allclose(batch, singles, atol=1e-6)
    assert classifier.predict(pixels[:0]).shape == (0, CLASSES)


def test_predict_refuses_wrong_shape_or_dtype(built):
    classifier = _classifier(built, "float32")
    with pytest.raises(ValueError, match="32, 32, 3"):
        classifier.predict(np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        classifier.predict(np.zeros((1, SIZE, SIZE, 3), np.float32))


def test_classify_uses_eval_transform_and_ranks_highest_first(built, tmp_path):
    classifier = _classifier(built, "float32")
    path = _write_image(tmp_path / "a.jpg", seed=5, size=(60, 45))
    expected = classifier.predict(eval_transform(path, SIZE)[None])[0]
    ranked = classifier.classify(path, top=3)
    assert [p.index for p in ranked] == list(np.argsort(-expected)[:3])
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)
    assert ranked[0].score == pytest.approx(float(expected.max()))
    assert ranked[0].label == f"class_{ranked[0].index}"
    from alexedge.preprocess import load_rgb

    assert classifier.classify(load_rgb(path), top=3) == ranked
    assert len(classifier.classify(path, top=50)) == CLASSES


def test_input_size_and_repr(built):
    classifier = _classifier(built, "int8")
    assert classifier.input_size == SIZE and classifier.input_dtype == np.int8
    assert "int8" in repr(classifier) and "classes=10" in repr(classifier)


# --- labels -------------------------------------------------------------------------


def _copy_model(built, name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.tflite"
    target.write_bytes(built.paths[name].read_bytes())
    return target


def test_labels_from_sidecar_and_explicit_labels_win(built, tmp_path):
    model = _copy_model(built, "float32", tmp_path)
    names = [f"n{i:03d} thing" for i in range(CLASSES)]
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n\n", encoding="utf-8")
    assert Classifier(model).labels == tuple(names)
    explicit = [f"other{i}" for i in range(CLASSES)]
    assert Classifier(model, labels=explicit).labels == tuple(explicit)
    assert read_labels(tmp_path / "labels.txt") == names


def test_one_extra_label_is_a_leading_background_class(built, tmp_path):
    names = ["background"] + [f"c{i}" for i in range(CLASSES)]
    classifier = Classifier(built.paths["float32"], labels=names)
    assert classifier.background_label == "background"
    assert classifier.labels == tuple(names[1:])
    top = classifier.classify(_images(1, seed=6)[0], top=1)[0]
    assert top.label == f"c{top.index}"
    assert Classifier(built.paths["float32"]).background_label is None


@pytest.mark.parametrize("count", [CLASSES - 1, CLASSES + 2])
def test_label_count_mismatch_is_a_model_error(built, tmp_path, count):
    model = _copy_model(built, "float32", tmp_path)
    (tmp_path / "labels.txt").write_text("\n".join(f"c{i}" for i in range(count)), "utf-8")
    with pytest.raises(ModelError, match=rf"10 output classes but .*labels.txt has {count} labels"):
        Classifier(model)


def test_missing_or_empty_labels_file(tmp_path):
    with pytest.raises(ModelError, match="no such labels file"):
        read_labels(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n\n", "utf-8")
    with pytest.raises(ModelError, match="empty"):
        read_labels(tmp_path / "empty.txt")


# --- model files and backends ----------------------------------------------------------


def test_files_that_are_not_tflite_models(built, tmp_path):
    text = tmp_path / "model.tflite"
    text.write_text("definitely not a flatbuffer", "utf-8")
    with pytest.raises(ModelError, match=r"model\.tflite: not a TFLite model"):
        Classifier(text)
    with pytest.raises(ModelError, match="no such model file"):
        Classifier(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="is a folder"):
        Classifier(tmp_path)
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(built.paths["float32"].read_bytes()[:200])
    with pytest.raises(ModelError, match=r"corrupt\.tflite"):
        Classifier(corrupt)


def test_threads_must_be_positive(built):
    assert Classifier(built.paths["float32"], threads=2).predict(_images(1, 0)).shape == (1, 10)
    with pytest.raises(ConfigError, match="threads"):
        Classifier(built.paths["float32"], threads=0)


def test_litert_is_preferred(built):
    assert Classifier(built.paths["float32"]).backend == "ai_edge_litert"


@_TF_LITE_DEPRECATED
def test_falls_back_to_tensorflow_lite_without_litert(built, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    classifier = Classifier(built.paths["uint8"])
    assert classifier.backend == "tensorflow.lite"
    pixels = _images(3, seed=7)
    np.testing.assert_allclose(
        classifier.predict(pixels), _raw_interpreter_probs(built.paths["uint8"], pixels), atol=1e-6
    )


@_TF_LITE_DEPRECATED
def test_tflite_runtime_is_second_and_a_broken_one_is_skipped(built, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setattr(interpreter_module, "_NUMPY_2", False)
    fake = types.ModuleType("tflite_runtime.interpreter")
    fake.Interpreter = LiteRTInterpreter
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake)
    assert load_interpreter(built.paths["float32"])[1] == "tflite_runtime"

    class BrokenAtImport(types.ModuleType):
        def __getattr__(self, name):
            raise AttributeError("_ARRAY_API not found")  # what numpy 2 does to old wheels

    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", BrokenAtImport("broken"))
    assert load_interpreter(built.paths["float32"])[1] == "tensorflow.lite"


def test_no_interpreter_says_what_to_install(built, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ModelError, match=r'pip install "alexedge\[edge\]"'):
        Classifier(built.paths["float32"])


# --- evaluation -------------------------------------------------------------------------


def test_evaluate_tflite_scores_top1_and_top5(built, tmp_path):
    paths = [_write_image(tmp_path / f"{i}.png", seed=10 + i) for i in range(8)]
    classifier = _classifier(built, "uint8")
    ranked = [np.argsort(-classifier.predict(eval_transform(p, SIZE)[None])[0]) for p in paths]
    # Labels: the true top-1 for 4 images, the 3rd-ranked for 2, the last-ranked for 2.
    labels = [int(r[0]) for r in ranked[:4]] + [int(r[2]) for r in ranked[4:6]]
    labels += [int(r[-1]) for r in ranked[6:]]
    pairs = [(str(p), y) for p, y in zip(paths, labels, strict=True)]
    result = evaluate_tflite(built.paths["uint8"], pairs, progress=False)
    assert (result.top1, result.top5, result.count) == (0.5, 0.75, 8)
    np.testing.assert_array_equal(result.predictions, [r[0] for r in ranked])
    assert result.probs is None
    samples = [Sample(str(p), y) for p, y in zip(paths, labels, strict=True)]
    again = evaluate_tflite(built.paths["uint8"], samples, progress=False, keep_probs=True)
    assert (again.top1, again.top5) == (0.5, 0.75) and again.probs.shape == (8, CLASSES)


def test_evaluate_tflite_refuses_bad_samples(built, tmp_path):
    path = str(_write_image(tmp_path / "a.png", seed=1))
    with pytest.raises(DataError, match="no samples"):
        evaluate_tflite(built.paths["float32"], [], progress=False)
    with pytest.raises(DataError, match="label 10 is outside the 10 classes"):
        evaluate_tflite(built.paths["float32"], [(path, 10)], progress=False)


def test_predict_images_takes_model_input_arrays(built):
    classifier = _classifier(built, "int8")
    pixels = _images(3, seed=8)
    probs = predict_images(classifier, list(pixels))
    np.testing.assert_array_equal(probs, classifier.predict(pixels))


# --- the classify command ----------------------------------------------------------------


def _run(*args, **kwargs) -> tuple[int, str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = run_classify(*args, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    _write_image(folder / "a.png", seed=20)
    _write_image(folder / "sub" / "b.jpg", seed=21, size=(70, 50))
    good_jpeg = _write_image(tmp_path / "full.jpg", seed=22, size=(64, 64)).read_bytes()
    (folder / "c_truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (folder / "d_empty.png").write_bytes(b"")
    (folder / "e_text.jpg").write_text("this is not a picture\n", "utf-8")
    (folder / "notes.txt").write_text("ignored: not an image suffix", "utf-8")
    return folder


def test_classify_command_prints_good_images_and_one_line_per_bad_one(built, mixed_folder):
    code, out, err = _run(built.paths["float32"], [mixed_folder], top=3)
    classifier = _classifier(built, "float32")
    expected = []
    for path in (mixed_folder / "a.png", mixed_folder / "sub" / "b.jpg"):
        expected += [str(path)] + [str(p) for p in classifier.classify(path, top=3)]
    assert out.splitlines() == expected
    assert all(
        line.startswith("class_") and line[-8:-6] == ": " and line[-6] in "01" and line[-5] == "."
        for line in out.splitlines()
        if not line.startswith(str(mixed_folder))
    )
    errors = err.splitlines()
    assert len(errors) == 3
    for line, name in zip(errors, ("c_truncated.jpg", "d_empty.png", "e_text.jpg"), strict=True):
        assert line.startswith("error: ") and name in line
    assert "Traceback" not in err
    assert code == 1


def test_classify_command_json_lines(built, tmp_path):
    image = _write_image(tmp_path / "x.png", seed=30)
    code, out, err = _run(built.paths["uint8"], [image, image], top=2, as_json=True)
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 and rows[0] == rows[1]
    assert rows[0]["path"] == str(image)
    expected = _classifier(built, "uint8").classify(image, top=2)
    assert rows[0]["predictions"] == [
        {"label": p.label, "index": p.index, "score": p.score} for p in expected
    ]


def test_classify_command_labels_file_overrides_sidecar(built, tmp_path):
    image = _write_image(tmp_path / "x.png", seed=31)
    labels = tmp_path / "names.txt"
    labels.write_text("\n".join(f"name{i}" for i in range(CLASSES)), "utf-8")
    code, out, _ = _run(built.paths["float32"], [image], labels_file=labels, top=1)
    assert code == 0 and out.splitlines()[1].startswith("name")


def test_classify_command_missing_paths_and_empty_folders_fail_the_batch(built, tmp_path):
    good = _write_image(tmp_path / "ok.png", seed=32)
    (tmp_path / "empty").mkdir()
    code, out, err = _run(built.paths["float32"], [tmp_path / "gone.jpg", tmp_path / "empty", good])
    assert code == 1
    assert out.splitlines()[0] == str(good) and len(out.splitlines()) == 6
    assert err.splitlines() == [
        f"error: {tmp_path / 'gone.jpg'}: no such file or folder",
        f"error: {tmp_path / 'empty'}: no images found in this folder",
    ]


def test_classify_command_bad_model_exits_2_at_once(built, tmp_path):
    image = _write_image(tmp_path / "x.png", seed=33)
    not_model = tmp_path / "m.tflite"
    not_model.write_bytes(image.read_bytes())
    code, out, err = _run(not_model, [image])
    assert (code, out) == (2, "") and len(err.splitlines()) == 1 and "m.tflite" in err
    bad_labels = tmp_path / "labels.txt"
    bad_labels.write_text("a\nb\n", "utf-8")
    code, out, err = _run(built.paths["float32"], [image], labels_file=bad_labels)
    assert (code, out) == (2, "") and "has 2 labels" in err and len(err.splitlines()) == 1
    code, _, err = _run(built.paths["float32"], [image], top=0)
    assert code == 2 and "--top" in err


# --- the boundary: no TensorFlow on the device -----------------------------------------

_BLOCKED_TF = """
import sys

class BlockTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras", "keras"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, BlockTensorFlow())
from alexedge.edge_runtime import Classifier

classifier = Classifier(sys.argv[1])
top = classifier.classify(sys.argv[2], top=1)[0]
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras", "keras"))
assert not leaked, leaked
assert "alexedge.train" not in sys.modules
print(classifier.backend)
print(top)
"""


def test_runtime_classifies_with_tensorflow_unimportable(built, tmp_path):
    image = _write_image(tmp_path / "x.jpg", seed=40)
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED_TF, str(built.paths["float32"]), str(image)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    expected = _classifier(built, "float32").classify(image, top=1)[0]
    assert result.stdout.splitlines() == ["ai_edge_litert", str(expected)]


# --- quiet: the interpreter's C++ chatter ----------------------------------------------

_CLASSIFY_ONE = """
import sys
from alexedge.edge_runtime import Classifier

classifier = Classifier(sys.argv[1])
print(classifier.classify(sys.argv[2], top=1)[0])
print(classifier.predict(classifier.preprocess(sys.argv[2])[None].repeat(3, axis=0)).shape)
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_xnnpack_line_only_when_verbose(built, tmp_path, verbose):
    """LiteRT prints its delegate line from C++; a classify run keeps stderr empty."""
    image = _write_image(tmp_path / "x.png", seed=41)
    env = {k: v for k, v in os.environ.items() if k != "ALEXEDGE_VERBOSE"}
    if verbose:
        env["ALEXEDGE_VERBOSE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _CLASSIFY_ONE, str(built.paths["uint8"]), str(image)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == f"(3, {CLASSES})"
    if verbose:
        assert "XNNPACK" in result.stderr
    else:
        assert result.stderr == ""


def test_a_model_the_interpreter_refuses_quotes_its_reason(built, tmp_path, capfd):
    data = bytearray(built.paths["float32"].read_bytes())
    data[8:] = bytes(len(data) - 8)  # keeps the TFL3 identifier, zeroes the rest
    broken = tmp_path / "zeroed.tflite"
    broken.write_bytes(data)
    with pytest.raises(ModelError, match=r"zeroed\.tflite: the TFLite interpreter") as caught:
        Classifier(broken)
    assert "\n" not in str(caught.value)
    assert capfd.readouterr().err == ""
