"""Reports: accuracy vs size (and latency) tables from a run's ``variants.json``."""

from alexedge.report.markdown import render_report, variants_table

__all__ = ["render_report", "variants_table"]
