"""``write_report(RUN)``: the single writer of a run's report.

Gathers the content (``content.collect``), draws the pictures, then writes REPORT.md,
report.json and variants.csv, every file atomically: a report is rewritten after
each stage, and a reader (or a crash) must never see half of one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alexedge.atomic import write_json, write_text
from alexedge.report.clusters_plot import plot_clusters
from alexedge.report.confusion_plot import plot_confusion
from alexedge.report.content import ReportContent, collect
from alexedge.report.exports import report_json, variants_csv
from alexedge.report.figures import have_matplotlib
from alexedge.report.filters_plot import plot_conv1_filters
from alexedge.report.markdown import hardware_note, report_markdown, rows_table
from alexedge.report.saliency_plot import plot_saliency
from alexedge.report.search import plot_search_path
from alexedge.report.tradeoff_plots import plot_accuracy_vs_size, plot_latency_vs_size
from alexedge.report.training_plot import plot_training_curves

__all__ = ["FIGURES", "REPORT_JSON", "REPORT_MD", "VARIANTS_CSV", "ReportResult", "write_report"]

REPORT_MD = "REPORT.md"
REPORT_JSON = "report.json"
VARIANTS_CSV = "variants.csv"
# section -> file name, in the order REPORT.md shows them
FIGURES = {
    "training": "training_curves.png",
    "accuracy_vs_size": "accuracy_vs_size.png",
    "latency_vs_size": "latency_vs_size.png",
    "search_path": "search_path.png",
    "confusion": "confusion.png",
    "filters": "conv1_filters.png",
    "saliency": "saliency.png",
    "clusters": "clusters.png",
}


@dataclass(frozen=True)
class ReportResult:
    """What ``write_report`` wrote; ``table`` is the variants table for the terminal."""

    out: Path
    files: tuple[Path, ...]  # every file written, figures first
    figures: dict[str, str]  # section -> PNG file name in ``out``
    notes: dict[str, str]  # section -> why it is missing from the report
    table: str  # Markdown variants table; "" when compression has not run

    @property
    def report(self) -> Path:
        return self.out / REPORT_MD


def write_report(run_dir: Path, out: Path | None = None) -> ReportResult:
    """Write the report of the run in ``run_dir`` into ``out`` (default: ``run_dir``).

    Writes REPORT.md, report.json, variants.csv (when there are variants) and the
    PNG figures whose inputs exist; a missing input leaves a one-line note instead.

    Raises:
        AlexEdgeError: ``run_dir`` is not a folder, or ``variants.json``,
            ``predictions.npz`` or ``history.csv`` are damaged.
    """
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir
    content = collect(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = _draw(content, out)
    written = [out / name for name in figures.values()]
    if content.rows:
        written.append(write_text(out / VARIANTS_CSV, variants_csv(content.rows)))
    written.append(write_json(out / REPORT_JSON, report_json(content, figures)))
    written.append(write_text(out / REPORT_MD, report_markdown(content, figures)))
    table = f"{hardware_note(content.doc)}\n\n{rows_table(content.rows)}" if content.rows else ""
    return ReportResult(out, tuple(written), figures, dict(content.notes), table)


def _draw(content: ReportContent, out: Path) -> dict[str, str]:
    """``{section: file name}`` of the figures drawn; notes say why the others were not."""
    painters = _painters(content)
    if painters and not have_matplotlib():
        for section in painters:
            content.notes[section] = (
                "Figure skipped: matplotlib is not installed (pip install 'alexedge[report]')."
            )
        return {}
    drawn = {}
    for section, file_name in FIGURES.items():
        if section in painters:
            painters[section](out / file_name)
            drawn[section] = file_name
    return drawn


def _painters(c: ReportContent) -> dict[str, Callable[[Path], Path]]:
    """A drawing function per figure whose input the content has."""
    painters: dict[str, Callable[[Path], Path]] = {}
    if c.curves is not None:
        curves = c.curves
        painters["training"] = lambda p: plot_training_curves(curves, p)
    if c.rows:
        float_top1 = c.doc["keras"].get("float", {}).get("top1") if c.doc else None
        painters["accuracy_vs_size"] = lambda p: plot_accuracy_vs_size(c.rows, p, float_top1)
        painters["latency_vs_size"] = lambda p: plot_latency_vs_size(c.rows, p)
    if c.doc and c.doc.get("search"):
        search = c.doc["search"]
        painters["search_path"] = lambda p: plot_search_path(search, p)
    if c.confusion is not None:
        matrix = c.confusion
        painters["confusion"] = lambda p: plot_confusion(matrix, c.class_names, p)
    if c.filters is not None:
        name, kernel = c.filters
        painters["filters"] = lambda p: plot_conv1_filters(name, kernel, p)
    if c.saliency is not None:
        saliency = c.saliency
        painters["saliency"] = lambda p: plot_saliency(saliency, c.class_names, p)
    if c.clusters is not None and len(c.clusters.points):
        clusters = c.clusters
        painters["clusters"] = lambda p: plot_clusters(clusters, p)
    return painters
