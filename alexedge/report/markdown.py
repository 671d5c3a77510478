"""REPORT.md: text sections from the gathered content, pictures linked by relative path.

Pure functions from data to text, so the CLI prints exactly the table REPORT.md holds
and tests can check its numbers against ``variants.json`` and ``report.json``.
``render_report(doc)`` and ``variants_table(doc)`` work from a ``variants.json``
document alone (no run folder needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alexedge.hardware import hardware_line
from alexedge.report.content import ReportContent
from alexedge.report.damage import worst_classes
from alexedge.report.layers import LayerRow
from alexedge.report.pareto import LATENCY_KEY, SIZE_KEY
from alexedge.report.rows import VariantRow, check_doc, layer_error_reports, variant_rows
from alexedge.report.search import search_section
from alexedge.transfer.clusters import ClusterResult

__all__ = [
    "damage_section",
    "layer_errors_section",
    "layers_table",
    "render_report",
    "report_markdown",
    "rows_table",
    "summary_lines",
    "variants_section",
    "variants_table",
]

_HEADER = (
    "variant",
    "quantization",
    "sparsity",
    "size (bytes)",
    "size (MB)",
    "gzip -9 (bytes)",
    "x smaller",
    "x smaller (gzip)",
    "top-1",
    "top-5",
    "top-1 vs float Keras",
    "agreement",
    "ms 1 thread",
    "ms 2 threads",
    "Pareto",
)

VARIANTS_NOTE = (
    "Sizes are bytes on disk and after gzip -9 (what a download costs); `x smaller` is the "
    "float32 file's size over the variant's (raw, and gzipped). `top-1 vs float Keras` is "
    "in points against the trained Keras model. `agreement` is the share of validation "
    "images with the same top-1 as the Keras model the variant was converted from. "
    "Latency is the median single-image invoke on the machine that ran compress. "
    f"Pareto: `size` = no other variant is both smaller (`{SIZE_KEY}`) and at least as "
    f"accurate; `latency` = the same for 1-thread latency (`{LATENCY_KEY}`). Failed "
    "variants (agreement below their floor) are never on a front."
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _times(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _pareto(r: VariantRow) -> str:
    if r.status != "ok":
        return "failed"
    return ", ".join(
        n for n, flag in (("size", r.pareto_size), ("latency", r.pareto_latency)) if flag
    )


def _name_cell(r: VariantRow) -> str:
    # ``int8-autofloat2`` does not say which layers it kept: the cell does.
    name = f"{r.name} (float: {', '.join(r.float_layers)})" if r.float_layers else r.name
    return name if r.status == "ok" else f"{name} **(FAILED)**"


def _row_cells(r: VariantRow) -> list[str]:
    change = r.top1_change_vs_float_keras
    return [
        _name_cell(r),
        r.quantization,
        f"{100 * r.sparsity:.1f}%",
        f"{r.bytes:,}",
        f"{r.megabytes:.3f}",
        f"{r.gzip_bytes:,}",
        _times(r.x_smaller),
        _times(r.x_smaller_gzip),
        f"{100 * r.top1:.1f}%",
        f"{100 * r.top5:.1f}%",
        "n/a" if change is None else f"{change:+.1f} pt",
        f"{100 * r.agreement:.1f}%",
        f"{r.latency_ms_1_thread:.2f}",
        f"{r.latency_ms_2_threads:.2f}",
        _pareto(r),
    ]


def rows_table(rows: Sequence[VariantRow]) -> str:
    """The variants table (Markdown), one line per variant in ``rows``' order."""
    return _table(_HEADER, [_row_cells(r) for r in rows])


def variants_table(doc: Mapping[str, Any]) -> str:
    """The variants table of a ``variants.json`` document (checked: ``ModelError`` if bad)."""
    return rows_table(variant_rows(check_doc(dict(doc))))


def hardware_note(doc: Mapping[str, Any]) -> str:
    """Which machine the latency columns hold for: a latency means nothing without it."""
    hardware = doc.get("hardware")
    if not isinstance(hardware, Mapping):
        return "Latencies measured on: an unrecorded machine (variants.json predates the record)."
    return f"Latencies measured on: {hardware_line(dict(hardware))}."


