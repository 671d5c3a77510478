"""4-bit-weight-aware fine-tuning: the Keras model it returns is what its int4 file computes.

The point of training on the int4 grid is that the export then loses nothing more; so
the test reads the int4 file's kernels back and compares them with the Keras kernels
(BN folded in, per output channel), and compares the two models' outputs. A grid that
differs from litert-quantizer's (another scale, levels -8..7, per-tensor) fails both.
"""

from __future__ import annotations

import numpy as np
import pytest
from compress_helpers import random_images, tiny_finetune_data, tiny_model
from tflite_models import float_outputs

from alexedge.compress.config import CompressConfig

pytest.importorskip("litert_quantizer")

_CONFIG = CompressConfig(
    sparsities=(0.8,), finetune_epochs=1, allocation="size", quantize=("int4",), qat_int4=True
)


@pytest.fixture(scope="module")
def chain():
    from alexedge.compress.techniques.prune import prune
    from alexedge.compress.techniques.qat4 import qat4_finetune

    data = tiny_finetune_data("alexnet-reduced", n=16)
    pruned = prune(tiny_model(data), data, _CONFIG, 0.8)
    aware = qat4_finetune(pruned, data, _CONFIG, keep_zeros=True)
    return pruned, aware, data


def _kernels(model) -> dict[str, np.ndarray]:
    from alexedge.compress.techniques.wrap import PRUNABLE

    return {x.name: x.kernel.numpy() for x in model.layers if isinstance(x, PRUNABLE)}


def test_kernels_sit_on_the_int4_grid_and_keep_their_zeros(chain) -> None:
    pruned, aware, _ = chain
    before, after = _kernels(pruned), _kernels(aware)
    assert before.keys() == after.keys() and len(after) >= 6
    changed = 0
    for name, kernel in after.items():
        rows = kernel.reshape(-1, kernel.shape[-1])  # one column per output channel
        step = np.abs(rows).max(axis=0) / 7
        levels = rows / np.where(step > 0, step, 1)
        np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3, err_msg=name)
        assert np.abs(np.rint(levels)).max() == 7, f"{name}: the largest weight is level 7"
        zeros = before[name] == 0
        assert np.all(kernel[zeros] == 0), f"{name}: a pruned weight came back"
        changed += int(np.any(kernel[~zeros] != before[name][~zeros]))
    assert changed == len(after)


def _int4_outputs(model, images: np.ndarray) -> np.ndarray:
    from alexedge.compress.export.convert import exporter

    with exporter(model) as export:
        return float_outputs(export("int4"), images)


def test_the_int4_file_computes_the_keras_model(chain) -> None:
    pruned, aware, data = chain
    images = random_images(16, data.train_config.input_size, seed=3).astype(np.float32)

    def gap(model) -> float:
        keras_probs = np.asarray(model(images, training=False))
        return float(np.abs(_int4_outputs(model, images) - keras_probs).max())

    # Trained on the grid, int4 adds float rounding only; the pruned model, rounded only
    # at export, moves far more (else this test would pass a no-op).
    aware_gap, pruned_gap = gap(aware), gap(pruned)
    assert aware_gap < 1e-4, aware_gap
    assert pruned_gap > 10 * aware_gap, (pruned_gap, aware_gap)
