"""Weight clustering (weight sharing) with tfmot, optionally keeping a pruned model's zeros.

wrap (``cluster_weights`` per Conv2D/Dense layer) -> fine-tune (the centroids train) ->
strip (``strip_clustering``) -> restore zeros -> re-estimate batch norm. Each kernel
then holds at most ``K`` distinct values (``K + 1`` with the restored zeros), which
is what makes the file gzip well (Han et al. 2016, "Deep Compression", sec. 3).

Centroids start with k-means++ (tfmot's default). Linear spacing between each kernel's
min and max, which Deep Compression preferred, left 16 centroids about 0.05 apart on
``alexnet-reduced`` kernels whose mean magnitude is 0.03: the clustered model fell to
chance before fine-tuning and never recovered (measured).

Zeros are kept by restoring the pruned model's mask after stripping, not by tfmot's
``preserve_sparsity``: that option re-derives the zero mask from the clustered weights
at every step (tensorflow/model-optimization#702), so weights that join the zero
cluster stay zero for good. Measured on an 80%-sparse ``alexnet-reduced`` (71.4%
top-1): three fine-tune epochs took it to 93% zeros and 9% top-1; restoring the mask
instead kept 80% zeros and 71.4%.

Clustered models are exported with post-training quantization only, never with
cluster-preserving QAT: on our Conv+BN models tfmot 0.8.1's
``Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)`` let a 79% sparse
model's int8 file fall to 12% zeros after one epoch (measured), while PTQ of the
stripped clustered model keeps both the clusters and the zeros.
"""

from __future__ import annotations

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from alexedge.compress.config import CompressConfig
from alexedge.compress.finetune import FinetuneData, finetune
from alexedge.compress.prune import bn_images, reestimate_batchnorm
from alexedge.compress.wrap import weight_layers, wrap_layers

__all__ = ["cluster", "distinct_values", "wrap_for_clustering"]

_C = tfmot.clustering.keras


def wrap_for_clustering(model: keras.Model, clusters: int, skip: tuple[str, ...]) -> keras.Model:
    """``cluster_weights`` around every Conv2D/Dense layer outside ``skip``."""
    names = {layer.name for layer in weight_layers(model, skip)}

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer | None:
        if layer.name not in names:
            return None
        return _C.cluster_weights(
            layer,
            number_of_clusters=clusters,
            cluster_centroids_init=_C.CentroidInitialization.KMEANS_PLUS_PLUS,
        )

    return wrap_layers(model, wrap)


def cluster(
    model: keras.Model, data: FinetuneData, config: CompressConfig, preserve_sparsity: bool
) -> keras.Model:
    """wrap -> fine-tune -> strip -> restore zeros -> re-estimate BN; ``model`` is untouched.

    The fine-tune runs at ``config.adapt_learning_rate``: k-means++ centroids already
    keep a trained kernel's accuracy (measured: 71.6% before fine-tuning, pruned model
    71.4%), and pruning's larger rate moved the centroid of the zero cluster far enough
    that restoring the zeros cost 12 points.
    """
    masks = _zero_masks(model, config.skip_layers) if preserve_sparsity else {}
    wrapped = wrap_for_clustering(model, config.clusters, config.skip_layers)
    finetune(wrapped, data, config, learning_rate=config.adapt_learning_rate)
    stripped = _C.strip_clustering(wrapped)
    for name, zeros in masks.items():
        kernel = stripped.get_layer(name).kernel
        kernel.assign(np.where(zeros, 0.0, kernel.numpy()).astype(np.float32))
    reestimate_batchnorm(stripped, bn_images(data))
    return stripped


def _zero_masks(model: keras.Model, skip: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {layer.name: layer.kernel.numpy() == 0 for layer in weight_layers(model, skip)}


def distinct_values(model: keras.Model) -> dict[str, int]:
    """Distinct kernel values per Conv2D/Dense layer: at most K in a clustered layer."""
    return {layer.name: int(np.unique(layer.kernel.numpy()).size) for layer in weight_layers(model)}
