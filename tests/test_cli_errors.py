"""The one-line contract, in real processes: bad input -> exit 2 and exactly one stderr line.

Every command, each bad input its help mentions. The processes run with the machine's
environment minus ``TF_CPP_MIN_LOG_LEVEL``, so TensorFlow's and LiteRT's own start-up
lines would show here if alexedge let them through; ``--verbose`` brings them back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alexedge.errors import AlexEdgeError

# Each case: (arguments, text the one error line must contain). ``{data}`` is a
# folder-layout dataset, ``{empty}`` an empty folder, ``{junk}`` a file that is no model.
CASES = [
    (["train", "--data", "nowhere"], "nowhere: no such folder"),
    (["train"], "--data is required"),
    (["train", "--data", "{data}", "--epochs", "0"], "--epochs must be at least 1"),
    (["train", "--data", "{data}", "--input", "bogus"], "--input must be one of"),
    (["train", "--data", "{data}", "--model", "vgg"], "unknown model 'vgg'"),
    (["train", "--data", "{data}", "--width", "9"], "width must be in (0, 4]"),
    (["train", "--data", "{data}", "--towers", "2"], "alexnet-reduced has no option towers"),
    (["train", "--resume", "{empty}"], "not an alexedge train run folder"),
    (["train", "--config", "missing.toml"], "no such config file"),
    (["evaluate", "nowhere"], "no such run folder"),
    (["evaluate", "{empty}"], "no trained model"),
    (["compress", "nowhere"], "no such run folder"),
    (["compress", "{empty}"], "no trained model"),
    (["compress", "{empty}", "--sparsity", "1.5"], "sparsity must be in [0, 1)"),
    (["compress", "{empty}", "--quantize", "int3"], "unknown quantization mode"),
    (["compress", "{empty}", "--io", "int16"], "--io"),
    (["package", "nowhere"], "nowhere"),
    (["package", "{empty}"], "variants.json"),
    (["package", "{empty}", "--target", "windows"], "windows"),
    (["report", "nowhere"], "nowhere"),
    (["classify", "missing.tflite", "a.jpg"], "no such model file"),
    (["classify", "{junk}", "a.jpg"], "not a TFLite model"),
    (["classify", "{junk}", "a.jpg", "--top", "0"], "--top must be at least 1"),
    (["classify", "{junk}", "a.jpg", "--resize", "fill"], "--resize must be crop or squash"),
    (["classify", "{junk}", "a.jpg", "--mean", "grey"], "--mean takes one number or three"),
    (["bench", "missing.tflite"], "no such model file"),
    (["bench", "{junk}"], "not a TFLite model"),
    (["bench", "{junk}", "--threads", "0"], "at least 1"),
    (["bench", "{junk}", "--runs", "0"], "--runs must be at least 1"),
    (["data", "check", "nowhere"], "nowhere"),
    (["data", "synth", "{empty}/synth", "--classes", "0"], "classes"),
    (["data", "fetch", "nowhere", "{empty}/out"], "nowhere"),
    (["pipeline", "--out", "{empty}/run", "--quantize", "int3"], "unknown quantization mode"),
    (["pipeline", "--out", "{empty}/run", "--data", "nowhere"], "no such folder"),
]


def alexedge(*args: str, cwd: Path, block_tensorflow: bool = False, verbose: bool = False):
    """Run the ``alexedge`` command in a fresh interpreter, as a user's shell would."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env.pop("ALEXEDGE_VERBOSE", None)
    block = "sys.modules['tensorflow'] = sys.modules['tf_keras'] = None; " * block_tensorflow
    code = f"import sys; {block}sys.argv[0] = 'alexedge'; from alexedge.cli import main; main()"
    flags = ["--verbose"] if verbose else []
    return subprocess.run(
        [sys.executable, "-c", code, *flags, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=180,
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from train_data import write_colour_dataset

    root = tmp_path_factory.mktemp("cli-errors")
    (root / "empty").mkdir()
    (root / "junk.tflite").write_bytes(b"PK\x03\x04 not a flatbuffer at all" * 4)
    return {
        "root": root,
        "data": write_colour_dataset(root / "data", per_class=2, val_per_class=1),
        "empty": root / "empty",
        "junk": root / "junk.tflite",
    }


@pytest.mark.parametrize(("args", "needle"), CASES, ids=[" ".join(args) for args, _ in CASES])
def test_bad_input_is_one_line(places: dict[str, Path], args: list[str], needle: str) -> None:
    filled = [a.format(**{k: str(v) for k, v in places.items()}) for a in args]
    proc = alexedge(*filled, cwd=places["root"])
    assert_one_line(proc, needle)
    assert not (places["empty"] / "run").exists() and not (places["empty"] / "synth").exists()


def test_verbose_shows_tensorflow_lines_again(places: dict[str, Path]) -> None:
    args = ("train", "--data", str(places["data"]), "--model", "vgg")
    proc = alexedge(*args, cwd=places["root"], verbose=True)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) > 1, "--verbose hid TensorFlow's own lines"


def test_models_without_tensorflow_names_the_extra(places: dict[str, Path]) -> None:
    proc = alexedge("models", cwd=places["root"], block_tensorflow=True)
    assert_one_line(proc, 'pip install "alexedge[train]"')


def _run_folder(root: Path, doc: object) -> Path:
    run = root / "run"
    run.mkdir()
    (run / "variants.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return run


def _doc(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schema_version": 2,
        "model": "alexnet-reduced",
        "input_size": 32,
        "parameters": 1000,
        "dataset": {"root": "d", "classes": 3, "train_images": 9, "val_images": 3, "skipped": 0},
        "keras": {"float": {"top1": 0.5, "top5": 1.0}},
        "variants": [],
    }
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("{not json", "variants.json"),
        (_doc(schema_version=99), "schema_version 99"),
        (_doc(variants=[{"name": "int8", "bytes": "big"}]), "bytes = 'big' is not a number"),
        (_doc(keras=[]), "'keras' must be an object"),
        (_doc(variants="int8"), "'variants' a list"),
    ],
    ids=["not-json", "version", "bytes-type", "keras-type", "variants-type"],
)
def test_malformed_variants_json_is_one_line(tmp_path: Path, doc: object, needle: str) -> None:
    proc = alexedge("report", str(_run_folder(tmp_path, doc)), cwd=tmp_path)
    assert_one_line(proc, needle)


def test_a_run_without_variants_reports_without_error(tmp_path: Path) -> None:
    proc = alexedge("report", str(_run_folder(tmp_path, _doc())), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "compression has not run" in proc.stdout


def test_the_schema_validator_names_every_problem() -> None:
    from alexedge.compress.schema import validate_variants_doc

    bad = _doc(variants=[{"name": "a", "top1": 2.0, "status": "meh"}, "x"])
    with pytest.raises(AlexEdgeError) as caught:
        validate_variants_doc(bad)
    message = str(caught.value)
    for part in ("top1 = 2.0 is not a share", "status 'meh'", "variants[1] is not an object"):
        assert part in message
