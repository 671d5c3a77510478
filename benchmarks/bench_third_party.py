"""A real third-party classifier through the edge runtime: metadata, conventions, accuracy.

Uses ``../shared/data/third-party-tflite/mobilenet_v1_0.25_128_quant.tflite`` (uint8
MobileNet v1 with metadata written by Google's tool) and the 100 photos of
``../shared/data/imagenet-sample-100``. Three checks, printed, never asserted:

1. ``read_metadata`` and friends against Google's writer: name, NormalizationOptions
   127.5/127.5, the 1001 labels of ``imagenet_labels.txt``.
2. ``write_metadata`` on that model: read back field for field, the labels byte for
   byte, the model tables untouched (through LiteRT's own schema object API), the
   interpreter's outputs identical.
3. ``Classifier`` with no options (labels and conventions from the model alone)
   against the true classes, crop and squash, beside a plain LiteRT loop fed raw
   pixels (README of the model: 52% / 76% crop, 39% / 67% squash). Anything well
   below that is a conventions bug.

Not part of CI (it reads ``../shared``). Usage::

    python benchmarks/bench_third_party.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import flatbuffers
import numpy as np

from alexedge.edge_runtime import (
    Classifier,
    ClassifierOutputMetadata,
    ImageInputMetadata,
    ModelMetadata,
    read_associated_files,
    read_labels_from_metadata,
    read_metadata,
    write_metadata,
)
from alexedge.edge_runtime.interpreter import load_interpreter
from alexedge.hardware import hardware_line
from alexedge.preprocess import eval_transform, squash_transform

_MODEL = "third-party-tflite/mobilenet_v1_0.25_128_quant.tflite"
_PLAIN_LITERT = {"crop": (0.52, 0.76), "squash": (0.39, 0.67)}  # from the model's README


def check_reader(model: Path, labels_txt: Path) -> None:
    meta = read_metadata(model)
    labels = read_labels_from_metadata(model)
    expected = labels_txt.read_text("utf-8").splitlines()
    print("1. reading Google-written metadata")
    print(f"   name={meta.name!r} min_parser_version={meta.min_parser_version!r}")
    print(f"   input mean={meta.input.mean} std={meta.input.std} colour={meta.input.color_space}")
    print(f"   labels file {meta.output.labels_file!r}: {len(labels)} labels, first {labels[0]!r}")
    print(f"   labels equal imagenet_labels.txt: {labels == expected}")


def _model_tables(data: bytes) -> bytes:
    """Everything but buffers and metadata, re-packed by LiteRT's generated schema code."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    model.buffers, model.metadata = None, None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder))
    return bytes(builder.Output())


def _raw_outputs(model: bytes, path: Path) -> np.ndarray:
    path.write_bytes(model)
    interpreter, _ = load_interpreter(path)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for seed in range(8):
        pixels = np.random.default_rng(seed).integers(0, 256, inp["shape"], dtype=np.uint8)
        interpreter.set_tensor(inp["index"], pixels)
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"]).copy())
    return np.concatenate(rows)


def check_writer(model: Path, scratch: Path) -> None:
    original = model.read_bytes()
    files = read_associated_files(model)
    meta = ModelMetadata(
        name="MobileNet v1 0.25 128 (rewritten by alexedge)",
        description="ImageNet classifier; metadata rewritten to test alexedge's writer.",
        version="v1",
        author="alexedge benchmark",
        license="Apache-2.0",
        input=ImageInputMetadata(mean=(127.5,), std=(127.5,), min=(0.0,), max=(255.0,)),
        output=ClassifierOutputMetadata(labels_file="imagenet_labels.txt", min=(0.0,), max=(1.0,)),
    )
    start = time.perf_counter()
    rewritten = write_metadata(original, meta, files)
    seconds = time.perf_counter() - start
    print("2. writing metadata into the same model")
    print(f"   {len(original):,} -> {len(rewritten):,} bytes in {seconds * 1000:.1f} ms")
    print(f"   read back equal: {read_metadata(rewritten) == meta}")
    print(f"   associated files byte for byte: {read_associated_files(rewritten) == files}")
    print(f"   model tables unchanged: {_model_tables(original) == _model_tables(rewritten)}")
    same = np.array_equal(
        _raw_outputs(original, scratch / "a.tflite"), _raw_outputs(rewritten, scratch / "b.tflite")
    )
    print(f"   interpreter outputs identical: {same}")


def _samples(data: Path) -> list[tuple[Path, int]]:
    """(photo, output index): the model's output i + 1 is ImageNet class i."""
    lines = (data / "imagenet1k_classes.tsv").read_text("utf-8").splitlines()
    wnids = [line.split("\t")[0] for line in lines]
    index = {wnid: i + 1 for i, wnid in enumerate(wnids)}
    root = data / "imagenet-sample-100" / "val"
    return [(p, index[p.parent.name]) for p in sorted(root.glob("*/*.JPEG"))]


def _accuracy(probs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :5]
    return float((ranked[:, 0] == truth).mean()), float((ranked == truth[:, None]).any(1).mean())


def _plain_litert(model: Path, samples: list[tuple[Path, int]], resize: str) -> np.ndarray:
    """Raw uint8 pixels straight into the interpreter, no alexedge conventions."""
    transform = eval_transform if resize == "crop" else squash_transform
    interpreter, _ = load_interpreter(model)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for path, _ in samples:
        interpreter.set_tensor(inp["index"], transform(path, inp["shape"][1])[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"])[0].astype(np.float32))
    return np.stack(rows)


def check_accuracy(model: Path, data: Path) -> None:
    samples = _samples(data)
    truth = np.array([label for _, label in samples])
    print(f"3. top-1 / top-5 on {len(samples)} ImageNet photos (Classifier, no options)")
    for resize in ("crop", "squash"):
        classifier = Classifier(model, resize=resize)
        start = time.perf_counter()
        probs = np.stack([classifier.predict(classifier.preprocess(p))[0] for p, _ in samples])
        seconds = time.perf_counter() - start
        top1, top5 = _accuracy(probs, truth)
        plain1, plain5 = _accuracy(_plain_litert(model, samples, resize), truth)
        ref1, ref5 = _PLAIN_LITERT[resize]
        print(
            f"   {resize:6s}: alexedge {top1:.0%} / {top5:.0%} "
            f"({len(samples) / seconds:.0f} img/s, normalization from "
            f"{classifier.normalization.source}, labels[1]={classifier.labels[1]!r}); "
            f"plain LiteRT here {plain1:.0%} / {plain5:.0%}; README {ref1:.0%} / {ref5:.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/bench_third_party"))
    args = parser.parse_args()
    print(f"hardware: {hardware_line()}", flush=True)
    args.scratch.mkdir(parents=True, exist_ok=True)
    model = args.data / _MODEL
    check_reader(model, model.with_name("imagenet_labels.txt"))
    check_writer(model, args.scratch)
    check_accuracy(model, args.data)


if __name__ == "__main__":
    main()
