"""A fine-tune and the per-layer error pass print only the project's own lines.

Keras' ``fit`` writes ``2/2 - 1s - loss: ...`` lines, and the quantization debugger's
interpreter prints LiteRT's "Created TensorFlow Lite XNNPACK delegate" on file
descriptor 2, once per process: so the check runs in a fresh process, where the first
delegate is still to be made, and reads that process's descriptors, not ``sys.stderr``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from compress_helpers import random_images, tiny_finetune_data, tiny_model
from alexedge.compress.config import CompressConfig
from alexedge.compress.diagnostics.layer_errors import calibrate, layer_errors
from alexedge.compress.techniques.finetune import finetune

data = tiny_finetune_data(n=32)
model = tiny_model(data)
print("-- fine-tune", file=sys.stderr, flush=True)
finetune(model, data, CompressConfig(finetune_epochs=1))
print("-- layer errors", file=sys.stderr, flush=True)
size = int(model.inputs[0].shape[1])
layer_errors(calibrate(model, "int8", random_images(8, size)))
print("-- done", file=sys.stderr, flush=True)
"""


def test_fine_tune_and_layer_errors_print_no_keras_or_native_progress(tmp_path: Path) -> None:
    tests = str(Path(__file__).parent)
    env = {k: v for k, v in os.environ.items() if k != "ALEXEDGE_VERBOSE"}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(tests=tests)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # What TensorFlow's import prints is alexedge.quiet's business, not this test's.
    output = done.stdout + done.stderr[done.stderr.index("-- fine-tune") :]
    assert "-- done" in output
    assert "- loss:" not in output and "XNNPACK" not in output, output
    assert "epoch 1/1" in output  # the fine-tune reports through training's epoch lines
