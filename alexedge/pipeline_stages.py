"""The stages of ``alexedge pipeline``, each a function of the run state.

Kept apart from ``alexedge.pipeline`` so that validating options and refusing bad
input never pays for importing TensorFlow.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alexedge.android_assets import write_android_assets
from alexedge.atomic import atomic_path, write_bytes, write_json, write_text
from alexedge.compress.convert import convert
from alexedge.compress.measure import measure_variant
from alexedge.compress.prune import layer_sparsity, prune_and_finetune
from alexedge.config import config_to_dict
from alexedge.data.dataset import Sample
from alexedge.data.decode import decode_split
from alexedge.data.stats import channel_stats
from alexedge.edge_runtime.interpreter import load_interpreter
from alexedge.preprocess import base_size_for
from alexedge.report import render_report
from alexedge.run import DATA_STATS, write_dataset_ref
from alexedge.train import loop
from alexedge.train.input_pipeline import eval_inputs

if TYPE_CHECKING:
    from alexedge.pipeline import _Run

# (variant name, Keras model it comes from, quantization mode)
VARIANTS = (
    ("float32", "float", "float32"),
    ("dynamic", "float", "dynamic"),
    ("float16", "float", "float16"),
    ("int8", "float", "int8"),
    ("pruned-int8", "pruned", "int8"),
)


def _say(message: str) -> None:
    print(f"[alexedge] {message}", file=sys.stderr, flush=True)


def decode(run: _Run) -> None:
    assert run.dataset is not None
    base = base_size_for(run.config.train.input_size)
    run.train_split = decode_split(run.dataset.train, base, "decoding train images")
    run.val_split = decode_split(run.dataset.val, base, "decoding val images")
    run.stats = channel_stats(run.train_split.images)
    write_json(run.out / DATA_STATS, run.stats.to_dict())
    write_dataset_ref(run.out, run.dataset, run.config.val_fraction, run.config.train.seed)
    skipped = run.train_split.skipped + run.val_split.skipped
    for _, reason in skipped:
        _say(f"skipped unreadable file: {reason}")
    if skipped:
        write_text(run.out / "skipped_files.txt", "".join(f"{p}\t{r}\n" for p, r in skipped))


def train(run: _Run) -> None:
    assert run.dataset and run.train_split and run.val_split and run.stats
    write_json(run.out / "config.json", config_to_dict(run.config.train))
    result = loop.train(
        run.train_split,
        run.val_split,
        run.dataset.num_classes,
        run.stats,
        run.config.train,
        run.out,
    )
    run.models["float"] = result.model


def _keras_probs(model: Any, run: _Run) -> np.ndarray:
    assert run.val_split is not None
    inputs = eval_inputs(run.val_split, run.config.train.input_size)
    return model.predict(inputs, batch_size=256, verbose=0)


def _score(name: str, run: _Run) -> None:
    assert run.val_split is not None
    probs = _keras_probs(run.models[name], run)
    labels = run.val_split.labels
    run.keras[name] = {
        "top1": _top_k(probs, labels, 1),
        "top5": _top_k(probs, labels, 5),
        "predictions": probs.argmax(axis=1),
    }


def _top_k(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    top = np.argsort(-probs, axis=1)[:, : min(k, probs.shape[1])]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def evaluate_keras(run: _Run) -> None:
    _score("float", run)
    metrics = {k: v for k, v in run.keras["float"].items() if k != "predictions"}
    write_json(run.out / "metrics.json", {"centre_crop": metrics})
    _say(f"Keras float model: top-1 {metrics['top1']:.3f}, top-5 {metrics['top5']:.3f}")


def prune(run: _Run) -> None:
    assert run.dataset and run.train_split and run.stats
    pruned = prune_and_finetune(
        run.models["float"],
        run.train_split,
        run.dataset.num_classes,
        run.stats,
        run.config.train,
        run.config.compress,
    )
    with atomic_path(run.out / "pruned.keras") as tmp:
        pruned.save(tmp)
    run.models["pruned"] = pruned
    _score("pruned", run)
    sparsity = [
        {"layer": r.layer, "weights": r.weights, "zeros": r.zeros, "sparsity": r.sparsity}
        for r in layer_sparsity(pruned)
    ]
    write_json(
        run.out / "pruning.json", {"target": run.config.compress.sparsity, "layers": sparsity}
    )
    _say(f"pruned model: top-1 {run.keras['pruned']['top1']:.3f}")


def export(run: _Run) -> None:
    assert run.train_split is not None and run.dataset is not None
    size = run.config.train.input_size
    count = run.config.compress.calibration_images
    order = np.random.default_rng(run.config.compress.seed).permutation(len(run.train_split))
    calibration = eval_inputs(run.train_split, size)[order[:count]]
    folder = run.out / "variants"
    wanted = set(run.config.compress.quantize)
    for name, source, mode in VARIANTS:
        if mode in wanted:
            write_bytes(folder / f"{name}.tflite", convert(run.models[source], mode, calibration))
    write_text(folder / "labels.txt", "".join(f"{n}\n" for n in run.dataset.class_names))


def measure(run: _Run) -> None:
    assert run.val_split is not None
    split = run.val_split
    samples = [Sample(p, int(lbl)) for p, lbl in zip(split.paths, split.labels, strict=True)]
    wanted = set(run.config.compress.quantize)
    for name, source, mode in VARIANTS:
        if mode not in wanted:
            continue
        keras = run.keras[source]
        m = measure_variant(
            name,
            run.out / "variants" / f"{name}.tflite",
            source,
            mode,
            samples,
            keras["predictions"],
            keras["top1"],
        )
        run.variants.append(m.to_dict())
        _say(f"{name}: {m.bytes:,} bytes, top-1 {m.top1:.3f}, agreement {m.keras_agreement:.3f}")
    _write_variants_json(run)


def _write_variants_json(run: _Run) -> None:
    assert run.dataset and run.train_split and run.val_split
    skipped = len(run.train_split.skipped) + len(run.val_split.skipped)
    run.report = {
        "schema_version": 1,
        "model": run.config.train.model,
        "input_size": run.config.train.input_size,
        "parameters": int(run.models["float"].count_params()),
        "dataset": {
            "root": run.dataset.root,
            "classes": run.dataset.num_classes,
            "train_images": len(run.train_split),
            "val_images": len(run.val_split),
            "skipped": skipped,
        },
        "keras": {name: {"top1": k["top1"], "top5": k["top5"]} for name, k in run.keras.items()},
        "variants": run.variants,
    }
    write_json(run.out / "variants.json", run.report)


def _best_int8(run: _Run) -> dict[str, Any] | None:
    int8 = [v for v in run.variants if v["quantization"] == "int8"]
    return max(int8, key=lambda v: (round(v["top1"], 4), -v["gzip_bytes"]), default=None)


def package(run: _Run) -> None:
    assert run.dataset is not None
    best = _best_int8(run)
    if best is None:
        _say("no int8 variant exported; skipping Android assets")
        return
    model_path = run.out / "variants" / best["file"]
    bundle = write_android_assets(
        model_path,
        list(run.dataset.class_names),
        run.out / "android_assets",
        _manifest_extra(run, best, model_path),
    )
    run.report["android_assets"] = {"folder": "android_assets", "variant": best["name"]}
    _say(f"Android assets: {bundle.folder} ({bundle.model_bytes:,} bytes, {best['name']})")


def _manifest_extra(run: _Run, best: dict[str, Any], model_path: Path) -> dict[str, Any]:
    interpreter, _ = load_interpreter(model_path)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    return {
        "variant": best["name"],
        "input": {
            "shape": [int(d) for d in inp["shape"]],
            "dtype": np.dtype(inp["dtype"]).name,
            "quantization": {"scale": inp["quantization"][0], "zero_point": inp["quantization"][1]},
            "color": "RGB",
            "normalization": "none: feed raw 0-255 pixels; per-channel mean/std are in the model",
            "preprocessing": "resize shorter side to S = round(size*256/224), centre crop",
        },
        "output": {
            "shape": [int(d) for d in out["shape"]],
            "dtype": np.dtype(out["dtype"]).name,
            "quantization": {"scale": out["quantization"][0], "zero_point": out["quantization"][1]},
            "meaning": "class probabilities (softmax), in labels.txt order",
        },
        "validation": {"top1": best["top1"], "top5": best["top5"]},
        "training_config": config_to_dict(run.config.train),
    }


def report(run: _Run) -> None:
    run.report["timings_s"] = dict(run.timings)
    _write_variants_json(run) if not run.report else write_json(
        run.out / "variants.json", run.report
    )
    write_text(run.out / "REPORT.md", render_report(run.report))
