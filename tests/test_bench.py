"""``alexedge bench`` and the one latency function, on tiny models built here."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from tflite_models import to_tflite

from alexedge.edge_runtime.bench import (
    BENCH_SCHEMA_VERSION,
    BenchConfig,
    bench_to_json,
    format_bench,
    parse_threads,
    run_bench,
)
from alexedge.edge_runtime.latency import LatencyStats, measure_latency, random_inputs
from alexedge.errors import AlexEdgeError, ConfigError, ModelError
from alexedge.hardware import hardware_line

SIZE = 16
QUICK = {"runs": 3, "warmup": 1}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A dynamic-batch float32, a fixed-batch float32 and a uint8 model, 16x16 input."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    root = tmp_path_factory.mktemp("bench_models")
    paths = {}
    for name, options in {
        "dynamic": {},
        "fixed": {"fixed_batch": True},
        "uint8": {"quantize": "uint8"},
    }.items():
        paths[name] = root / f"{name}.tflite"
        paths[name].write_bytes(to_tflite(model, calibration=8, **options))
    return paths


def test_text_output_names_every_field(models):
    result = run_bench(models["dynamic"], BenchConfig(threads=(1, 2), **QUICK))
    text = format_bench(result)
    for field in ("cold start ms", "median ms", "p90 ms", "min ms", "images/s", "logical cores"):
        assert field in text
    assert f"float32 1x{SIZE}x{SIZE}x3 (dynamic batch)" in text
    assert "float32 1x3" in text and result.machine.cpu in text
    assert f"hardware {hardware_line()}" in text
    rows = text.splitlines()[-2:]
    assert [row.split()[0] for row in rows] == ["1", "2"]
    assert f"{result.results[1].median_ms:.3f}" in rows[1]


def test_json_schema_keys_and_types(models):
    data = bench_to_json(run_bench(models["uint8"], BenchConfig(threads=(2, 1), **QUICK)))
    data = json.loads(json.dumps(data))  # only JSON types survive
    top = {
        "schema_version": int,
        "model": str,
        "bytes": int,
        "backend": str,
        "batch": int,
        "runs": int,
        "warmup": int,
        "inputs": list,
        "outputs": list,
        "machine": dict,
        "hardware": dict,
        "results": list,
    }
    assert set(data) == set(top)
    assert all(isinstance(data[k], t) for k, t in top.items())
    assert data["schema_version"] == BENCH_SCHEMA_VERSION
    assert (data["batch"], data["runs"], data["warmup"]) == (1, 3, 1)
    tensor = {"name", "dtype", "shape", "dynamic_batch", "scale", "zero_point"}
    assert data["inputs"][0]["dtype"] == "uint8" and data["outputs"][0]["dtype"] == "uint8"
    for t in data["inputs"] + data["outputs"]:
        assert set(t) == tensor and isinstance(t["scale"], float)
        assert isinstance(t["zero_point"], int) and isinstance(t["dynamic_batch"], bool)
    assert data["inputs"][0]["shape"] == [1, SIZE, SIZE, 3] and data["inputs"][0]["scale"] > 0
    machine = {"cpu": str, "logical_cores": int, "available_cores": int}
    assert set(data["machine"]) == {*machine, "platform", "python"}
    assert all(isinstance(data["machine"][k], t) for k, t in machine.items())
    assert {"cpu", "features", "int8_dot_product", "bf16", "versions"} <= set(data["hardware"])
    assert [r["threads"] for r in data["results"]] == [2, 1]
    for r in data["results"]:
        assert set(r) == {
            "threads",
            "cold_start_ms",
            "median_ms",
            "p90_ms",
            "min_ms",
            "images_per_second",
        }
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"]
        assert r["cold_start_ms"] > 0
        assert r["images_per_second"] == pytest.approx(1e3 / r["median_ms"])


def test_dynamic_batch_is_resized(models):
    result = run_bench(models["dynamic"], BenchConfig(threads=(1,), batch=4, **QUICK))
    assert result.batch == 4 and result.inputs[0].shape == (4, SIZE, SIZE, 3)
    assert result.outputs[0].shape == (4, 3) and result.inputs[0].dynamic_batch
    stats = result.results[0]
    assert stats.batch == 4
    assert stats.images_per_second == pytest.approx(4e3 / stats.median_ms)


def test_fixed_batch_is_refused_with_its_size(models):
    with pytest.raises(ConfigError, match="fixed batch of 1"):
        run_bench(models["fixed"], BenchConfig(threads=(1,), batch=4, **QUICK))
    result = run_bench(models["fixed"], BenchConfig(threads=(1,), batch=1, **QUICK))
    assert result.batch == 1 and not result.inputs[0].dynamic_batch


def test_measure_latency_fields(models):
    stats = measure_latency(models["uint8"], threads=1, runs=5, warmup=0)
    assert isinstance(stats, LatencyStats)
    assert (stats.threads, stats.batch, stats.runs, stats.warmup) == (1, 1, 5, 0)
    assert 0 < stats.min_ms <= stats.median_ms <= stats.p90_ms


def test_random_inputs_follow_each_dtype():
    details = [
        {"dtype": np.uint8, "shape": np.array([2, 8, 8, 3])},
        {"dtype": np.int8, "shape": np.array([1, 4])},
        {"dtype": np.float32, "shape": np.array([1, 64])},
    ]
    first, second = random_inputs(details, seed=3), random_inputs(details, seed=3)
    assert [a.dtype for a in first] == [np.uint8, np.int8, np.float32]
    assert [a.shape for a in first] == [(2, 8, 8, 3), (1, 4), (1, 64)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert first[2].min() >= 0 and first[2].max() <= 255 and first[2].max() > 1


@pytest.mark.parametrize(
    ("make", "config", "error", "message"),
    [
        (lambda d, m: d / "missing.tflite", {}, ModelError, "no such model file"),
        (lambda d, m: _text_file(d), {}, ModelError, "not a TFLite model"),
        (lambda d, m: m["dynamic"], {"threads": (0,)}, ConfigError, "at least 1, got 0"),
        (lambda d, m: m["dynamic"], {"runs": 0}, ConfigError, "--runs must be at least 1"),
        (lambda d, m: m["dynamic"], {"warmup": -1}, ConfigError, "--warmup"),
        (lambda d, m: m["dynamic"], {"batch": 0}, ConfigError, "--batch must be at least 1"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, models, make, config, error, message):
    with pytest.raises(error, match=message) as caught:
        run_bench(make(tmp_path, models), BenchConfig(**{"threads": (1,), **QUICK, **config}))
    assert isinstance(caught.value, AlexEdgeError) and "\n" not in str(caught.value)


def test_measure_latency_refuses_bad_counts(models):
    with pytest.raises(ConfigError, match="runs"):
        measure_latency(models["dynamic"], threads=1, runs=0)
    with pytest.raises(ConfigError, match="threads"):
        measure_latency(models["dynamic"], threads=0)


def test_parse_threads():
    assert parse_threads("1,2, 4,2") == (1, 2, 4)
    for bad in ("1,x", "", "0", "2,-1"):
        with pytest.raises(ConfigError, match="--threads"):
            parse_threads(bad)


def _text_file(folder):
    path = folder / "notes.tflite"
    path.write_text("not a model at all", "utf-8")
    return path


_BLOCKED_TF = """
import json, sys

class BlockTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras", "keras"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, BlockTensorFlow())
from alexedge.edge_runtime.bench import BenchConfig, bench_to_json, format_bench, run_bench

result = run_bench(sys.argv[1], BenchConfig(threads=(1,), runs=2, warmup=0))
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras", "keras"))
assert not leaked, leaked
assert not any(m.startswith(("alexedge.train", "alexedge.compress")) for m in sys.modules)
format_bench(result)
print(json.dumps(bench_to_json(result)))
"""


def test_bench_runs_with_tensorflow_unimportable(models, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED_TF, str(models["uint8"])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.splitlines()[-1])
    assert data["backend"] == "ai_edge_litert" and data["inputs"][0]["dtype"] == "uint8"
