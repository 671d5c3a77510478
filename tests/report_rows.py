"""``variants.json`` pieces for report tests: rows with every schema-2 field, overridable."""

from __future__ import annotations

__all__ = ["layer_error", "measurement", "variants_doc"]


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


def layer_error(layer: str, snr_db: float, rmse_over_scale: float, op: str = "CONV_2D") -> dict:
    """One ``layer_errors`` entry, as ``LayerError.to_dict`` writes it."""
    return {
        "layer": layer,
        "op": op,
        "snr_db": snr_db,
        "rmse_over_scale": rmse_over_scale,
        "scale": 0.05,
    }


def variants_doc(variants: list[dict]) -> dict:
    """A schema-2 ``variants.json`` document around ``variants`` (float Keras top-1 0.61)."""
    return {
        "schema_version": 2,
        "model": "alexnet-reduced",
        "input_size": 32,
        "parameters": 1234,
        "dataset": {"root": "/d", "classes": 3, "train_images": 9, "val_images": 6, "skipped": 0},
        "keras": {"float": {"top1": 0.61, "top5": 0.9}},
        "variants": variants,
    }
