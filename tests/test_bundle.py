"""``package_run``: the phone bundle of a trained and compressed run.

One tiny run (trained, then compressed to float32 and int8 with uint8 I/O) is shared
by the module; tests that change the run copy it first.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from alexedge.android_assets import PackageConfig, default_out, package_run, select_variant
from alexedge.android_assets import package as package_module
from alexedge.compress.config import CompressConfig
from alexedge.edge_runtime import Classifier
from alexedge.edge_runtime.metadata import (
    read_associated_files,
    read_labels_from_metadata,
    read_metadata,
)
from alexedge.errors import AlexEdgeError, ConfigError, ModelError
from alexedge.preprocess import eval_transform
from alexedge.run import reload_dataset

sys.path.insert(0, str(Path(__file__).parent))
from compress_helpers import make_trained_run

BUNDLE_FILES = {"model.tflite", "labels.txt", "manifest.json", "USAGE.md", "golden"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alexedge.compress.planner import compress_run

    root = tmp_path_factory.mktemp("bundle")
    run = make_trained_run(root, classes=3, per_class=24, val_per_class=20)
    config = CompressConfig(
        sparsities=(0,),
        quantize=("float32", "int8"),
        finetune_epochs=1,
        calibration_images=16,
        layer_errors=False,  # the bundle does not read it; test_layer_errors covers it
    )
    compress_run(run, config)
    return run


@pytest.fixture
def run_copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("*_assets"))
    return copy


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_default_bundle_is_the_smallest_uint8_variant(run: Path, tmp_path: Path) -> None:
    bundle = package_run(run, PackageConfig(out=tmp_path / "assets"))
    doc = json.loads((run / "variants.json").read_text())
    uint8 = [v for v in doc["variants"] if v["input"]["dtype"] == "uint8"]
    assert bundle.variant == min(uint8, key=lambda v: v["bytes"])["name"] == "int8"
    assert {p.name for p in bundle.folder.iterdir()} == BUNDLE_FILES
    model = (bundle.folder / "model.tflite").read_bytes()
    manifest = json.loads((bundle.folder / "manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(model).hexdigest() == bundle.sha256
    assert manifest["size_bytes"] == len(model) == bundle.model_bytes
    assert manifest["input"]["dtype"] == "uint8"
    assert manifest["input"]["normalization"]["mean"] == [0.0]
    assert manifest["num_classes"] == 3
    assert manifest["training_config"] == json.loads((run / "config.json").read_text())
    variant = next(v for v in doc["variants"] if v["name"] == "int8")
    assert manifest["validation"]["top1"] == variant["top1"]
    assert manifest["metadata"]["name"] == bundle.metadata.name


def test_metadata_round_trips_through_the_bundle(run: Path, tmp_path: Path) -> None:
    config = PackageConfig(
        variant="float32", out=tmp_path / "a", author="Ada", license="MIT", version="2.1"
    )
    bundle = package_run(run, config)
    model = bundle.folder / "model.tflite"
    found = read_metadata(model)
    assert found == bundle.metadata
    assert (found.author, found.license, found.version) == ("Ada", "MIT", "2.1")
    assert found.input.mean == (0.0,) and found.input.std == (1.0,)
    assert (found.input.min, found.input.max) == ((0.0,), (255.0,))
    assert found.min_parser_version == "1.0.0"
    variant = next(v for v in _doc(run)["variants"] if v["name"] == "float32")
    assert f"top-1 {variant['top1']:.1%}, top-5 {variant['top5']:.1%}" in found.description
    labels_bytes = (bundle.folder / "labels.txt").read_bytes()
    assert read_associated_files(model) == {"labels.txt": labels_bytes}
    assert labels_bytes == (run / "labels.txt").read_bytes()
    assert read_labels_from_metadata(model) == labels_bytes.decode().splitlines()
    manifest = json.loads((bundle.folder / "manifest.json").read_text())
    assert manifest["metadata"] == json.loads(json.dumps(asdict(bundle.metadata)))


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_bundled_model_predicts_as_its_variant(run: Path, tmp_path: Path, variant: str) -> None:
    bundle = package_run(run, PackageConfig(variant=variant, out=tmp_path / variant))
    size = Classifier(bundle.folder / "model.tflite").input_size
    pixels = np.stack([eval_transform(s.path, size) for s in reload_dataset(run).val])
    source = Classifier(run / "variants" / f"{variant}.tflite").predict(pixels)
    bundled = Classifier(bundle.folder / "model.tflite").predict(pixels)
    np.testing.assert_array_equal(bundled, source)


def test_golden_json_is_reproduced_by_the_edge_runtime(run: Path, tmp_path: Path) -> None:
    bundle = package_run(run, PackageConfig(out=tmp_path / "assets"))
    golden = json.loads((bundle.folder / "golden" / "golden.json").read_text())
    assert len(golden["images"]) == bundle.golden_images == 8
    # Classes taken in turn: every class has golden images.
    assert {image["true_label"] for image in golden["images"]} == set(
        (run / "labels.txt").read_text().split("\n")[:3]
    )
    # The model alone, without labels.txt or manifest.json: names and normalization
    # come from its embedded metadata and give the same answers.
    alone = tmp_path / "alone" / "model.tflite"
    alone.parent.mkdir()
    shutil.copy(bundle.folder / "model.tflite", alone)
    for classifier in (Classifier(bundle.folder / "model.tflite"), Classifier(alone)):
        _assert_reproduces(classifier, bundle.folder / "golden", golden)


def _assert_reproduces(classifier: Classifier, folder: Path, golden: dict) -> None:
    for image in golden["images"]:
        top = classifier.classify(folder / image["file"], top=5)
        assert [(p.label, p.index) for p in top] == [
            (e["label"], e["index"]) for e in image["top5"]
        ]
        assert [p.score for p in top] == pytest.approx(
            [e["score"] for e in image["top5"]], abs=1e-6
        )


def test_label_count_must_match_the_output(run_copy: Path) -> None:
    (run_copy / "labels.txt").write_text("only\ntwo\n")
    with pytest.raises(ModelError, match=r"2 labels, but variant 'int8' outputs 3 classes"):
        package_run(run_copy)
    assert not default_out(run_copy).exists()
    assert _leftovers(run_copy) == []


def test_non_empty_out_needs_force(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "assets"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(AlexEdgeError, match="use --force"):
        package_run(run, PackageConfig(out=out))
    # Not a bundle: even --force leaves it alone.
    with pytest.raises(AlexEdgeError, match="replaces only a bundle folder"):
        package_run(run, PackageConfig(out=out, force=True))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    package_run(run, PackageConfig(variant="float32", out=out / "bundle"))
    (out / "bundle" / "extra.txt").write_text("stale")
    package_run(run, PackageConfig(out=out / "bundle", force=True))
    assert {p.name for p in (out / "bundle").iterdir()} == BUNDLE_FILES
    assert json.loads((out / "bundle" / "manifest.json").read_text())["variant"] == "int8"
    assert _leftovers(tmp_path) == [] and _leftovers(out) == []


def test_a_failure_midway_leaves_out_untouched(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "assets"
    first = package_run(run, PackageConfig(out=out))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(package_module, "write_golden", broken)
    with pytest.raises(OSError, match="disk full"):
        package_run(run, PackageConfig(variant="float32", out=out, force=True))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert json.loads((out / "manifest.json").read_text())["variant"] == first.variant
    assert _leftovers(tmp_path) == []


def test_out_may_not_hold_the_run(run: Path) -> None:
    with pytest.raises(AlexEdgeError, match="would replace the run folder"):
        package_run(run, PackageConfig(out=run.parent, force=True))
    assert (run / "variants.json").is_file()


def test_ios_target_writes_the_same_model_with_swift_first(run: Path, tmp_path: Path) -> None:
    android = package_run(run, PackageConfig(out=tmp_path / "android"))
    ios_run = tmp_path / "run"
    shutil.copytree(run, ios_run, ignore=shutil.ignore_patterns("*_assets"))
    ios = package_run(ios_run, PackageConfig(target="ios"))
    assert ios.folder == ios_run / "ios_assets"
    assert {p.name for p in ios.folder.iterdir()} == BUNDLE_FILES
    assert ios.sha256 == android.sha256
    sections = [
        line for line in (ios.folder / "USAGE.md").read_text().splitlines() if line[:3] == "## "
    ]
    assert sections[0].startswith("## iOS") and any("Kotlin" in s for s in sections[1:])
    usage = (android.folder / "USAGE.md").read_text()
    assert usage.index("## Android") < usage.index("## iOS")
    assert "ImageClassifier" in usage and "org.tensorflow.lite.Interpreter" in usage
    assert "toByte()" in usage  # uint8 input: the LiteRT snippet writes bytes, not floats


def _doc(run: Path) -> dict:
    return json.loads((run / "variants.json").read_text())


def test_variant_choice_is_explained(run: Path) -> None:
    doc = _doc(run)
    with pytest.raises(ModelError, match=r"no variant named 'int4'; known: float32, int8"):
        select_variant(run, doc, "int4")
    failed = {
        **doc,
        "variants": [{**v, "status": "failed", "error": "agreement 0.5"} for v in doc["variants"]],
    }
    with pytest.raises(ModelError, match=r"failed verification \(agreement 0.5\)"):
        select_variant(run, failed, "int8")
    int8_io = {
        **doc,
        "variants": [
            {**v, "io": "int8", "input": {**v["input"], "dtype": "int8"}} for v in doc["variants"]
        ],
    }
    with pytest.raises(ModelError, match="takes int8 input, which MediaPipe Tasks refuses"):
        select_variant(run, int8_io, "int8")
    with pytest.raises(ModelError, match="--variant NAME"):
        select_variant(run, int8_io, None)
    assert select_variant(run, doc, "float32")["name"] == "float32"


def test_default_variant_is_the_smallest_verified_uint8_one(run: Path) -> None:
    doc = _doc(run)
    int8 = next(v for v in doc["variants"] if v["name"] == "int8")
    bigger = {**int8, "name": "int8-big", "bytes": int8["bytes"] + 1}
    smaller_failed = {**int8, "name": "int8-bad", "bytes": 1, "status": "failed"}
    variants = [bigger, smaller_failed, *doc["variants"]]
    assert select_variant(run, {**doc, "variants": variants}, None)["name"] == "int8"
    variants = [bigger, smaller_failed, *(v for v in doc["variants"] if v["name"] != "int8")]
    assert select_variant(run, {**doc, "variants": variants}, None)["name"] == "int8-big"


def test_schema_1_variants_are_read_from_their_files(run: Path) -> None:
    doc = _doc(run)
    v2_keys = ("status", "io", "input", "output", "error")
    v1 = [{k: v for k, v in variant.items() if k not in v2_keys} for variant in doc["variants"]]
    assert select_variant(run, {**doc, "schema_version": 1, "variants": v1}, None)["name"] == "int8"


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="--target 'web'"):
        PackageConfig(target="web")
    with pytest.raises(ConfigError, match="--variant"):
        PackageConfig(variant=" ")
    with pytest.raises(ConfigError, match="--author"):
        PackageConfig(author="two\nlines")
    assert replace(PackageConfig(), out="x").out == Path("x")


def test_packaging_needs_no_tensorflow(run: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        for name in ("tensorflow", "tf_keras", "tensorflow_model_optimization"):
            sys.modules[name] = None  # any import of them now raises ImportError
        from pathlib import Path
        from alexedge.android_assets import PackageConfig, package_run
        bundle = package_run(Path({str(run)!r}), PackageConfig(out=Path({str(tmp_path / "b")!r})))
        print(bundle.variant)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "int8"


def test_latency_names_the_machine_that_measured_it(run_copy: Path, tmp_path: Path) -> None:
    from alexedge.hardware import hardware_line

    # Packaged on another machine than the one compress timed on: the bundle names that one.
    doc = _doc(run_copy)
    elsewhere = {**doc["hardware"], "cpu": "Phone-class Test SoC", "logical_cores": 8}
    (run_copy / "variants.json").write_text(json.dumps({**doc, "hardware": elsewhere}))
    bundle = package_run(run_copy, PackageConfig(out=tmp_path / "a"))
    latency = json.loads((bundle.folder / "manifest.json").read_text())["latency"]
    variant = next(v for v in doc["variants"] if v["name"] == bundle.variant)
    assert latency["ms_1_thread"] == variant["latency_ms_1_thread"]
    assert latency["ms_2_threads"] == variant["latency_ms_2_threads"]
    assert latency["hardware"] == elsewhere
    assert latency["measured_on"] == hardware_line(elsewhere) != hardware_line()
    assert latency["measured_on"].startswith("Phone-class Test SoC, 8 cores")
    usage = (bundle.folder / "USAGE.md").read_text()
    figures = f"{variant['latency_ms_1_thread']:.2f} ms on 1 thread"
    assert f"- Latency: {figures}" in usage
    assert f"measured on {hardware_line(elsewhere)}; " in usage and "not on a phone" in usage


def test_latency_of_a_run_without_a_hardware_record_is_unknown(
    run_copy: Path, tmp_path: Path
) -> None:
    doc = _doc(run_copy)
    del doc["hardware"]  # written before variants.json recorded the machine
    (run_copy / "variants.json").write_text(json.dumps(doc))
    bundle = package_run(run_copy, PackageConfig(out=tmp_path / "a"))
    latency = json.loads((bundle.folder / "manifest.json").read_text())["latency"]
    assert latency["hardware"] is None and latency["measured_on"].startswith("an unknown machine")
    assert "measured on an unknown machine" in (bundle.folder / "USAGE.md").read_text()