def summary_lines(doc: Mapping[str, Any]) -> list[str]:
    data = doc["dataset"]
    skipped = f" ({data['skipped']} unreadable files skipped)." if data.get("skipped") else "."
    return [
        hardware_note(doc),
        f"Dataset: `{data['root']}`, {data['classes']} classes, {data['train_images']} "
        f"training and {data['val_images']} validation images{skipped}",
        f"Model: `{doc['model']}` at {doc['input_size']}x{doc['input_size']}, "
        f"{doc['parameters']:,} parameters.",
    ]


def variants_section(doc: Mapping[str, Any], rows: Sequence[VariantRow]) -> list[str]:
    keras = [
        [name, f"{100 * m['top1']:.1f}%", f"{100 * m['top5']:.1f}%"]
        for name, m in doc["keras"].items()
    ]
    failed = [f"- `{r.name}` failed: {r.error}" for r in rows if r.status != "ok"]
    lines = ["## Keras models", "", _table(("Keras model", "top-1", "top-5"), keras), ""]
    lines += ["## TFLite variants (edge runtime, validation split)", "", rows_table(rows), ""]
    lines += [VARIANTS_NOTE, *(["", *failed] if failed else [])]
    if doc.get("android_assets"):
        a = doc["android_assets"]
        lines += ["", f"Android assets: `{a['folder']}` (variant `{a['variant']}`)."]
    if doc.get("timings_s"):
        lines += ["", "## Stage timings", ""]
        lines.append(
            _table(("stage", "seconds"), [[k, f"{v:.1f}"] for k, v in doc["timings_s"].items()])
        )
    return lines


def damage_section(damage: Mapping[str, Sequence[Any]], limit: int = 5) -> list[str]:
    """Per variant, the classes whose top-1 dropped most against the float Keras model."""
    lines = [
        "Per-class top-1 of each variant against the float Keras model on the same "
        f"validation images; the (at most {limit}) classes that lose the most.",
    ]
    for name, rows in damage.items():
        worst = worst_classes(list(rows), limit)
        lines += ["", f"**{name}**" + ("" if worst else ": no class loses top-1.")]
        if worst:
            cells = [
                [
                    r.name,
                    f"{100 * r.float_top1:.1f}%",
                    f"{100 * r.variant_top1:.1f}%",
                    f"{-100 * r.loss:+.1f} pt",
                    str(r.images),
                ]
                for r in worst
            ]
            header = ("class", "float top-1", "variant top-1", "change", "images")
            lines += ["", _table(header, cells)]
    return lines


LAYER_ERRORS_NOTE = (
    "Each quantized Conv/Dense layer's output against its float twin fed the same input "
    "(TFLite quantization debugger, calibration images), so the error is the layer's own, "
    "not the sum of the layers before it. `SNR dB` = 10 log10(signal / error), lower is "
    "worse; `RMSE/step` is the root-mean-square error in units of the output's quantization "
    "step (rounding alone gives about 0.29; far above it, the weights are to blame)."
)
ACCUMULATED_NOTE = (
    "Sections headed *accumulated* (int16x8, int4: modes the quantization debugger cannot "
    "take) compare each Conv/Dense layer's output in the variant's file with the float32 "
    "file on the calibration images: each layer is fed the variant's own input, so its "
    "error includes that of every layer before it, and later layers tend to rank worse. "
    "Do not read that ranking as the int8 one, where each layer's error is its own. "
    "`RMSE/RMS` is the RMSE over the float output's RMS (the SNR on a linear scale); "
    "`RMSE/step` is in units of the output's int16 step (`-`: the output is float)."
)


def layer_errors_section(
    doc: Mapping[str, Any], rows: Sequence[VariantRow], limit: int = 10
) -> list[str]:
    """Per variant with a per-layer error report, its (at most ``limit``) worst layers.

    Empty for a document without ``layer_errors`` (written before they existed, or
    with ``--no-layer-errors``), so an old run's report is unchanged.
    """
    reports = layer_error_reports(doc)
    quantization = {r.name: r.quantization for r in rows}
    lines: list[str] = []
    methods: set[bool] = set()
    for name, errors in reports.items():
        accumulated = _accumulated(errors)
        methods.add(accumulated)
        shown = errors[:limit]
        kind = f"{quantization.get(name, '')} error," + (" accumulated," if accumulated else "")
        lines += [f"## Per-layer {kind} worst first: `{name}`", ""]
        table = _accumulated_table(shown) if accumulated else _isolated_table(shown)
        reading = _accumulated_reading if accumulated else _worst_reading
        lines += [reading(errors[0]), "", table]
        if len(errors) > len(shown):
            left = len(errors) - len(shown)
            lines += ["", f"{left} better layers not shown (all {len(errors)} in variants.json)."]
        lines.append("")
    notes = [LAYER_ERRORS_NOTE] * (False in methods) + [ACCUMULATED_NOTE] * (True in methods)
    return [*lines, "\n\n".join(notes)] if lines else []


