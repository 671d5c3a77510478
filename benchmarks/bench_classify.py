"""Throughput of ``alexedge classify DIR`` against plain LiteRT loops, and the runtime's overhead.

Issue 14, item 4. A folder of ``--images`` JPEGs of varied size (300-500 px a side,
smooth colour fields with noise, so decoding costs what a photo's does) is
classified by a 64x64 ``alexnet-reduced`` (width 0.25, fc 128, 20 classes,
untrained: speed does not depend on the weights) converted to ``--mode`` (int8
with uint8 I/O by default, or float32) in four ways:

- A ``naive``: per image, a new interpreter (create + allocate), Pillow decode +
  ``eval_transform``, invoke: what a script that calls a one-image helper does.
- B ``plain``: one interpreter reused; per image, decode + ``eval_transform`` + set +
  invoke + get, one image at a time in one thread.
- C ``classify``: ``run_classify(model, [folder])`` as the CLI calls it (results
  printed to a buffer), including its ``Classifier`` creation.
- D ``classify-1w``: the same with one decode worker, to show what the pool adds.

Methods alternate within each round (the order rotates: ABCD, BCDA, ...) because
the machine is shared; images/s are medians over rounds and the ratios C/A, C/B and
C/D are medians of the per-round ratios. On a machine whose cores are busy with
other jobs, decoding in parallel gains little: the load average is printed.

Then the runtime's own overhead on the decoded images (preprocessing excluded):
the time of what ``classify`` does around invoke (its ``_classify_chunk``: stack a
chunk, ``predict``: input conversion, set, invoke, get, dequantization, softmax;
ranking and printing the lines to a buffer) minus the time spent in invoke alone
for the same chunks, as a share of invoke (goal: under 20%), in CPU time of a
one-thread interpreter (less sensitive to other jobs' load), the two back to back
on every chunk over 20+ passes: the median chunk's share, and the totals of the
median pass (which include the two interpreter resizes per pass for the last,
shorter chunk); also for one image per invoke (chunks of one image, as when images
arrive one at a time; ``classify`` on a fixed-batch-1 model still ranks and prints 16
images at a time, so it pays less). The share including
preprocessing adds the CPU time of decode + ``eval_transform``, which any runtime
must spend: decoding a 300-500 px JPEG costs several times a 64x64 invoke.

Not part of CI; prints, never asserts a time. Usage::

    python benchmarks/bench_classify.py [--images N] [--rounds R] [--mode int8|float32]
        [--threads T] [--workers W]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from alexedge.compress.export.convert import convert
from alexedge.data.files import list_images
from alexedge.edge_runtime import classify_command
from alexedge.edge_runtime.classifier import Classifier
from alexedge.edge_runtime.classify_command import run_classify
from alexedge.hardware import hardware_line
from alexedge.preprocess import eval_transform
from alexedge.train.models import build_model

SIZE = 64
CLASSES = 20
METHODS = ("naive", "plain", "classify", "classify-1w")


def write_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        width, height = (int(v) for v in rng.integers(300, 501, 2))
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))
        noise = rng.normal(0, 12, field.shape)
        pixels = np.clip(field + noise, 0, 255).astype(np.uint8)
        paths.append(folder / f"img{i:03d}.jpg")
        Image.fromarray(pixels).save(paths[-1], quality=90)
    return paths


def build_tflite(path: Path, mode: str, calibration_paths: list[Path]) -> None:
    model = build_model("alexnet-reduced", CLASSES, SIZE, width=0.25, fc_units=128)
    calibration = np.stack([eval_transform(p, SIZE) for p in calibration_paths])
    path.write_bytes(convert(model, mode, calibration if mode == "int8" else None))


def naive(model: Path, paths: list[Path], threads: int | None) -> list[int]:
    top1 = []
    for path in paths:
        interpreter = Interpreter(model_path=str(model), num_threads=threads)
        interpreter.allocate_tensors()
        top1.append(_invoke_one(interpreter, eval_transform(path, SIZE)))
    return top1


def plain(model: Path, paths: list[Path], threads: int | None) -> list[int]:
    interpreter = Interpreter(model_path=str(model), num_threads=threads)
    interpreter.allocate_tensors()
    return [_invoke_one(interpreter, eval_transform(path, SIZE)) for path in paths]


def _invoke_one(interpreter: Interpreter, pixels: np.ndarray) -> int:
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], pixels[None].astype(inp["dtype"]))
    interpreter.invoke()
    return int(np.argmax(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])))


def classifier_options(mode: str) -> dict[str, float]:
    """alexedge's float models take raw 0-255 (normalization is in the graph): say so."""
    return {"mean": 0.0, "std": 1.0} if mode == "float32" else {}


