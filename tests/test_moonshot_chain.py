"""Issue 18's smallest chain: prune (-> cluster) -> int4 keeps every zero pruning made.

The size goal rests on it: a pruned kernel only gzips small if its zeros survive BN
folding and litert-quantizer's 4-bit rounding. Read off the exported bytes, per kernel:
each zero of the Keras kernel is a zero nibble in the file (rounding may add zeros,
never remove one), and clustering keeps at most ``K + 1`` distinct 4-bit values a row.
"""

from __future__ import annotations

import numpy as np
import pytest
from compress_helpers import keras_zero_share, tiny_finetune_data, tiny_model

from alexedge.compress.config import CompressConfig

pytest.importorskip("litert_quantizer")

_CONFIG = CompressConfig(
    sparsities=(0.8,), finetune_epochs=1, allocation="size", quantize=("int4",), clusters=4
)


@pytest.fixture(scope="module")
def pruned():
    from alexedge.compress.techniques.prune import prune

    data = tiny_finetune_data("alexnet-reduced", n=16)
    return prune(tiny_model(data), data, _CONFIG, 0.8), data


def _int4(model) -> bytes:
    from alexedge.compress.export.convert import exporter

    with exporter(model) as export:
        return export("int4")


def _file_kernels(data: bytes) -> list[np.ndarray]:
    """Each integer kernel of the file (all int4 in an int4 export), shaped as TFLite
    stores it (output channel first)."""
    from alexedge.compress.export.tflite_weights import weight_tensors

    return [v.reshape(shape) for _, shape, v in weight_tensors(data) if v.dtype == np.int8]


def _keras_kernels(model, skip: tuple[str, ...] = ()) -> list[np.ndarray]:
    """Conv/Dense kernels outside ``skip`` in TFLite's layout: (out, h, w, in), (out, in)."""
    from alexedge.compress.techniques.wrap import PRUNABLE

    layers = [x for x in model.layers if isinstance(x, PRUNABLE) and x.name not in skip]
    return [np.moveaxis(layer.kernel.numpy(), -1, 0) for layer in layers]


def _assert_zeros_kept(model, data: bytes) -> None:
    stored = _file_kernels(data)
    # Pruned kernels only: conv1 is skipped (and too small for the weight counter here).
    kernels = [k for k in _keras_kernels(model) if np.any(k == 0)]
    assert len(stored) >= len(kernels) >= 5, "every pruned kernel is stored in int4"
    assert all(np.all((s >= -8) & (s <= 7)) for s in stored)
    for kernel in kernels:
        # The file's kernel of the same shape whose zeros cover this kernel's zeros.
        same = [s for s in stored if s.shape == kernel.shape]
        assert any(np.all(s[kernel == 0] == 0) for s in same), (
            f"a {kernel.shape} kernel lost zeros in int4 ({np.mean(kernel == 0):.0%} zeros)"
        )


def test_int4_of_a_pruned_model_keeps_its_zeros(pruned) -> None:
    model, _ = pruned
    data = _int4(model)
    assert keras_zero_share(model) > 0.5
    _assert_zeros_kept(model, data)


def test_int4_of_a_clustered_pruned_model_keeps_zeros_and_few_values(pruned) -> None:
    from alexedge.compress.techniques.cluster import cluster

    model, finetune_data = pruned
    clustered = cluster(model, finetune_data, _CONFIG, preserve_sparsity=True)
    data = _int4(clustered)
    _assert_zeros_kept(clustered, data)
    stored = _file_kernels(data)
    # Kernels the weight counter reads (64 values or more; the tiny fc8 has fewer).
    kernels = [k for k in _keras_kernels(clustered, _CONFIG.skip_layers) if k.size >= 64]
    assert len(kernels) >= 5
    for kernel in kernels:
        assert len(np.unique(kernel)) <= _CONFIG.clusters + 1
        # Per-channel scales map a layer's K centroids (and 0) to at most K + 1 levels a row.
        levels = [
            max(len(np.unique(row)) for row in s.reshape(len(s), -1))
            for s in stored
            if s.shape == kernel.shape
        ]
        assert min(levels) <= _CONFIG.clusters + 1
