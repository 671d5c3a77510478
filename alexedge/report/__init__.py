"""Reports: the run's REPORT.md, report.json, variants.csv and figures, from its files.

``write_report(RUN)`` is the single writer; ``render_report(doc)`` and
``variants_table(doc)`` render a ``variants.json`` document alone. Plotting and
TensorFlow are imported only when a report is written, so importing this package
stays light.
"""

from alexedge.report.damage import ClassDamage, class_damage, worst_classes
from alexedge.report.markdown import render_report, variants_table
from alexedge.report.pareto import pareto_front
from alexedge.report.writer import ReportResult, write_report

__all__ = [
    "ClassDamage",
    "ReportResult",
    "class_damage",
    "pareto_front",
    "render_report",
    "variants_table",
    "worst_classes",
    "write_report",
]