def classify(
    model: Path, folder: Path, threads: int | None, workers: int | None, options: dict
) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_classify(
        model, [folder], top=5, threads=threads, out=out, err=err, workers=workers, **options
    )
    return code, out.getvalue()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def cpu_timed(fn: Callable[[], object]) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def throughput_rounds(
    model: Path,
    folder: Path,
    paths: list[Path],
    rounds: int,
    threads: int | None,
    workers: int,
    options: dict,
) -> dict[str, list[float]]:
    runs: dict[str, Callable[[], object]] = {
        "naive": lambda: naive(model, paths, threads),
        "plain": lambda: plain(model, paths, threads),
        "classify": lambda: classify(model, folder, threads, workers, options),
        "classify-1w": lambda: classify(model, folder, threads, 1, options),
    }
    rates: dict[str, list[float]] = {m: [] for m in METHODS}
    for r in range(rounds):
        order = METHODS[r % len(METHODS) :] + METHODS[: r % len(METHODS)]
        for method in order:
            seconds, result = timed(runs[method])
            if method.startswith("classify"):
                assert result[0] == 0, "classify failed"
            rates[method].append(len(paths) / seconds)
        print(
            f"round {r + 1}: "
            + ", ".join(f"{m} {rates[m][-1]:7.1f} img/s" for m in METHODS)
            + f"  (order: {', '.join(order)})",
            flush=True,
        )
    return rates


class _Invoker:
    """A bare interpreter that times only invoke (resize and set outside the clock)."""

    def __init__(self, model: Path, threads: int | None) -> None:
        self.interpreter = Interpreter(model_path=str(model), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.batch = int(self.input["shape"][0])

    def __call__(self, chunk: np.ndarray) -> float:
        if len(chunk) != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [len(chunk), SIZE, SIZE, 3])
            self.interpreter.allocate_tensors()
            self.batch = len(chunk)
        self.interpreter.set_tensor(self.input["index"], chunk.astype(self.input["dtype"]))
        start = time.thread_time()
        self.interpreter.invoke()
        return time.thread_time() - start


def overhead_pairs(
    model: Path, pixels: list[np.ndarray], passes: int, chunk: int, options: dict
) -> list[tuple[float, float]]:
    """CPU seconds of classify's own path and of invoke alone, per chunk, over all passes.

    CPU time of this thread, not wall time, so other jobs on the shared machine
    count less; that needs a one-thread interpreter, whose invoke runs in this
    thread. The classify path is ``run_classify``'s ``_classify_chunk`` on decoded
    images: stack, predict (input conversion, set, invoke, get, dequantization,
    softmax), rank, print to a buffer. The two run back to back on each chunk
    (which goes first alternates), so a burst of load hits a pair alike.
    """
    chunks = [pixels[i : i + chunk] for i in range(0, len(pixels), chunk)]
    items = [[(Path(f"img{i}.jpg"), x, None) for i, x in enumerate(c)] for c in chunks]
    stacked = [np.stack(c) for c in chunks]
    classifier, invoke = Classifier(model, threads=1, **options), _Invoker(model, threads=1)
    out = io.StringIO()
    pairs = []
    for p in range(passes + 1):  # the first pass warms both up
        for k, (chunk_items, batch) in enumerate(zip(items, stacked, strict=True)):
            invoke_first = (p + k) % 2
            invoke_s = invoke(batch) if invoke_first else 0.0
            start = time.thread_time()
            classify_command._classify_chunk(classifier, chunk_items, 5, False, out, out)
            runtime_s = time.thread_time() - start
            invoke_s = invoke_s if invoke_first else invoke(batch)
            if p:
                pairs.append((runtime_s, invoke_s))
        out.seek(0)
        out.truncate()
    return pairs


