"""The report's pure parts: Pareto fronts, per-class damage, rows, tables, checked inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from report_rows import measurement, variants_doc

from alexedge.errors import AlexEdgeError, DataError, ModelError
from alexedge.predictions import read_predictions, write_predictions
from alexedge.report import (
    class_damage,
    pareto_front,
    render_report,
    variants_table,
    worst_classes,
)
from alexedge.report.confusion_plot import confusion_matrix
from alexedge.report.filters_plot import filter_tiles
from alexedge.report.history import read_curves
from alexedge.report.rows import check_doc, variant_rows


def _v(name: str, gzip: int, top1: float, latency: float = 1.0, status: str = "ok") -> dict:
    return {
        "name": name,
        "gzip_bytes": gzip,
        "top1": top1,
        "latency_ms_1_thread": latency,
        "status": status,
    }


def test_pareto_front_keeps_only_undominated_variants_cheapest_first() -> None:
    variants = [
        _v("float32", 1000, 0.70),
        _v("int8", 300, 0.70),  # dominates float32: smaller, as accurate
        _v("pruned90-int8", 100, 0.60),
        _v("pruned50-int8", 200, 0.55),  # dominated by pruned90-int8
    ]
    assert pareto_front(variants, "gzip_bytes") == ("pruned90-int8", "int8")


def test_pareto_front_keeps_every_variant_of_a_tie() -> None:
    variants = [_v("a", 100, 0.5), _v("b", 100, 0.5), _v("c", 200, 0.5)]
    assert pareto_front(variants, "gzip_bytes") == ("a", "b")
    # Same size, one more accurate: only that one.
    assert pareto_front([_v("a", 100, 0.5), _v("b", 100, 0.6)], "gzip_bytes") == ("b",)


def test_pareto_front_of_a_single_variant_is_that_variant() -> None:
    assert pareto_front([_v("float32", 1000, 0.7)], "gzip_bytes") == ("float32",)
    assert pareto_front([], "gzip_bytes") == ()


def test_a_failed_variant_is_never_on_the_front_and_dominates_nothing() -> None:
    variants = [_v("int8", 300, 0.7), _v("bad", 100, 0.9, status="failed")]
    assert pareto_front(variants, "gzip_bytes") == ("int8",)
    assert pareto_front([_v("bad", 100, 0.9, status="failed")], "gzip_bytes") == ()


def test_latency_front_uses_latency_and_version_1_rows_count_as_ok() -> None:
    fast = {**_v("int8", 300, 0.6, latency=0.5)}
    slow = {**_v("float32", 1000, 0.7, latency=2.0)}
    slower_worse = {**_v("float16", 500, 0.6, latency=2.5)}
    for v in (fast, slow, slower_worse):
        del v["status"]
    front = pareto_front([fast, slow, slower_worse], "latency_ms_1_thread")
    assert front == ("int8", "float32")


def test_class_damage_on_a_hand_made_prediction_set() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    reference = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])  # class 0: 3/4, 1: 2/2, 2: 3/4
    variant = np.array([0, 1, 1, 1, 1, 0, 2, 2, 2, 2])  # class 0: 1/4, 1: 1/2, 2: 4/4
    rows = class_damage(labels, reference, variant, ("cat", "dog", "eel", "fox"))
    by_name = {r.name: r for r in rows}
    assert [r.name for r in rows] == ["cat", "dog", "eel"]  # fox has no images; worst first
    assert by_name["cat"].float_top1 == 0.75 and by_name["cat"].variant_top1 == 0.25
    assert by_name["dog"].loss == 0.5 and by_name["dog"].images == 2
    assert by_name["eel"].loss == -0.25  # the variant gained on eel
    assert [r.name for r in worst_classes(rows)] == ["cat", "dog"]
    assert [r.name for r in worst_classes(rows, limit=1)] == ["cat"]


def test_equal_losses_list_the_class_with_more_images_first() -> None:
    labels = np.array([0, 0, 1, 1, 1, 1])
    reference = labels.copy()
    variant = np.array([1, 1, 0, 0, 0, 0])  # both classes lose 100 points
    assert [r.index for r in class_damage(labels, reference, variant, ("a", "b"))] == [1, 0]


def test_confusion_matrix_is_row_normalized() -> None:
    m = confusion_matrix(np.array([0, 0, 0, 0, 1]), np.array([0, 0, 0, 1, 1]), 3)
    assert np.allclose(m, [[0.75, 0.25, 0], [0, 1, 0], [0, 0, 0]])


def test_predictions_round_trip_and_bad_files_raise_data_error(tmp_path: Path) -> None:
    labels = np.array([0, 1, 2, 1])
    write_predictions(tmp_path, labels, {"float": labels}, {"int8": np.array([0, 1, 1, 1])})
    p = read_predictions(tmp_path / "predictions.npz", 3)
    assert p.labels.dtype == np.int64 and list(p.variants["int8"]) == [0, 1, 1, 1]
    assert set(p.keras) == {"float"}
    with pytest.raises(DataError, match="outside"):
        read_predictions(tmp_path / "predictions.npz", 2)
    np.savez(tmp_path / "short.npz", labels=labels, **{"keras:float": labels[:2]})
    with pytest.raises(DataError, match="2 entries"):
        read_predictions(tmp_path / "short.npz", 3)
    np.savez(tmp_path / "float.npz", labels=labels.astype(np.float32))
    with pytest.raises(DataError, match="integer"):
        read_predictions(tmp_path / "float.npz", 3)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"junk\.npz"):
        read_predictions(tmp_path / "junk.npz", 3)


def _doc() -> dict:
    return variants_doc(
        [
            measurement("float32", "float32"),
            measurement("int8", "int8", bytes=1000, gzip_bytes=800, top1=0.6),
            measurement(
                "pruned90-int8", "int8", bytes=1000, gzip_bytes=250, top1=0.5, nonzero_weights=100
            ),
            measurement(
                "bad", "int8", bytes=900, gzip_bytes=100, top1=0.7, status="failed", error="low"
            ),
        ]
    )


def test_rows_derive_ratios_change_and_pareto_flags() -> None:
    rows = {r.name: r for r in variant_rows(_doc())}
    assert rows["int8"].x_smaller == 4.0 and rows["int8"].x_smaller_gzip == 5.0
    assert rows["pruned90-int8"].x_smaller_gzip == 16.0
    assert rows["int8"].top1_change_vs_float_keras == pytest.approx(-1.0)
    assert rows["pruned90-int8"].sparsity == 0.9
    # float32 is the most accurate: on the front despite its size; bad is failed.
    assert [n for n, r in rows.items() if r.pareto_size] == ["float32", "int8", "pruned90-int8"]
    assert not rows["bad"].pareto_size and rows["bad"].status == "failed"


def test_variants_table_prints_the_documents_numbers() -> None:
    table = variants_table(_doc())
    lines = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()[2:]}
    assert (
        "| 1,000 | 0.001 | 800 | 4.00x | 5.00x | 60.0% | 91.0% | -1.0 pt | 98.0% |"
        in (lines["int8"])
    )
    assert lines["int8"].endswith("| 2.00 | 1.10 | size |")
    assert lines["bad **(FAILED)**"].endswith("| failed |")
    assert "| 90.0% |" in lines["pruned90-int8"]
    report = render_report(_doc())
    assert table in report and "`bad` failed: low" in report


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d.pop("variants"),
        lambda d: d.update(variants={"a": 1}),
        lambda d: d["variants"].append("float32"),
        lambda d: d["variants"][0].update(top1="high"),
        lambda d: d["variants"][0].update(latency_ms_1_thread=None),
        lambda d: d["variants"][1].pop("gzip_bytes"),
        lambda d: d["variants"][1].update(name=3),
        lambda d: d.update(keras={"float": {"top1": "x", "top5": 0.9}}),
        lambda d: d.update(keras=[1, 2]),
        lambda d: d.update(dataset=None),
    ],
)
def test_a_malformed_variants_doc_raises_one_alexedge_error(break_it) -> None:
    doc = copy.deepcopy(_doc())
    break_it(doc)
    with pytest.raises(AlexEdgeError, match=r"variants\.json"):
        check_doc(doc)
    with pytest.raises(ModelError):
        variants_table(doc)


def test_a_doc_that_is_not_an_object_raises() -> None:
    with pytest.raises(ModelError, match="JSON object"):
        check_doc(json.loads("[1, 2]"))


def test_filter_tiles_scale_each_kernel_to_its_own_range() -> None:
    kernel = np.zeros((2, 2, 3, 2), np.float32)
    kernel[..., 0] = np.arange(12).reshape(2, 2, 3) * 0.001  # tiny range
    kernel[..., 1] = 5.0  # constant kernel
    tiles = filter_tiles(kernel)
    assert tiles.shape == (2, 2, 2, 3)
    assert tiles[0].min() == 0 and tiles[0].max() == pytest.approx(1)
    assert np.all(tiles[1] == 0.5)


def test_read_curves_turns_cells_into_numbers_and_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "epoch,lr,loss,top1,val_loss,val_top1\n1,0.01,2.0,0.3,,\n2,0.001,1.5,0.5,1.6,0.4\n"
    )
    curves = read_curves(path)
    assert curves["epoch"] == [1.0, 2.0] and curves["lr"] == [0.01, 0.001]
    assert np.isnan(curves["val_top1"][0]) and curves["val_top1"][1] == 0.4
    path.write_text("epoch,loss\n1,lots\n")
    with pytest.raises(DataError, match=r"history\.csv"):
        read_curves(path)