def _accumulated(errors: Sequence[Mapping[str, Any]]) -> bool:
    return any(e.get("method") == "accumulated" for e in errors)


def _isolated_table(errors: Sequence[Mapping[str, Any]]) -> str:
    cells = [
        [e["layer"], e["op"], f"{e['snr_db']:.1f}", f"{e['rmse_over_scale']:.2f}"] for e in errors
    ]
    return _table(("layer", "op", "SNR dB", "RMSE/step"), cells)


def _accumulated_table(errors: Sequence[Mapping[str, Any]]) -> str:
    cells = [
        [
            e["layer"],
            e["op"],
            f"{e['snr_db']:.1f}",
            f"{100 * e['rmse_over_rms']:.2f}%",
            f"{e['rmse_over_scale']:.1f}" if "rmse_over_scale" in e else "-",
        ]
        for e in errors
    ]
    return _table(("layer", "op", "SNR dB", "RMSE/RMS", "RMSE/step"), cells)


def _worst_reading(worst: Mapping[str, Any]) -> str:
    return (
        f"`{worst['layer']}` ({worst['op']}) loses the most: {worst['snr_db']:.1f} dB SNR, "
        f"{worst['rmse_over_scale']:.2f} steps RMSE. To keep it in float: "
        f"`alexedge compress RUN --float-layers {worst['layer']}`, or `--auto-float K` for "
        "the K worst."
    )


def _accumulated_reading(worst: Mapping[str, Any]) -> str:
    return (
        f"`{worst['layer']}` ({worst['op']}) ends furthest from float: "
        f"{worst['snr_db']:.1f} dB SNR, RMSE {100 * worst['rmse_over_rms']:.2f}% of its "
        "output's RMS. Accumulated error: it includes every earlier layer's, so it is not "
        "this layer's own (`--float-layers` and `--auto-float` are for int8 variants)."
    )


def clusters_section(result: ClusterResult) -> list[str]:
    """How well k-means on the run's features recovers the classes (``embed --clusters``)."""
    lines = [
        f"## Clusters of {result.layer} features",
        "",
        f"k-means (k = {result.clusters}, seed {result.seed}) on {result.pca_dims} principal "
        f"components ({100 * result.explained_variance:.1f}% of the variance) of the "
        f"{'L2-normalised ' if result.l2_normalized else ''}{result.layer} vectors of "
        f"{result.images} images (`{result.source}`).",
        "",
    ]
    if result.ami is None:
        return [*lines, "_The images had no labels: no agreement with classes to score._", ""]
    table = _table(
        ("adjusted mutual information", "adjusted Rand index", "purity"),
        [(f"{result.ami:.3f}", f"{result.ari:.3f}", f"{100 * result.purity:.1f}%")],
    )
    reading = (
        "Adjusted mutual information and the adjusted Rand index are 0 for clusters no "
        "better than chance and 1 when they are the classes; purity is the share of images "
        "in their cluster's majority class."
    )
    return [*lines, table, "", reading, ""]


def layers_table(layers: Sequence[LayerRow]) -> str:
    variants = list(dict.fromkeys(v for r in layers for v in r.sparsity))
    header = ("layer", "kind", "parameters", "multiply-adds", *(f"zeros: {v}" for v in variants))
    cells = [
        [
            r.name,
            r.kind,
            f"{r.parameters:,}",
            f"{r.macs:,}",
            *(_share(r.sparsity.get(v)) for v in variants),
        ]
        for r in layers
    ]
    total = ["**total**", "", f"{sum(r.parameters for r in layers):,}"]
    total += [f"{sum(r.macs for r in layers):,}", *([""] * len(variants))]
    return _table(header, [*cells, total])


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render_report(doc: Mapping[str, Any]) -> str:
    """A REPORT.md from a ``variants.json`` document alone (no figures, no training)."""
    doc = check_doc(dict(doc))
    rows = variant_rows(doc)
    errors = layer_errors_section(doc, rows)
    lines = ["# alexedge run report", "", *summary_lines(doc), "", *variants_section(doc, rows)]
    return "\n".join([*lines, *(["", *errors] if errors else [])]) + "\n"