def _median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mode", choices=("int8", "float32"), default="int8")
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads")
    parser.add_argument("--workers", type=int, default=None, help="classify decode threads")
    args = parser.parse_args()
    print(f"hardware: {hardware_line()}", flush=True)
    workers = args.workers or classify_command.default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        paths = write_images(folder, args.images)
        assert paths == list_images(folder)
        model = Path(tmp) / f"alexnet-reduced-{args.mode}.tflite"
        build_tflite(model, args.mode, paths[:50])
        print(
            f"{args.images} JPEGs 300-500 px, {model.name} ({model.stat().st_size:,} bytes), "
            f"64x64 input, interpreter threads {args.threads or 'default'}, "
            f"classify decode workers {workers}, {args.rounds} rounds, load average {_load()}\n"
        )
        options = classifier_options(args.mode)
        check_agreement(model, folder, paths, args.threads, workers, options)
        rates = throughput_rounds(model, folder, paths, args.rounds, args.threads, workers, options)
        pixels = [eval_transform(p, SIZE) for p in paths]
        prep = [cpu_timed(lambda: [eval_transform(p, SIZE) for p in paths]) for _ in range(3)]
        report_throughput(rates)
        for chunk in (classify_command._CHUNK, 1):
            passes = max(20, 4 * args.rounds)
            pairs = overhead_pairs(model, pixels, passes, chunk, options)
            report_overhead(chunk, pairs, passes, statistics.median(prep), len(paths))
    print(f"\nload average at the end: {_load()} on {os.cpu_count()} cores (shared machine)")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def check_agreement(
    model: Path, folder: Path, paths: list[Path], threads: int | None, workers: int, options: dict
) -> None:
    """classify and the plain loop must name the same top-1 class, or speeds compare nothing."""
    code, text = classify(model, folder, threads, workers, options)
    ours = [int(line.split("class_")[1].split()[0]) for line in text.splitlines()[1::6]]
    same = np.mean(np.array(ours) == np.array(plain(model, paths, threads)))
    print(f"top-1 agreement classify vs plain loop: {same:.1%} (exit code {code})\n")


def report_throughput(rates: dict[str, list[float]]) -> None:
    print()
    for m in METHODS:
        print(f"{m:>9}: median {statistics.median(rates[m]):7.1f} images/s")
    print(
        f"classify / naive loop (new interpreter per image): "
        f"{_median_ratio(rates['classify'], rates['naive']):.2f}x"
    )
    print(
        f"classify / plain loop (one interpreter, one thread): "
        f"{_median_ratio(rates['classify'], rates['plain']):.2f}x"
    )
    print(
        f"classify / classify with 1 decode worker: "
        f"{_median_ratio(rates['classify'], rates['classify-1w']):.2f}x\n"
    )


def report_overhead(
    chunk: int, pairs: list[tuple[float, float]], passes: int, prep: float, images: int
) -> None:
    """The median chunk's overhead share, and the totals of the median pass.

    The share with preprocessing is dominated by decoding 300-500 px JPEGs, which
    any runtime must do; its per-image time is printed beside it.
    """
    share = statistics.median(r / i - 1 for r, i in pairs if i > 0)
    per_pass = len(pairs) // passes
    totals = [
        (sum(r for r, _ in pairs[j : j + per_pass]), sum(i for _, i in pairs[j : j + per_pass]))
        for j in range(0, len(pairs), per_pass)
    ]
    runtime_s = statistics.median(r for r, _ in totals)
    invoke_s = statistics.median(i for _, i in totals)
    print(
        f"{chunk:>2} image(s) per invoke, CPU time, 1 interpreter thread: invoke "
        f"{invoke_s * 1e3:.1f} ms for all images, classify's path {runtime_s * 1e3:.1f} ms "
        f"(median pass: {runtime_s / invoke_s - 1:+.1%}); runtime overhead, median chunk: "
        f"{share:.1%} of invoke (goal < 20%); with preprocessing (JPEG decode + "
        f"eval_transform: {prep * 1e3:.0f} ms, {prep / images * 1e3:.2f} ms an image, "
        f"invoke {invoke_s / images * 1e3:.2f} ms an image): "
        f"{share + prep / invoke_s:.0%} of invoke"
    )


if __name__ == "__main__":
    main()
