"""``RUN/variants.json``: the measured variants of a run, the input of every report.

Schema version 2 is version 1 plus fields: readers of version 1 keep working,
because no key was removed or changed meaning. Version 2 adds, per variant,
``sparsity_target``, ``qat``, ``clusters``, ``per_channel``, ``io``, ``input`` and
``output`` (dtype, shape, scale, zero point), ``float_ops`` (ops computing in float,
with counts), ``agreement_floor``, ``status`` (``ok``/``failed``) and ``error``; per
Keras model
under ``keras``, optionally ``sparsity_target``, ``clusters``, ``qat`` and ``layers``
(per-layer sparsity); and a top-level ``compress`` (the ``CompressConfig`` used).
Optional per variant (absent in older documents, still version 2): ``layer_errors``
(an integer variant's per-layer error against float, worst first) and ``float_layers``
(the Keras layers a selective-float variant keeps in float). A ``layer_errors`` row has
``layer``, ``op``, ``snr_db`` and ``method``: ``isolated`` (int8, the quantization
debugger; rows without ``method`` were written before it existed and are isolated too)
with ``rmse_over_scale`` and ``scale``, or ``accumulated`` (int16x8, int4: the file
against the float32 file) with ``rmse_over_rms`` and, where the output is quantized,
``rmse_over_scale`` and ``scale``.

Version 3 is version 2 plus, optionally, a top-level ``search`` (``alexedge compress
--max-loss``: every candidate tried with its recipe, measurements on the selection
images, verdict and time, the images that selected and reported, and the ``selected``
variant, which must be a row of ``variants``; ``search.record``) and, per variant,
``measured_on``: ``reporting`` when its accuracy was measured on the reporting half of
the validation split only (absent: on all of it). A search writes its document whole:
rows measured on other images are not merged into it. Versions 1 and 2 are still read.

``alexedge compress`` merges into an existing document: variants it made again are
replaced, others (whose files still exist) are kept, unknown top-level keys stay.
Optional top-level ``hardware`` (``alexedge.hardware.describe_hardware``): the machine
the latest ``compress`` measured latencies on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alexedge.errors import ModelError
from alexedge.hardware import describe_hardware

__all__ = [
    "DOC_KEYS",
    "SCHEMA_VERSION",
    "SUPPORTED_VERSIONS",
    "V1_VARIANT_KEYS",
    "V2_VARIANT_KEYS",
    "merge_variants_doc",
    "validate_variants_doc",
]

SCHEMA_VERSION = 3
DOC_KEYS = ("schema_version", "model", "input_size", "parameters", "dataset", "keras", "variants")
DATASET_KEYS = ("root", "classes", "train_images", "val_images", "skipped")
V1_VARIANT_KEYS = (
    "name",
    "file",
    "source",
    "quantization",
    "bytes",
    "gzip_bytes",
    "weights",
    "nonzero_weights",
    "top1",
    "top5",
    "keras_top1",
    "keras_agreement",
    "latency_ms_1_thread",
    "latency_ms_2_threads",
    "megabytes",
    "sparsity",
)
V2_VARIANT_KEYS = (
    "sparsity_target",
    "qat",
    "clusters",
    "per_channel",
    "io",
    "input",
    "output",
    "float_ops",
    "agreement_floor",
    "status",
    "error",
)
SUPPORTED_VERSIONS = (1, 2, 3)
_MEASURED_ON = ("validation", "reporting")
_STATUSES = ("ok", "failed")
_TEXTS = ("name", "file", "source", "quantization")
_NUMBERS = tuple(k for k in V1_VARIANT_KEYS if k not in _TEXTS)
_SHARES = ("top1", "top5", "keras_top1", "keras_agreement", "sparsity", "sparsity_target")


def merge_variants_doc(
    new: Mapping[str, Any], previous: Mapping[str, Any] | None, variants_dir: Path
) -> dict[str, Any]:
    """``new`` with what ``previous`` had that ``new`` does not replace.

    Previous variants are kept when ``new`` has none of that name and their file is
    still in ``variants_dir``; previous Keras scores are kept unless re-measured.
    """
    doc = {**(previous or {}), **new, "hardware": describe_hardware()}
    if not previous:
        return doc
    names = {v["name"] for v in new["variants"]}
    kept = [
        v
        for v in previous.get("variants", [])
        if v.get("name") not in names and (variants_dir / str(v.get("file"))).is_file()
    ]
    doc["variants"] = [*new["variants"], *kept]
    doc["keras"] = {**previous.get("keras", {}), **new["keras"]}
    return doc


def validate_variants_doc(doc: object) -> None:
    """Raise ``ModelError`` listing every way ``doc`` breaks the schema.

    Checks presence, types and ranges of every field readers use, and the schema
    version, so any reader (compress, package, report) can trust a validated document:
    a malformed file is one clear error, never a ``KeyError`` or ``TypeError`` later.
    """
    if not isinstance(doc, Mapping):
        raise ModelError(f"variants.json must be a JSON object, got {type(doc).__name__}")
    problems = [f"missing key {k!r}" for k in DOC_KEYS if k not in doc]
    if not problems:
        problems = _doc_problems(doc)
    if problems:
        raise ModelError("variants.json does not follow the schema: " + "; ".join(problems))


def _doc_problems(doc: Mapping[str, Any]) -> list[str]:
    version = doc["schema_version"]
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        return [
            f"schema_version {version!r} is not one this alexedge reads "
            f"({', '.join(map(str, SUPPORTED_VERSIONS))}); a newer alexedge wrote it?"
        ]
    if not isinstance(doc["dataset"], Mapping):
        return ["'dataset' must be an object"]
    if not isinstance(doc["keras"], Mapping) or not isinstance(doc["variants"], list):
        return ["'keras' must be an object and 'variants' a list"]
    problems = [f"dataset: missing {k!r}" for k in DATASET_KEYS if k not in doc["dataset"]]
    problems += _keras_problems(doc["keras"])
    for i, v in enumerate(doc["variants"]):
        if isinstance(v, Mapping):
            problems += _variant_problems(v, version)
        else:
            problems.append(f"variants[{i}] is not an object")
    names = [v.get("name") for v in doc["variants"] if isinstance(v, Mapping)]
    problems += [f"variant {n!r} listed twice" for n in set(names) if names.count(n) > 1]
    if "search" in doc:
        from alexedge.compress.search.record import search_problems

        problems += search_problems(doc["search"], {str(n) for n in names})
    return problems


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _keras_problems(keras: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, scores in keras.items():
        if not isinstance(scores, Mapping):
            problems.append(f"keras[{name!r}] is not an object")
            continue
        for k in ("top1", "top5"):
            if k not in scores:
                problems.append(f"keras[{name!r}]: missing {k!r}")
            elif not (_is_number(scores[k]) and 0 <= scores[k] <= 1):
                problems.append(f"keras[{name!r}]: {k} must be a share in [0, 1]")
    return problems


def _variant_problems(v: Mapping[str, Any], version: int) -> list[str]:
    keys: Sequence[str] = V1_VARIANT_KEYS + (V2_VARIANT_KEYS if version >= 2 else ())
    name = v.get("name", "?")
    problems = [f"variant {name!r}: missing {k!r}" for k in keys if k not in v]
    problems += [
        f"variant {name!r}: {k} = {v[k]!r} is not text"
        for k in _TEXTS
        if k in v and not isinstance(v[k], str)
    ]
    problems += [
        f"variant {name!r}: {k} = {v[k]!r} is not a number"
        for k in _NUMBERS
        if k in v and not _is_number(v[k])
    ]
    problems += [
        f"variant {name!r}: {k} = {v[k]!r} is not a share in [0, 1]"
        for k in _SHARES
        if k in v and _is_number(v[k]) and not 0 <= v[k] <= 1
    ]
    problems += _layer_problems(v, name)
    if v.get("measured_on", "validation") not in _MEASURED_ON:
        problems.append(f"variant {name!r}: measured_on must be one of {_MEASURED_ON}")
    if "status" in v and v["status"] not in _STATUSES:
        problems.append(f"variant {name!r}: status {v['status']!r} is not one of {_STATUSES}")
    sizes = [v.get(k, 1) for k in ("bytes", "gzip_bytes")]
    if any(_is_number(x) and x <= 0 for x in sizes):
        problems.append(f"variant {name!r}: sizes must be positive")
    return problems


# Numbers a layer_errors row needs, by its ``method`` (absent: isolated, older rows).
_LAYER_ERROR_NUMBERS = {
    "isolated": ("snr_db", "rmse_over_scale", "scale"),
    "accumulated": ("snr_db", "rmse_over_rms"),
}
_STEP_NUMBERS = ("rmse_over_scale", "scale")  # optional in accumulated rows, as a pair


def _layer_problems(v: Mapping[str, Any], name: str) -> list[str]:
    """The optional ``layer_errors`` and ``float_layers`` of a variant row."""
    problems = []
    floats = v.get("float_layers", [])
    if not (isinstance(floats, list) and all(isinstance(x, str) for x in floats)):
        problems.append(f"variant {name!r}: float_layers must be a list of layer names")
    rows = v.get("layer_errors", [])
    if not isinstance(rows, list):
        return [*problems, f"variant {name!r}: layer_errors must be a list"]
    for i, row in enumerate(rows):
        problem = _layer_error_problem(row)
        if problem:
            problems.append(f"variant {name!r}: layer_errors[{i}] {problem}")
    return problems


def _layer_error_problem(row: object) -> str | None:
    if not isinstance(row, Mapping):
        return "is not an object"
    method = row.get("method", "isolated")
    if method not in _LAYER_ERROR_NUMBERS:
        return f"method {method!r} is not one of {tuple(_LAYER_ERROR_NUMBERS)}"
    numbers = _LAYER_ERROR_NUMBERS[method]
    if method == "accumulated" and any(k in row for k in _STEP_NUMBERS):
        numbers = (*numbers, *_STEP_NUMBERS)
    if not (
        isinstance(row.get("layer"), str)
        and isinstance(row.get("op"), str)
        and all(_is_number(row.get(k)) for k in numbers)
    ):
        return f"({method}) needs text layer and op and numbers {', '.join(numbers)}"
    return None
