"""Pareto fronts of the variants: the ones worth shipping for some size or latency budget.

A variant is on the front when no other measured variant is at least as small (or fast)
and at least as accurate while strictly better in one of the two. Equal variants do
not dominate each other, so ties all stay on the front; failed variants (agreement
below their floor) are left out entirely: a file that disagrees with its Keras model
must neither be recommended nor push a good variant off the front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["LATENCY_KEY", "SIZE_KEY", "dominates", "pareto_front"]

# Download size: pruning's zeros only shrink the gzip file, not the raw one.
SIZE_KEY = "gzip_bytes"
LATENCY_KEY = "latency_ms_1_thread"


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``(cost, top1)`` ``a`` is no worse than ``b`` on both and better on one."""
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


def pareto_front(variants: Sequence[Mapping[str, Any]], cost_key: str) -> tuple[str, ...]:
    """Names of the variants on the (``cost_key``, top-1) front, cheapest first.

    Variants whose ``status`` is not ``"ok"`` (a missing status counts as ok: schema
    version 1) or whose cost is not a positive finite number are not candidates.
    """
    points = {
        v["name"]: (float(v[cost_key]), float(v["top1"]))
        for v in variants
        if v.get("status", "ok") == "ok" and _usable(v.get(cost_key))
    }
    front = [
        name
        for name, p in points.items()
        if not any(dominates(q, p) for other, q in points.items() if other != name)
    ]
    return tuple(sorted(front, key=lambda n: (points[n][0], -points[n][1], n)))


def _usable(cost: object) -> bool:
    return isinstance(cost, int | float) and math.isfinite(cost) and cost > 0
