"""Read ``RUN/history.csv`` (one row per committed epoch) as numeric columns.

Read with the csv module rather than ``alexedge.train.callbacks.read_history``,
which imports TensorFlow: a report of a copied run folder must work on a machine
with only the ``report`` extra installed.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from alexedge.errors import DataError

__all__ = ["CURVE_COLUMNS", "read_curves"]

# The columns the training curves plot (``alexedge.train.callbacks.HISTORY_COLUMNS``).
CURVE_COLUMNS = ("epoch", "lr", "loss", "top1", "val_loss", "val_top1")


def read_curves(path: Path) -> dict[str, list[float]]:
    """``{column: values per epoch}`` for the columns of ``CURVE_COLUMNS`` the file has.

    An empty cell (e.g. no validation that epoch) becomes NaN, which matplotlib skips.
    """
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read the training history ({e})") from e
    if not rows or "epoch" not in rows[0]:
        raise DataError(f"{path}: no epochs recorded (expected an 'epoch' column and rows)")
    columns = [c for c in CURVE_COLUMNS if c in rows[0]]
    try:
        return {c: [_number(r[c]) for r in rows] for c in columns}
    except ValueError as e:
        raise DataError(f"{path}: a value is not a number ({e}); the file is damaged") from e


def _number(cell: str | None) -> float:
    return math.nan if cell is None or not cell.strip() else float(cell)
