"""``variants.json`` version 3: the ``search`` record is validated with the document, and
documents of versions 1 and 2 (no search) are still read."""

from __future__ import annotations

import copy

import pytest

from alexedge.compress.diagnostics.measure import VariantMeasurement
from alexedge.compress.schema import SCHEMA_VERSION, SUPPORTED_VERSIONS, validate_variants_doc
from alexedge.compress.search.record import search_record
from alexedge.compress.search.search import Limits, Result, SearchOutcome, Trial, Verdict
from alexedge.compress.search.space import Candidate, Recipe
from alexedge.errors import ModelError


def _row(name: str, quantization: str) -> dict:
    m = VariantMeasurement(
        name, f"{name}.tflite", "float", quantization, 1000, 900, 800, 200,
        0.6, 0.9, 0.61, 0.98, 1.0, 0.6,
    )  # fmt: skip
    return {**m.to_dict(), "measured_on": "reporting"}


def _doc(version: int = SCHEMA_VERSION) -> dict:
    met = Candidate(Recipe("int8"), "dense")
    missed = Candidate(Recipe("int4"), "dense")
    result = Result(0.6, 0.5, "a", 1.0, 1000, 900, 1.0)
    trials = (
        Trial(missed, Verdict.OVER_LOSS, Result(0.5, 9.0, "a", 20.0, 500, 450, 1.0), 2.0),
        Trial(met, Verdict.MET, result, 1.0),
    )
    outcome = SearchOutcome(trials, met.name, "done", 3.0)
    record = search_record(outcome, {"max_loss": Limits(1.0).max_loss}, {}, {})
    return {
        "schema_version": version,
        "model": "alexnet-reduced",
        "input_size": 64,
        "parameters": 1234,
        "dataset": {"root": "/d", "classes": 3, "train_images": 9, "val_images": 6, "skipped": 0},
        "keras": {"float": {"top1": 0.61, "top5": 0.9}},
        "variants": [_row("float32", "float32"), _row(met.name, "int8")],
        "search": record,
    }


def test_a_version_3_document_with_a_search_is_valid() -> None:
    assert SCHEMA_VERSION == 3 and SUPPORTED_VERSIONS == (1, 2, 3)
    validate_variants_doc(_doc())


def test_older_documents_are_still_read() -> None:
    for version in (1, 2):
        doc = _doc(version)
        del doc["search"]
        for row in doc["variants"]:
            del row["measured_on"]
        validate_variants_doc(doc)


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda d: d["search"].update(selected="search-float-int4"), "is not a candidate that met"),
        (lambda d: d["variants"].pop(), "is not among the variants"),
        (lambda d: d["search"]["candidates"][0].update(verdict="fine"), "verdict 'fine'"),
        (lambda d: d["search"].pop("selection"), "search: missing 'selection'"),
        (lambda d: d["variants"][0].update(measured_on="half"), "measured_on must be one of"),
    ],
)
def test_a_broken_search_record_is_one_clear_error(damage, needle) -> None:
    doc = copy.deepcopy(_doc())
    damage(doc)
    with pytest.raises(ModelError, match=needle):
        validate_variants_doc(doc)
