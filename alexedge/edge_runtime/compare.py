"""``alexedge bench RUN``: time every variant of a run on this machine, name the fastest.

The latencies in ``variants.json`` hold for the machine that ran ``compress``. Which
variant is fastest changes with the CPU: int8 ran 3.9x faster than float32 on a Xeon
with VNNI and AMX and 0.7x as fast on an AVX2-only EPYC. So the choice is made again
where the model will run, among the variants that met their agreement floor with their
Keras model (the accuracy ``compress`` verified); the file's own accuracy does not
depend on the machine, its speed does.

``--json`` prints ``comparison_to_json(result)`` (schema version 1)::

    {
      "schema_version": 1,
      "run": str,
      "hardware": {...},              # alexedge.hardware.describe_hardware()
      "threads": [int, ...],
      "fastest": str | null,          # the fastest passing variant at threads[0]
      "variants": [{"name": str, "file": str, "quantization": str, "bytes": int,
                    "top1": float, "keras_agreement": float, "agreement_floor": float,
                    "passed": bool, "median_ms": [float, ...]}, ...]   # per thread count
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.edge_runtime.bench import BenchConfig
from alexedge.edge_runtime.latency import measure_latency
from alexedge.errors import ModelError
from alexedge.hardware import describe_hardware, hardware_line
from alexedge.run import VARIANTS_DIR, VARIANTS_JSON

__all__ = [
    "COMPARISON_SCHEMA_VERSION",
    "VariantComparison",
    "VariantTiming",
    "compare_variants",
    "comparison_to_json",
    "format_comparison",
    "is_run_folder",
]

COMPARISON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class VariantTiming:
    name: str
    file: str
    quantization: str
    bytes: int
    top1: float
    keras_agreement: float
    agreement_floor: float
    passed: bool  # met its agreement floor when compress verified it
    median_ms: tuple[float, ...]  # one per thread count


@dataclass(frozen=True)
class VariantComparison:
    run: str
    threads: tuple[int, ...]
    variants: tuple[VariantTiming, ...]

    @property
    def fastest(self) -> VariantTiming | None:
        """The passing variant with the lowest median at the first thread count."""
        passing = [v for v in self.variants if v.passed]
        return min(passing, key=lambda v: v.median_ms[0]) if passing else None


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and (path / VARIANTS_JSON).is_file()


def compare_variants(run_dir: Path, config: BenchConfig | None = None) -> VariantComparison:
    """Time each variant file of ``run_dir/variants.json`` at ``config.threads``.

    Raises:
        ModelError: no readable variants.json, a listed file is missing or cannot run.
    """
    config = config if config is not None else BenchConfig()
    rows = _variant_rows(run_dir)
    timed = []
    for row in rows:
        path = run_dir / VARIANTS_DIR / str(row["file"])
        if not path.is_file():
            raise ModelError(f"{path}: listed in {VARIANTS_JSON} but missing; run compress again")
        medians = tuple(
            measure_latency(
                path, n, config.runs, config.warmup, config.batch, seed=config.seed
            ).median_ms
            for n in config.threads
        )
        timed.append(_timing(row, path, medians))
    return VariantComparison(str(run_dir), config.threads, tuple(timed))


def _variant_rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / VARIANTS_JSON
    try:
        doc = json.loads(path.read_text())
        rows = [v for v in doc["variants"] if isinstance(v, dict) and v.get("file")]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{path}: unreadable variants document ({e}); run compress again") from e
    if not rows:
        raise ModelError(f"{path}: no variant files to time; run `alexedge compress RUN` first")
    return rows


def _timing(row: dict[str, Any], path: Path, medians: tuple[float, ...]) -> VariantTiming:
    agreement = float(row.get("keras_agreement") or 0.0)
    floor = float(row.get("agreement_floor") or 0.0)
    return VariantTiming(
        name=str(row["name"]),
        file=str(row["file"]),
        quantization=str(row.get("quantization", "")),
        bytes=path.stat().st_size,
        top1=float(row.get("top1") or 0.0),
        keras_agreement=agreement,
        agreement_floor=floor,
        passed=row.get("status", "ok") == "ok" and agreement >= floor,
        median_ms=medians,
    )


def comparison_to_json(result: VariantComparison) -> dict[str, Any]:
    """The ``--json`` object documented in this module's docstring."""
    fastest = result.fastest
    return {
        "schema_version": COMPARISON_SCHEMA_VERSION,
        "run": result.run,
        "hardware": describe_hardware(),
        "threads": list(result.threads),
        "fastest": fastest.name if fastest else None,
        "variants": [
            {
                "name": v.name,
                "file": v.file,
                "quantization": v.quantization,
                "bytes": v.bytes,
                "top1": v.top1,
                "keras_agreement": v.keras_agreement,
                "agreement_floor": v.agreement_floor,
                "passed": v.passed,
                "median_ms": list(v.median_ms),
            }
            for v in result.variants
        ],
    }


def format_comparison(result: VariantComparison) -> str:
    """The machine, one row per variant (fastest first), then the verdict."""
    threads = "  ".join(f"{f'ms {n} thr':>9}" for n in result.threads)
    lines = [
        f"run      {result.run}",
        f"hardware {hardware_line()}",
        "",
        f"{'variant':<24} {'mode':<9} {'bytes':>11} {'top-1':>6} {'agreement':>9}  {threads}",
    ]
    for v in sorted(result.variants, key=lambda v: v.median_ms[0]):
        medians = "  ".join(f"{ms:>9.3f}" for ms in v.median_ms)
        mark = "" if v.passed else "  (below its agreement floor)"
        lines.append(
            f"{v.name:<24} {v.quantization:<9} {v.bytes:>11,} {100 * v.top1:>5.1f}% "
            f"{100 * v.keras_agreement:>8.1f}%  {medians}{mark}"
        )
    fastest = result.fastest
    lines.append("")
    if fastest is None:
        lines.append("no variant met its agreement floor: none recommended")
    else:
        lines.append(
            f"fastest here within its agreement floor: {fastest.name} "
            f"({fastest.median_ms[0]:.3f} ms, {result.threads[0]} thread(s))"
        )
    return "\n".join(lines)