_ALT = {
    "training": "Training curves",
    "accuracy_vs_size": "Accuracy vs size",
    "latency_vs_size": "Latency vs size",
    "search_path": "Search path",
    "confusion": "Confusion matrix",
    "filters": "conv1 filters",
    "saliency": "Saliency maps",
    "clusters": "Features by class on two principal components",
}

LAYERS_NOTE = (
    "Parameters and multiply-adds (one per kernel weight per output position) come from "
    "`best.keras`; `zeros: <variant>` is the share of zeros in that layer's weights as "
    "stored in the variant's .tflite file (batch norm folded in, biases excluded), matched "
    "to the layer by tensor name; `-`: no tensor of the file matched the layer."
)


def _figure(section: str, figures: Mapping[str, str], notes: Mapping[str, str]) -> list[str]:
    if section in figures:
        return [f"![{_ALT[section]}]({figures[section]})", ""]
    return [f"_{notes[section]}_", ""] if section in notes else []


def _note(section: str, notes: Mapping[str, str]) -> list[str]:
    return [f"_{notes[section]}_", ""] if section in notes else []


def _training_lines(content: ReportContent) -> list[str]:
    from alexedge.report.exports import training_summary

    summary = training_summary(content.curves)
    if not summary:
        return []
    origin = _init_from_lines(content.init_from) if content.init_from else []
    line = f"{summary['epochs']} epochs"
    if "best_val_top1" in summary:
        line += (
            f"; best validation top-1 {100 * summary['best_val_top1']:.1f}% "
            f"at epoch {summary['best_epoch']}"
        )
    return [*origin, line + ".", ""]


def _init_from_lines(init_from: Mapping[str, Any]) -> list[str]:
    top1 = init_from.get("top1")
    scored = f", validation top-1 {100 * top1:.1f}%" if top1 is not None else ""
    return [
        f"Weights from `{init_from['run']}` ({init_from['model']}, {init_from['classes']} "
        f"classes{scored}; best.keras sha256 {init_from['best_keras_sha256'][:12]}): "
        f"{len(init_from['copied'])} layers copied, {', '.join(init_from['fresh'])} "
        "started fresh.",
        "",
    ]


def report_markdown(content: ReportContent, figures: Mapping[str, str]) -> str:
    """The full REPORT.md; figures are linked by file name (they sit beside it)."""
    notes = content.notes
    lines = [f"# alexedge run report: `{content.run_dir.name}`", ""]
    if content.doc:
        lines += [*summary_lines(content.doc), ""]
    lines += ["## Training", "", *_note("training", notes), *_training_lines(content)]
    lines += _figure("training", figures, notes)
    if content.doc and content.rows:
        lines += [*variants_section(content.doc, content.rows), ""]
        lines += _figure("accuracy_vs_size", figures, notes)
        lines += _figure("latency_vs_size", figures, notes)
        errors = layer_errors_section(content.doc, content.rows)
        lines += [*errors, ""] if errors else []
    if content.doc and content.doc.get("search"):
        lines += [*search_section(content.doc["search"]), *_figure("search_path", figures, notes)]
    else:
        lines += ["## TFLite variants", "", *_note("variants", notes)]
    lines += ["## Per-class damage", ""]
    lines += [*damage_section(content.damage), ""] if content.damage else _note("damage", notes)
    lines += ["## Confusion matrix (float Keras model)", "", *_figure("confusion", figures, notes)]
    lines += ["## First-layer filters", "", *_figure("filters", figures, notes)]
    lines += ["## Saliency", "", *_figure("saliency", figures, notes)]
    if content.clusters is not None:
        lines += [*clusters_section(content.clusters), *_figure("clusters", figures, notes)]
    lines += ["## Layers", ""]
    if content.layers:
        lines += [layers_table(content.layers), "", LAYERS_NOTE, ""]
    lines += _note("layers", notes)
    return "\n".join(lines).rstrip() + "\n"
