"""Render ``variants.json`` as the accuracy-vs-size table people read.

Pure functions from the JSON document to text, so the CLI prints exactly the
table that ``REPORT.md`` holds, and tests can check numbers against the JSON.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_report", "variants_table"]

_HEADER = (
    "| variant | quantization | sparsity | size (bytes) | size (MB) | gzip -9 (bytes) "
    "| x smaller (gzip) | top-1 | top-5 | top-1 vs Keras | agreement | ms 1T / 2T |"
)


def _row(v: dict[str, Any], float_bytes: int) -> str:
    ratio = float_bytes / v["gzip_bytes"] if v["gzip_bytes"] else float("nan")
    delta = 100 * (v["top1"] - v["keras_top1"])
    return (
        f"| {v['name']} | {v['quantization']} | {100 * v['sparsity']:.1f}% "
        f"| {v['bytes']:,} | {v['bytes'] / 1e6:.3f} | {v['gzip_bytes']:,} | {ratio:.1f}x "
        f"| {100 * v['top1']:.1f}% | {100 * v['top5']:.1f}% | {delta:+.1f} pt "
        f"| {100 * v['keras_agreement']:.1f}% "
        f"| {v['latency_ms_1_thread']:.2f} / {v['latency_ms_2_threads']:.2f} |"
    )


def variants_table(doc: dict[str, Any]) -> str:
    """Markdown table, one row per variant; ratios are against the float32 file's raw size."""
    variants = doc["variants"]
    float_bytes = next(
        (v["bytes"] for v in variants if v["name"] == "float32"), variants[0]["bytes"]
    )
    separator = "|" + "---|" * _HEADER.count(" | ") + "---|"
    return "\n".join([_HEADER, separator, *(_row(v, float_bytes) for v in variants)])


def render_report(doc: dict[str, Any]) -> str:
    keras = doc["keras"]
    data = doc["dataset"]
    lines = [
        "# alexedge run report",
        "",
        f"Dataset: `{data['root']}`, {data['classes']} classes, {data['train_images']} "
        f"training and {data['val_images']} validation images"
        + (f" ({data['skipped']} unreadable files skipped)." if data.get("skipped") else "."),
        f"Model: `{doc['model']}` at {doc['input_size']}x{doc['input_size']}, "
        f"{doc['parameters']:,} parameters.",
        "",
        "| Keras model | top-1 | top-5 |",
        "|---|---|---|",
        *(
            f"| {name} | {100 * m['top1']:.1f}% | {100 * m['top5']:.1f}% |"
            for name, m in keras.items()
        ),
        "",
        "## TFLite variants (evaluated with the edge runtime on the validation split)",
        "",
        variants_table(doc),
        "",
        "Sizes are bytes on disk; `x smaller (gzip)` is float32's raw size over the "
        "variant's gzip -9 size (what a download costs). `agreement` is the share of "
        "validation images with the same top-1 as the Keras model the variant came from. "
        "Latency is the median single-image invoke with 1 and 2 threads on this machine.",
    ]
    if doc.get("android_assets"):
        a = doc["android_assets"]
        lines += ["", f"Android assets: `{a['folder']}` (variant `{a['variant']}`)."]
    if doc.get("timings_s"):
        lines += ["", "## Stage timings", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in doc["timings_s"].items()]
    return "\n".join(lines) + "\n"
