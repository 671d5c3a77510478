"""One report row per variant: what ``variants.json`` measured plus what the report derives.

Derived here, once, for REPORT.md, report.json, variants.csv and the figures alike:
size ratios against the trained model's float32 file, the top-1 change against the
float Keras model (the model people would ship without compression), and the
Pareto flags. A document that breaks the schema raises ``ModelError`` naming the
field, never a ``KeyError`` from deep inside a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from alexedge.compress.schema import validate_variants_doc
from alexedge.errors import ModelError
from alexedge.report.pareto import LATENCY_KEY, SIZE_KEY, pareto_front

__all__ = ["VariantRow", "check_doc", "float_reference", "layer_error_reports", "variant_rows"]


@dataclass(frozen=True)
class VariantRow:
    name: str
    source: str
    quantization: str
    status: str
    sparsity: float
    bytes: int
    megabytes: float
    gzip_bytes: int
    x_smaller: float | None  # float32 file's bytes / this file's bytes
    x_smaller_gzip: float | None  # float32 file's bytes / this file's gzip -9 bytes
    top1: float
    top5: float
    top1_change_vs_float_keras: float | None  # points (x100), None without keras["float"]
    agreement: float  # same top-1 as the Keras model this variant was converted from
    latency_ms_1_thread: float
    latency_ms_2_threads: float
    pareto_size: bool
    pareto_latency: bool
    error: str | None
    float_layers: tuple[str, ...] = ()  # Keras layers a selective-float variant keeps in float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_doc(doc: object, source: str = "variants.json") -> dict[str, Any]:
    """``doc`` if it follows the schema (``validate_variants_doc``: keys, types, version)."""
    try:
        validate_variants_doc(doc)
    except ModelError as e:
        raise ModelError(f"{source}: {e}; rerun `alexedge compress`") from e
    return dict(doc)  # type: ignore[call-overload]


def float_reference(variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The trained model's float32 file: named ``float32``, else float32 from source float."""
    named = [v for v in variants if v["name"] == "float32"]
    fallback = [v for v in variants if v["quantization"] == "float32" and v["source"] == "float"]
    return (named or fallback or [None])[0]


def variant_rows(doc: Mapping[str, Any]) -> list[VariantRow]:
    """Rows in the document's order; ``doc`` must have passed ``check_doc``."""
    variants = doc["variants"]
    reference = float_reference(variants)
    float_top1 = doc["keras"].get("float", {}).get("top1")
    by_size = set(pareto_front(variants, SIZE_KEY))
    by_latency = set(pareto_front(variants, LATENCY_KEY))
    return [
        VariantRow(
            name=v["name"],
            source=v["source"],
            quantization=v["quantization"],
            status=v.get("status", "ok"),
            sparsity=v["sparsity"],
            bytes=v["bytes"],
            megabytes=v["bytes"] / 1e6,
            gzip_bytes=v["gzip_bytes"],
            x_smaller=_ratio(reference, v["bytes"]),
            x_smaller_gzip=_ratio(reference, v["gzip_bytes"]),
            top1=v["top1"],
            top5=v["top5"],
            top1_change_vs_float_keras=(
                None if float_top1 is None else 100 * (v["top1"] - float_top1)
            ),
            agreement=v["keras_agreement"],
            latency_ms_1_thread=v["latency_ms_1_thread"],
            latency_ms_2_threads=v["latency_ms_2_threads"],
            pareto_size=v["name"] in by_size,
            pareto_latency=v["name"] in by_latency,
            error=v.get("error"),
            float_layers=tuple(v.get("float_layers", ())),
        )
        for v in variants
    ]


def layer_error_reports(doc: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{variant: its layer_errors}``, worst (lowest SNR) first, for variants that have one.

    ``compress`` writes them worst first already; sorting again keeps a hand-edited or
    merged document from putting a harmless layer at the top of the report.
    """
    return {
        v["name"]: sorted(v["layer_errors"], key=lambda e: (e["snr_db"], e["layer"]))
        for v in doc["variants"]
        if v.get("layer_errors")
    }


def _ratio(reference: Mapping[str, Any] | None, size: float) -> float | None:
    if reference is None or not size or not math.isfinite(size):
        return None
    return reference["bytes"] / size
