"""A ``variants.json`` row for report tests: every schema-2 field, overridable."""

from __future__ import annotations

__all__ = ["measurement"]


def measurement(name: str, quantization: str, **extra: object) -> dict:
    """A schema-2 ``variants.json`` row (the fields ``VariantMeasurement.to_dict`` writes)."""
    row: dict = {
        "name": name,
        "file": f"{name}.tflite",
        "source": "float",
        "quantization": quantization,
        "bytes": 4000,
        "gzip_bytes": 3600,
        "weights": 1000,
        "nonzero_weights": 1000,
        "top1": 0.62,
        "top5": 0.91,
        "keras_top1": 0.61,
        "keras_agreement": 0.98,
        "latency_ms_1_thread": 2.0,
        "latency_ms_2_threads": 1.1,
        "sparsity_target": 0.0,
        "qat": False,
        "clusters": 0,
        "per_channel": True,
        "io": "uint8",
        "input": {},
        "output": {},
        "float_ops": {},
        "agreement_floor": 0.97,
        "status": "ok",
        "error": None,
        **extra,
    }
    row["megabytes"] = round(row["bytes"] / 1e6, 4)
    row["sparsity"] = round(1 - row["nonzero_weights"] / row["weights"], 4)
    return row
