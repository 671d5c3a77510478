"""Clustering a 90%-pruned model must not collapse it, and a collapsed one must not ship.

tfmot's default sum of gradients per centroid moved the zero cluster of heavily pruned
kernels as far as the kept weights, so the model being fine-tuned ran at chance
(``alexedge.compress.techniques.cluster``). That shows at tiny scale on the wrapped model itself;
the guard is checked by handing ``compress_run`` a collapsed clustered model.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from compress_helpers import make_trained_run

from alexedge.compress.config import CompressConfig
from alexedge.compress.techniques.cluster import collapse_error


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Wider than the default tiny run: enough pruned weights for the zero cluster to matter.
    root = tmp_path_factory.mktemp("collapse")
    return make_trained_run(root, epochs=4, per_class=30, width=0.25, fc_units=128)


@pytest.fixture(scope="module")
def pruned90(trained: Path):
    """The trained run pruned to 90% in one shot (size allocation, conv1 dense), BN redone:
    the sparsity of the collapse without a pruning fine-tune."""
    from alexedge.compress.inputs import load_run_inputs
    from alexedge.compress.techniques.finetune import FinetuneData
    from alexedge.compress.techniques.prune import allocate_sparsity, refresh_batch_norm
    from alexedge.compress.techniques.wrap import copy_model, weight_layers
    from alexedge.preprocess import center_crops

    inputs = load_run_inputs(trained, 10, 0)
    data = FinetuneData(
        inputs.train_split(), inputs.dataset.num_classes, inputs.stats, inputs.train_config
    )
    model = copy_model(inputs.model)
    layers = weight_layers(model, ("conv1",))
    shapes = {layer.name: tuple(layer.kernel.shape) for layer in layers}
    for name, target in allocate_sparsity(shapes, 0.9, "size").items():
        kernel = model.get_layer(name).kernel
        values = kernel.numpy()
        cut = np.quantile(np.abs(values), target)
        kernel.assign(np.where(np.abs(values) <= cut, 0.0, values).astype(np.float32))
    refresh_batch_norm(model, data)
    crops = center_crops(inputs.val_split.images, inputs.train_config.input_size)
    return model, data, crops.astype(np.float32), inputs.val_split.labels


def _top1(model, crops: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(model(crops, training=False)).argmax(1) == labels))


def test_finetuning_a_90pct_pruned_model_keeps_its_zero_centroids_and_accuracy(
    pruned90,
) -> None:
    from alexedge.compress.techniques.cluster import wrap_for_clustering
    from alexedge.compress.techniques.finetune import finetune

    parent, data, crops, labels = pruned90
    parent_top1 = _top1(parent, crops, labels)
    assert parent_top1 >= 0.9  # the colour classes survive one-shot pruning
    wrapped = wrap_for_clustering(parent, 16, ("conv1",))
    config = CompressConfig(clusters=16, finetune_epochs=2)
    finetune(wrapped, data, config, learning_rate=config.adapt_learning_rate)
    # With the summed gradient: chance (33%) and zero centroids at 80-96% of the mean
    # kept weight after these 2 epochs.
    assert _top1(wrapped, crops, labels) >= parent_top1 - 0.1
    for layer in wrapped.layers:
        centroids = [v.numpy() for v in layer.weights if "cluster_centroids" in v.name]
        if not centroids:
            continue
        kernel = parent.get_layer(layer.layer.name).kernel.numpy()
        if np.mean(kernel == 0) < 0.5:
            continue  # fc8 is not pruned: no zero cluster
        drift = np.abs(centroids[0]).min() / np.abs(kernel[kernel != 0]).mean()
        assert drift < 0.01, f"{layer.name}: zero centroid moved {drift:.3f} of the mean weight"


def test_collapse_error_compares_with_the_parent_over_chance() -> None:
    error = collapse_error("pruned90-clustered16", 0.06, "pruned90", 0.699, 20)
    assert error is not None
    assert error.startswith("pruned90-clustered16: Keras top-1 6.0% against 69.9%")
    assert "parent pruned90 (chance 5.0%)" in error and "keeping 2%" in error
    assert collapse_error("pruned90-clustered16", 0.68, "pruned90", 0.699, 20) is None
    assert collapse_error("c", 0.40, "p", 0.75, 20) is None  # kept 50% of the margin
    assert collapse_error("c", 0.39, "p", 0.75, 20) is not None
    assert collapse_error("c", 0.05, "p", 0.05, 20) is None  # parent at chance


def test_a_collapsed_clustered_model_fails_its_variants(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alexedge.compress.techniques.cluster as cluster_module
    from alexedge.compress.diagnostics.verify import AgreementError
    from alexedge.compress.planner import compress_run
    from alexedge.compress.techniques.wrap import copy_model

    def collapsed(model, data, config, preserve_sparsity):
        broken = copy_model(model)
        fc8 = broken.get_layer("fc8")
        fc8.set_weights([np.zeros_like(w) for w in fc8.get_weights()])  # one class for all
        return broken

    monkeypatch.setattr(cluster_module, "cluster", collapsed)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    said: list[str] = []
    config = CompressConfig(
        sparsities=(0,),
        clusters=4,
        quantize=("float32",),
        calibration_images=10,
        layer_errors=False,
    )
    result = compress_run(run, config, strict=False, say=said.append)
    assert result.failed == ("clustered4-float32",)
    rows = {v["name"]: v for v in json.loads((run / "variants.json").read_text())["variants"]}
    assert rows["float32"]["status"] == "ok"
    assert rows["clustered4-float32"]["status"] == "failed"
    assert "clustering collapsed the model" in rows["clustered4-float32"]["error"]
    assert any(line.startswith("FAILED: clustered4: Keras top-1 33.3%") for line in said)
    with pytest.raises(AgreementError, match=re.escape("clustered4: Keras top-1 33.3% against")):
        result.raise_for_failures()
