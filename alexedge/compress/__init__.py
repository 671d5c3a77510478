"""Compression as a chain of small steps: wrap -> fine-tune -> strip -> convert -> measure.

``prune``, ``cluster`` and ``qat`` wrap a trained Keras model with tensorflow-model-
optimization and fine-tune it; ``convert`` turns any Keras model into TFLite bytes
(float32, dynamic range, float16, full int8); ``measure`` and ``verify`` evaluate an
exported file with the edge runtime and check it against its Keras model;
``layer_errors`` ranks the layers an integer export damages and ``float_layers`` keeps
chosen ones in float; ``family`` strings them together for ``alexedge compress RUN``.

The functions named like their modules (``prune.prune``, ``cluster.cluster``,
``convert.convert``, ``layer_errors.layer_errors``) are imported from those modules: a
package attribute of the same name would be replaced by the submodule once it is
imported. Names are imported on first use (PEP 562): ``alexedge.config`` imports the
``CompressConfig`` from here, and must not pull TensorFlow in with it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AgreementError",
    "CompressConfig",
    "CompressResult",
    "LayerError",
    "LayerSparsity",
    "VariantMeasurement",
    "auto_float_layers",
    "calibrate",
    "calibrator",
    "compress_run",
    "count_weights",
    "export_with_float_layers",
    "float_ops",
    "io_tensors",
    "layer_sparsity",
    "measure_variant",
    "plan_family",
    "qat_finetune",
    "quantization_aware",
    "validate_variants_doc",
    "weight_layers",
]

_HOME = {
    "AgreementError": "verify",
    "CompressConfig": "config",
    "CompressResult": "family",
    "LayerError": "layer_errors",
    "LayerSparsity": "prune",
    "VariantMeasurement": "measure",
    "auto_float_layers": "float_layers",
    "calibrate": "layer_errors",
    "calibrator": "layer_errors",
    "compress_run": "family",
    "count_weights": "tflite_weights",
    "export_with_float_layers": "float_layers",
    "float_ops": "tflite_ops",
    "io_tensors": "tflite_ops",
    "layer_sparsity": "prune",
    "measure_variant": "measure",
    "plan_family": "family",
    "qat_finetune": "qat",
    "quantization_aware": "qat",
    "validate_variants_doc": "schema",
    "weight_layers": "layer_errors",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'alexedge.compress' has no attribute {name!r}")
    return getattr(importlib.import_module(f"alexedge.compress.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
