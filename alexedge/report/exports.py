"""``report.json`` and ``variants.csv``: the report's numbers for programs and spreadsheets.

Both carry exactly the numbers REPORT.md prints (unrounded), from the same rows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from alexedge.report.content import ReportContent
from alexedge.report.pareto import LATENCY_KEY, SIZE_KEY
from alexedge.report.rows import VariantRow, layer_error_reports

__all__ = ["REPORT_SCHEMA_VERSION", "report_json", "training_summary", "variants_csv"]

REPORT_SCHEMA_VERSION = 1


def variants_csv(rows: Sequence[VariantRow]) -> str:
    names = [f.name for f in fields(VariantRow)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    # float_layers as one cell, "conv1 fc8": a spreadsheet has no lists.
    writer.writerows({**r.to_dict(), "float_layers": " ".join(r.float_layers)} for r in rows)
    return buffer.getvalue()


def training_summary(curves: dict[str, list[float]] | None) -> dict[str, Any] | None:
    """Epochs run and the best validation top-1 with its epoch (None without val_top1)."""
    if not curves:
        return None
    summary: dict[str, Any] = {"epochs": len(curves["epoch"])}
    scored = [
        (v, int(e)) for v, e in zip(curves.get("val_top1", []), curves["epoch"], strict=False)
        if not math.isnan(v)
    ]  # fmt: skip
    if scored:
        best, epoch = max(scored, key=lambda s: (s[0], -s[1]))
        summary |= {"best_val_top1": best, "best_epoch": epoch}
    return summary


def report_json(content: ReportContent, figures: dict[str, str]) -> dict[str, Any]:
    doc = content.doc or {}
    rows = content.rows
    return {
        "report_schema_version": REPORT_SCHEMA_VERSION,
        "run": str(content.run_dir),
        "model": doc.get("model"),
        "input_size": doc.get("input_size"),
        "parameters": doc.get("parameters"),
        "dataset": doc.get("dataset"),
        "training": training_summary(content.curves),
        "init_from": content.init_from,
        "keras": {
            n: {"top1": m["top1"], "top5": m["top5"]} for n, m in doc.get("keras", {}).items()
        },
        "variants": [r.to_dict() for r in rows],
        "pareto": {
            "size_key": SIZE_KEY,
            "latency_key": LATENCY_KEY,
            "size_vs_top1": _front(rows, SIZE_KEY),
            "latency_vs_top1": _front(rows, LATENCY_KEY),
        },
        "layer_errors": layer_error_reports(doc) if content.doc else {},
        "class_damage": {n: [r.to_dict() for r in d] for n, d in content.damage.items()},
        "layers": [r.to_dict() for r in content.layers],
        "clusters": content.clusters.scores() if content.clusters else None,
        "figures": figures,
        "notes": content.notes,
    }


def _front(rows: Sequence[VariantRow], key: str) -> list[str]:
    """Front members cheapest first, as the rows flag them."""
    flag = "pareto_size" if key == SIZE_KEY else "pareto_latency"
    on = [r for r in rows if getattr(r, flag)]
    return [r.name for r in sorted(on, key=lambda r: (getattr(r, key), -r.top1, r.name))]
