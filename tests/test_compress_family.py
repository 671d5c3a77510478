"""``compress_run`` end to end on a tiny trained run: files, measurements, merging, failures."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
import typer
from compress_helpers import make_trained_run
from typer.testing import CliRunner

from alexedge.compress.config import CompressConfig
from alexedge.compress.schema import validate_variants_doc

NAMES = ["float32", "int8", "pruned50-float32", "pruned50-int8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_run(tmp_path_factory.mktemp("compress"), epochs=4, per_class=30)


@pytest.fixture(scope="module")
def family(trained: Path, tmp_path_factory: pytest.TempPathFactory):
    from alexedge.compress.planner import compress_run

    run = tmp_path_factory.mktemp("family") / "run"
    shutil.copytree(trained, run)
    config = CompressConfig(
        sparsities=(0.5,),
        quantize=("float32", "int8"),
        finetune_epochs=2,
        calibration_images=40,
        layer_errors=False,  # covered by test_layer_errors and the pipeline tests
    )
    return compress_run(run, config, say=lambda _: None)


def _doc(run: Path) -> dict:
    return json.loads((run / "variants.json").read_text())


def test_every_variant_is_written_measured_and_verified(family) -> None:
    run = family.run_dir
    doc = _doc(run)
    validate_variants_doc(doc)
    assert doc["schema_version"] == 3
    assert [v["name"] for v in doc["variants"]] == NAMES
    for v in doc["variants"]:
        data = (run / "variants" / v["file"]).read_bytes()
        assert v["bytes"] == len(data) and 0 < v["gzip_bytes"] < v["bytes"]
        assert v["status"] == "ok" and v["error"] is None
        assert v["keras_agreement"] >= v["agreement_floor"] > 0
        assert v["latency_ms_1_thread"] > 0 and v["latency_ms_2_threads"] > 0
        assert v["io"] == ("uint8" if v["quantization"] == "int8" else "float32")
        if v["quantization"] == "int8":
            assert v["float_ops"] == {}, "alexnet-reduced is full int8"
    labels = (run / "variants" / "labels.txt").read_text()
    assert labels == (run / "labels.txt").read_text() and len(labels.splitlines()) == 3
    assert json.loads((run / "variants" / "config.json").read_text())["sparsities"] == [0.5]
    assert not [p for p in run.rglob("*") if ".tmp" in p.name], "temporary files left behind"
    assert family.failed == ()


def test_pruned_zeros_reach_the_target_and_survive_into_the_file(family) -> None:
    doc = _doc(family.run_dir)
    pruned = doc["keras"]["pruned50"]
    assert pruned["sparsity"] == pytest.approx(0.5, abs=0.01)
    layers = {row["layer"]: row for row in pruned["layers"]}
    assert layers["conv1"]["zeros"] == 0
    rows = layers.values()
    zero_share = sum(r["zeros"] for r in rows) / sum(r["weights"] for r in rows)
    variants = {v["name"]: v for v in doc["variants"]}
    for name in ("pruned50-float32", "pruned50-int8"):
        assert variants[name]["sparsity"] == pytest.approx(zero_share, abs=0.01), name
        assert variants[name]["sparsity_target"] == 0.5
    assert variants["int8"]["sparsity"] < 0.05
    assert variants["pruned50-int8"]["gzip_bytes"] < variants["int8"]["gzip_bytes"]


def test_a_second_compress_merges_into_variants_json(family) -> None:
    from alexedge.compress.planner import compress_run

    run = family.run_dir
    compress_run(run, CompressConfig(sparsities=(0,), quantize=("dynamic",)), say=lambda _: None)
    doc = _doc(run)
    validate_variants_doc(doc)
    assert [v["name"] for v in doc["variants"]] == ["float32", "dynamic", *NAMES[1:]]
    assert set(doc["keras"]) == {"float", "pruned50"}


def test_a_broken_variant_fails_loudly_and_keeps_the_others(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An int8 file converted from a different (untrained) model must not pass."""
    import alexedge.compress.export.convert as convert_module
    from alexedge.cli.compress import register
    from alexedge.train.models import build_model

    real_exporter = convert_module.exporter

    @contextlib.contextmanager
    def wrong_exporter(model):
        with real_exporter(model) as export:

            def broken(mode, *args, **kwargs):
                if mode != "int8":
                    return export(mode, *args, **kwargs)
                untrained = build_model("alexnet-reduced", 3, 32, width=1 / 16, fc_units=16)
                with real_exporter(untrained) as export_untrained:
                    return export_untrained(mode, *args, **kwargs)

            yield broken

    monkeypatch.setattr(convert_module, "exporter", wrong_exporter)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    args = ["compress", str(run), "--sparsity", "0", "--quantize", "int8"]
    result = CliRunner().invoke(app, [*args, "--calibration-images", "20"])
    assert result.exit_code == 2, result.output
    assert "int8: top-1 agrees with its Keras model on" in result.stderr
    assert "failed verification" in result.stderr and "Traceback" not in result.output
    assert "| float32 |" in result.stdout  # the table of what was measured is still printed
    variants = {v["name"]: v for v in _doc(run)["variants"]}
    assert variants["int8"]["status"] == "failed" and variants["float32"]["status"] == "ok"
    assert variants["int8"]["keras_agreement"] < 0.97


def test_the_int4_aware_source_is_a_measured_variant_that_agrees_with_its_model(
    trained: Path, tmp_path: Path
) -> None:
    pytest.importorskip("litert_quantizer")
    from alexedge.compress.planner import compress_run

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    config = CompressConfig(
        sparsities=(0.5,),
        quantize=("int4",),
        qat_int4=True,
        finetune_epochs=1,
        calibration_images=20,
        layer_errors=False,
    )
    compress_run(run, config, say=lambda _: None)
    doc = _doc(run)
    validate_variants_doc(doc)
    rows = {v["name"]: v for v in doc["variants"]}
    assert set(rows) == {"float32", "int4", "pruned50-int4", "pruned50-qat4-int4", "qat4-int4"}
    aware = rows["pruned50-qat4-int4"]
    assert aware["status"] == "ok" and aware["qat"] is True
    assert aware["source"] == "pruned50-qat4" and aware["quantization"] == "int4"
    # Trained on the grid it is stored on: the file answers as its Keras model does.
    assert aware["keras_agreement"] == 1.0
    assert aware["sparsity"] >= 0.45, "the pruned zeros survive the int4-aware fine-tune"
    assert doc["keras"]["pruned50-qat4"]["qat"] is True
