"""``search_run`` on a tiny trained run with a small ladder: the rules hold on real files.

The winner met the limits on the selection images, is written with its row measured on
the other images only, and is what ``alexedge package RUN`` ships; the budget stops a
real search too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from compress_helpers import make_trained_run

from alexedge.compress.config import CompressConfig
from alexedge.compress.schema import SCHEMA_VERSION, validate_variants_doc
from alexedge.compress.search.config import SearchConfig
from alexedge.compress.search.search import Verdict
from alexedge.compress.search.space import Ladder

LADDER = Ladder(
    dense_modes=("int4", "int8", "float32"),
    sparsities=(0.5, 0.9),
    pruned_modes=("int8", "int4"),
    bisect_steps=1,
    clusters=(),
    qat4=False,
    float_fallback=1,
)
COMPRESS = CompressConfig(finetune_epochs=1, calibration_images=24, layer_errors=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_run(tmp_path_factory.mktemp("search"), epochs=4, per_class=30)


def _copy(trained: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


@pytest.fixture(scope="module")
def searched(trained: Path, tmp_path_factory: pytest.TempPathFactory):
    from alexedge.compress.search.runner import search_run

    run = _copy(trained, tmp_path_factory.mktemp("searched"))
    search = SearchConfig(max_loss=1.0, max_class_loss=5.0, ladder=LADDER)
    return search_run(run, COMPRESS, search, say=lambda _: None)


def test_the_selected_variant_met_the_limits_and_is_written(searched) -> None:
    run = searched.run_dir
    doc = json.loads((run / "variants.json").read_text())
    validate_variants_doc(doc)
    assert doc["schema_version"] == SCHEMA_VERSION
    record = doc["search"]
    rows = {c["name"]: c for c in record["candidates"]}
    selected = record["selected"]
    assert selected == searched.selected and rows[selected]["verdict"] == Verdict.MET
    assert rows[selected]["loss"] <= 1.0 and rows[selected]["worst_class_loss"] <= 5.0
    for row in rows.values():
        if row["verdict"] == Verdict.MET:
            assert row["gzip_bytes"] >= rows[selected]["gzip_bytes"]
        if "loss" in row and row["loss"] > 1.0:
            assert row["verdict"] != Verdict.MET
    variants = {v["name"]: v for v in doc["variants"]}
    assert set(variants) == {"float32", selected}
    for v in variants.values():
        assert v["measured_on"] == "reporting" and (run / "variants" / v["file"]).is_file()
    assert not list(run.rglob("*.tmp*")), "temporary files left behind"


def test_the_selection_images_are_not_the_reporting_images(searched) -> None:
    from alexedge.data.dataset import load_dataset
    from alexedge.edge_runtime.evaluate import evaluate_images
    from alexedge.preprocess import eval_transform

    run = searched.run_dir
    doc = json.loads((run / "variants.json").read_text())
    selection, reporting = doc["search"]["selection"], doc["search"]["reporting"]
    root = Path(doc["dataset"]["root"])
    val = load_dataset(root).val
    files = {str(Path(s.path).relative_to(root)): s.label for s in val}
    chosen = set(selection["files"])
    assert chosen < set(files) and len(chosen) == selection["images"]
    assert selection["images"] + reporting["images"] == len(files)
    # The row's top-1 is the file's on exactly the images that did not select.
    rest = sorted(f for f in files if f not in chosen)
    crops = np.stack([eval_transform(str(root / f), doc["input_size"]) for f in rest])
    labels = np.array([files[f] for f in rest])
    row = next(v for v in doc["variants"] if v["name"] == doc["search"]["selected"])
    result = evaluate_images(run / "variants" / row["file"], crops, labels)
    assert result.top1 == pytest.approx(row["top1"]) == pytest.approx(reporting["top1"])
    flips = reporting["flips"]
    assert flips["images"] == len(rest)
    assert flips["loss_points"] == pytest.approx(reporting["loss"])


def test_package_ships_the_selected_variant(searched, tmp_path: Path) -> None:
    from alexedge.android_assets import PackageConfig, package_run

    bundle = package_run(searched.run_dir, PackageConfig(out=tmp_path / "bundle"))
    assert bundle.variant == searched.selected


def test_the_budget_stops_a_real_search(trained: Path, tmp_path: Path) -> None:
    from alexedge.compress.search.runner import search_run

    run = _copy(trained, tmp_path)
    ticks = iter(range(0, 10_000, 20))  # every reading of the clock is 20 s later

    search = SearchConfig(max_loss=1.0, budget_minutes=1.0, ladder=LADDER)
    result = search_run(run, COMPRESS, search, say=lambda _: None, clock=lambda: next(ticks))
    measured = [t for t in result.outcome.trials if t.result is not None]
    assert result.outcome.stopped == "budget" and len(measured) == 1
    doc = json.loads((run / "variants.json").read_text())
    assert doc["search"]["stopped"] == "budget"


def test_the_report_shows_the_search(searched, tmp_path: Path) -> None:
    from alexedge.report import write_report

    result = write_report(searched.run_dir, tmp_path / "report")
    text = result.report.read_text()
    assert "## Compression search" in text and f"**{searched.selected}**" in text
    assert (tmp_path / "report" / "search_path.png").is_file()


def _selection_folder(trained: Path, root: Path, per_class: int, rename: str = "") -> Path:
    folder = root / "select"
    for source in sorted((trained.parent / "data" / "train").iterdir()):
        target = folder / (rename or source.name)
        target.mkdir(parents=True, exist_ok=True)
        for image in sorted(source.iterdir())[:per_class]:
            shutil.copy(image, target / f"{source.name}-{image.name}")
    return folder


def test_selection_data_selects_and_the_whole_validation_split_reports(
    trained: Path, tmp_path: Path
) -> None:
    from alexedge.compress.search.runner import search_run

    run = _copy(trained, tmp_path)
    folder = _selection_folder(trained, tmp_path, per_class=4)
    ladder = Ladder(dense_modes=("int8",), sparsities=(), clusters=(), qat4=False)
    search = SearchConfig(max_loss=50.0, selection_data=folder, ladder=ladder)
    result = search_run(run, COMPRESS, search, say=lambda _: None)
    selection, reporting = result.doc["search"]["selection"], result.doc["search"]["reporting"]
    assert selection["source"] == str(folder) and selection["images"] == 12
    assert sorted(selection["files"])[0] == "class_0/class_0-0000.png"
    assert reporting["images"] == result.doc["dataset"]["val_images"]


def test_selection_data_with_unknown_classes_is_refused_before_any_write(
    trained: Path, tmp_path: Path
) -> None:
    from alexedge.compress.search.runner import search_run
    from alexedge.errors import DataError

    run = _copy(trained, tmp_path)
    before = sorted(p.name for p in run.rglob("*"))
    folder = _selection_folder(trained, tmp_path, per_class=1, rename="zebra")
    search = SearchConfig(max_loss=1.0, selection_data=folder, ladder=LADDER)
    with pytest.raises(DataError, match="unknown: zebra"):
        search_run(run, COMPRESS, search, say=lambda _: None)
    assert sorted(p.name for p in run.rglob("*")) == before
