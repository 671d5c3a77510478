"""The report's search section: the limits, which images chose and which reported, every
candidate tried in order with its verdict, and the path over the accuracy-vs-size front.

Losses of candidates are on the selection images (what the search decided on); the
selected file's loss is also given on the reporting images, with the paired flips that
say how much of it is noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alexedge.report.figures import new_figure, save_png

__all__ = ["plot_search_path", "search_section"]

_MET = "met"


def search_section(search: Mapping[str, Any]) -> list[str]:
    """Markdown lines of the ``search`` record of ``variants.json``."""
    limits, selection, reporting = search["limits"], search["selection"], search["reporting"]
    lines = ["## Compression search", "", _limits_line(limits, search), ""]
    lines += [_images_line(selection, reporting), ""]
    lines += [*_selected_lines(search, reporting), ""]
    lines += [_table(search["candidates"], search.get("selected")), ""]
    lines += [
        "Loss is top-1 points below the float Keras model on the selection images; "
        "`skipped-parent-missed`: the candidate it compresses further missed; "
        "`skipped-cannot-win`: its recipe cannot be smaller (or faster) than the best so far.",
        "",
    ]
    return lines


def _limits_line(limits: Mapping[str, Any], search: Mapping[str, Any]) -> str:
    per_class = limits.get("max_class_loss")
    class_text = f", no class more than {per_class:g}" if per_class is not None else ""
    stopped = "the budget was spent" if search["stopped"] == "budget" else "the ladder was done"
    return (
        f"Asked: the smallest file by {limits['objective']} that loses at most "
        f"{limits['max_loss']:g} top-1 points{class_text}; budget {limits['budget_minutes']:g} "
        f"min. {len(search['candidates'])} candidates in {search['seconds']:.0f} s; stopped "
        f"because {stopped}."
    )


def _images_line(selection: Mapping[str, Any], reporting: Mapping[str, Any]) -> str:
    return (
        f"{selection['images']} images selected ({selection['source']}; one image is "
        f"{selection['points_per_image']:.2f} pt, and a top-1 at the limit has a binomial "
        f"standard error of {selection['binomial_se_points']:.2f} pt there); "
        f"{reporting['images']} other images ({reporting['source']}) report the selected file."
    )


def _selected_lines(search: Mapping[str, Any], reporting: Mapping[str, Any]) -> list[str]:
    selected = search.get("selected")
    if selected is None:
        return ["No candidate met the limits."]
    if "top1" not in reporting:
        return [f"Selected: `{selected}`."]
    flips = reporting["flips"]
    return [
        f"Selected: `{selected}`. On the reporting images: top-1 {100 * reporting['top1']:.1f}% "
        f"against the float model's {100 * reporting['float_top1']:.1f}%, a loss of "
        f"{reporting['loss']:+.2f} pt (worst class {reporting['worst_class']} "
        f"{reporting['worst_class_loss']:+.1f} pt); against the float model it lost "
        f"{flips['lost']} images and gained {flips['gained']} (paired standard error "
        f"{flips['se_points']:.2f} pt)."
    ]


def _table(candidates: Sequence[Mapping[str, Any]], selected: str | None) -> str:
    header = ["#", "candidate", "stage", "verdict", "loss (pt)", "worst class (pt)", "gzip"]
    header += ["ms (1 thread)", "s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, c in enumerate(candidates, 1):
        name = f"**{c['name']}**" if c["name"] == selected else c["name"]
        measured = "loss" in c
        cells = [
            str(i),
            name,
            c["stage"],
            c["verdict"],
            f"{c['loss']:+.2f}" if measured else "-",
            f"{c['worst_class']} {c['worst_class_loss']:+.1f}" if measured else "-",
            f"{c['gzip_bytes']:,}" if measured else "-",
            f"{c['latency_ms']:.2f}" if measured else "-",
            f"{c['seconds']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_search_path(search: Mapping[str, Any], path: Path) -> Path:
    """Loss against gzip size of every measured candidate, joined in the order tried;
    the limit, the front of the candidates that met it, and the selected one."""
    numbers = {c["name"]: i for i, c in enumerate(search["candidates"], 1)}  # as in the table
    measured = [c for c in search["candidates"] if "loss" in c]
    figure = new_figure(7.5, 5)
    ax = figure.add_subplot()
    ax.plot(*_xy(measured), color="lightgrey", lw=0.8, zorder=1, label="order tried")
    met = [c for c in measured if c["verdict"] == _MET]
    missed = [c for c in measured if c["verdict"] != _MET]
    ax.scatter(*_xy(met), label="met", zorder=2)
    ax.scatter(*_xy(missed), marker="x", color="tab:red", label="missed", zorder=2)
    front = _front(met)
    if front:
        ax.step(*_xy(front), where="post", ls="--", color="tab:blue", lw=0.8, label="front")
    for c in measured:
        where = (c["gzip_bytes"], c["loss"])
        ax.annotate(str(numbers[c["name"]]), where, fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    chosen = [c for c in measured if c["name"] == search.get("selected")]
    if chosen:
        label = f"selected: {chosen[0]['name']}"
        ax.scatter(*_xy(chosen), marker="*", s=200, color="gold", edgecolor="black", zorder=3,
                   label=label)  # fmt: skip
    ax.axhline(search["limits"]["max_loss"], color="grey", ls=":", lw=0.8, label="--max-loss")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("download size: gzip -9 of the .tflite file (bytes, log scale)")
    ax.set_ylabel("top-1 loss against float Keras, selection images (points)")
    ax.set_title("Search path (numbers: the order tried, as in the table)")
    ax.legend(loc="lower right", fontsize=8)
    return save_png(figure, path)


def _xy(candidates: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    return [c["gzip_bytes"] for c in candidates], [c["loss"] for c in candidates]


def _front(met: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Candidates that met the limits with no other both smaller and losing less."""
    ordered = sorted(met, key=lambda c: (c["gzip_bytes"], c["loss"]))
    front: list[Mapping[str, Any]] = []
    for c in ordered:
        if not front or c["loss"] < front[-1]["loss"]:
            front.append(c)
    return front
