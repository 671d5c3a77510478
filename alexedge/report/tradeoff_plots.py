"""``accuracy_vs_size.png`` and ``latency_vs_size.png``: the trade-off a user ships from.

Size is the gzip -9 download size (pruning's zeros only shrink that), on a log axis;
the Pareto front is the dashed staircase through the variants worth shipping. Failed
variants are drawn as red crosses and never join the front.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alexedge.report.figures import new_figure, save_png
from alexedge.report.rows import VariantRow

__all__ = ["plot_accuracy_vs_size", "plot_latency_vs_size"]


def plot_accuracy_vs_size(
    rows: Sequence[VariantRow], path: Path, float_keras_top1: float | None = None
) -> Path:
    figure = new_figure(7.5, 5)
    ax = figure.add_subplot()
    _scatter(ax, rows, lambda r: r.gzip_bytes, lambda r: 100 * r.top1)
    _front(ax, [r for r in rows if r.pareto_size], lambda r: r.gzip_bytes, lambda r: 100 * r.top1)
    if float_keras_top1 is not None:
        ax.axhline(100 * float_keras_top1, color="grey", lw=0.8, ls=":", label="float Keras model")
    _limits(ax)
    ax.set_xscale("log")
    ax.set_xlabel("download size: gzip -9 of the .tflite file (bytes, log scale)")
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title("Accuracy vs size")
    ax.legend(loc="lower right", fontsize=8)
    return save_png(figure, path)


def plot_latency_vs_size(rows: Sequence[VariantRow], path: Path) -> Path:
    """Left: top-1 against 1-thread latency, with its front. Right: latency against size."""
    figure = new_figure(12, 5)
    left, right = figure.subplots(1, 2)
    _scatter(left, rows, lambda r: r.latency_ms_1_thread, lambda r: 100 * r.top1)
    front = [r for r in rows if r.pareto_latency]
    _front(left, front, lambda r: r.latency_ms_1_thread, lambda r: 100 * r.top1)
    _limits(left)
    left.set_xscale("log")
    left.set_xlabel("median latency, 1 thread (ms, log scale)")
    left.set_ylabel("validation top-1 (%)")
    left.set_title("Accuracy vs latency")
    left.legend(loc="lower right", fontsize=8)
    for attr, marker, label in (
        ("latency_ms_1_thread", "o", "1 thread"),
        ("latency_ms_2_threads", "s", "2 threads"),
    ):
        right.scatter(
            [r.bytes for r in rows], [getattr(r, attr) for r in rows], marker=marker, label=label
        )
    for r in rows:
        right.annotate(r.name, (r.bytes, r.latency_ms_1_thread), **_LABEL)
    right.margins(x=0.2, y=0.15)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("file size (bytes, log scale)")
    right.set_ylabel("median latency per image (ms, log scale)")
    right.set_title("Latency vs size")
    right.legend(fontsize=8)
    return save_png(figure, path)


_LABEL: dict[str, Any] = {"textcoords": "offset points", "xytext": (4, 4), "fontsize": 7}


def _scatter(ax: Any, rows: Sequence[VariantRow], x: Any, y: Any) -> None:
    ok = [r for r in rows if r.status == "ok"]
    failed = [r for r in rows if r.status != "ok"]
    by_quantization: dict[str, list[VariantRow]] = {}
    for r in ok:
        by_quantization.setdefault(r.quantization, []).append(r)
    for quantization, group in by_quantization.items():
        ax.scatter([x(r) for r in group], [y(r) for r in group], label=quantization, zorder=3)
    if failed:
        ax.scatter(
            [x(r) for r in failed], [y(r) for r in failed], marker="x", color="red",
            label="failed verification", zorder=3,
        )  # fmt: skip
    for r in rows:
        ax.annotate(r.name + ("" if r.status == "ok" else " (failed)"), (x(r), y(r)), **_LABEL)


def _limits(ax: Any) -> None:
    """Room for the labels on the right; no tick above 100% when every variant is at 100%."""
    ax.margins(x=0.2, y=0.1)
    low, high = ax.get_ylim()
    ax.set_ylim(low, min(high, 101.0))


def _front(ax: Any, front: Sequence[VariantRow], x: Any, y: Any) -> None:
    """A staircase: cheaper points below and left, each step holding until a better one."""
    points = sorted((x(r), y(r)) for r in front)
    if not points:
        return
    ax.scatter(
        [p[0] for p in points], [p[1] for p in points], s=140, facecolors="none",
        edgecolors="black", zorder=4,
    )  # fmt: skip
    ax.step(
        [p[0] for p in points], [p[1] for p in points], where="post", ls="--", color="black",
        lw=1, label="Pareto front", zorder=2,
    )  # fmt: skip
