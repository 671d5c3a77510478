"""``variants.json``: version 2 extends version 1 compatibly; validation; merging; failures."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from alexedge.compress.diagnostics.measure import VariantMeasurement
from alexedge.compress.diagnostics.verify import AgreementError, check_agreement, raise_for_failures
from alexedge.compress.schema import (
    V1_VARIANT_KEYS,
    V2_VARIANT_KEYS,
    merge_variants_doc,
    validate_variants_doc,
)
from alexedge.errors import ModelError
from alexedge.hardware import describe_hardware


def _measurement(name: str, quantization: str = "int8", **extra: object) -> VariantMeasurement:
    values: dict = {
        "name": name,
        "file": f"{name}.tflite",
        "source": "float",
        "quantization": quantization,
        "bytes": 1000,
        "gzip_bytes": 900,
        "weights": 800,
        "nonzero_weights": 200,
        "top1": 0.6,
        "top5": 0.9,
        "keras_top1": 0.61,
        "keras_agreement": 0.98,
        "latency_ms_1_thread": 1.0,
        "latency_ms_2_threads": 0.6,
    }
    return VariantMeasurement(**{**values, **extra})


def _doc(*variants: VariantMeasurement, version: int = 2) -> dict:
    return {
        "schema_version": version,
        "model": "alexnet-reduced",
        "input_size": 64,
        "parameters": 1234,
        "dataset": {"root": "/d", "classes": 3, "train_images": 9, "val_images": 6, "skipped": 0},
        "keras": {"float": {"top1": 0.61, "top5": 0.9}},
        "variants": [v.to_dict() for v in variants],
    }


def test_a_measurement_row_has_every_v1_and_v2_key() -> None:
    row = _measurement("int8").to_dict()
    assert set(V1_VARIANT_KEYS) | set(V2_VARIANT_KEYS) <= set(row)
    assert row["sparsity"] == 0.75 and row["megabytes"] == 0.001
    validate_variants_doc(_doc(_measurement("int8"), _measurement("float32", "float32")))


def test_a_version_1_document_still_validates() -> None:
    doc = _doc(_measurement("int8"), version=1)
    for v in doc["variants"]:
        for key in V2_VARIANT_KEYS:
            del v[key]
    validate_variants_doc(doc)


def test_the_report_renders_a_version_2_document() -> None:
    from alexedge.report import render_report

    text = render_report(_doc(_measurement("float32", "float32"), _measurement("int8")))
    assert "| int8 | int8 | 75.0% |" in text


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda d: d.pop("keras"), "missing key 'keras'"),
        (lambda d: d["variants"][0].pop("status"), "variant 'int8': missing 'status'"),
        (lambda d: d["variants"][0].update(top1=1.5), "top1 = 1.5 is not a share"),
        (lambda d: d["variants"][0].update(status="meh"), "status 'meh'"),
        (lambda d: d["variants"][0].update(bytes=0), "sizes must be positive"),
        (lambda d: d["variants"].append(dict(d["variants"][0])), "listed twice"),
        (lambda d: d["dataset"].pop("classes"), "dataset: missing 'classes'"),
        (lambda d: d["keras"]["float"].pop("top5"), "keras['float']: missing 'top5'"),
    ],
)
def test_validation_names_what_is_wrong(damage, needle: str) -> None:
    doc = copy.deepcopy(_doc(_measurement("int8")))
    damage(doc)
    with pytest.raises(ModelError, match=r"variants\.json does not follow the schema") as info:
        validate_variants_doc(doc)
    assert needle in str(info.value)


def test_merge_replaces_remade_variants_and_keeps_the_rest(tmp_path: Path) -> None:
    for name in ("int8", "pruned-int8"):
        (tmp_path / f"{name}.tflite").write_bytes(b"x")
    old = _doc(_measurement("int8"), _measurement("pruned-int8"), _measurement("gone"))
    old["android_assets"] = {"folder": "android_assets", "variant": "pruned-int8"}
    old["keras"]["pruned"] = {"top1": 0.5, "top5": 0.8}
    new = _doc(_measurement("int8", top1=0.7), _measurement("float32", "float32"))
    merged = merge_variants_doc(new, old, tmp_path)
    assert [v["name"] for v in merged["variants"]] == ["int8", "float32", "pruned-int8"]
    assert merged["variants"][0]["top1"] == 0.7
    assert merged["android_assets"] == old["android_assets"]
    assert set(merged["keras"]) == {"float", "pruned"}
    validate_variants_doc(merged)
    assert merge_variants_doc(new, None, tmp_path) == {**new, "hardware": describe_hardware()}


def test_agreement_floors_and_loud_failures() -> None:
    assert check_agreement("a", "float16", 0.995).ok
    assert not check_agreement("a", "float32", 0.994).ok
    assert check_agreement("a", "int8", 0.97).ok and not check_agreement("a", "dynamic", 0.96).ok
    bad = check_agreement("pruned90-int8", "int8", 0.5)
    assert "pruned90-int8" in (bad.message or "") and "97.0% floor" in (bad.message or "")
    rows = [
        _measurement("int8").to_dict(),
        _measurement("bad", status="failed", error=bad.message).to_dict(),
    ]
    with pytest.raises(AgreementError, match="1 variant\\(s\\) failed verification") as info:
        raise_for_failures(rows)
    assert info.value.failed == ("bad",)
    raise_for_failures(rows[:1])
