"""Weight clustering (weight sharing) with tfmot, optionally keeping a pruned model's zeros.

wrap (``cluster_weights`` per Conv2D/Dense layer) -> fine-tune (the centroids train) ->
strip (``strip_clustering``) -> restore zeros -> re-estimate batch norm. Each kernel
then holds at most ``K`` distinct values (``K + 1`` with the restored zeros), which
is what makes the file gzip well (Han et al. 2016, "Deep Compression", sec. 3).

Why each choice:

- Centroids start with k-means++ (tfmot's default), not Deep Compression's linear
  spacing: on kernels whose mean magnitude is far below their min-max range, linearly
  spaced centroids leave most weights on one or two of them, and the model starts at
  chance.
- Each centroid moves by the mean gradient of its weights
  (``cluster_gradient_aggregation=AVG``, tensorflow/model-optimization#667), not by
  tfmot's sum: with the sum a centroid's step grows with its cluster, and a pruned
  kernel's zero cluster holds most of its weights, so the zero centroid drifts to the
  size of a kept weight and the model being fine-tuned has no zeros left.
- A model can still collapse, and its files agree with it, so ``collapse_error``
  compares each clustered model with its parent and ``compress`` fails its variants.
- Zeros are kept by restoring the pruned model's mask after stripping, not by tfmot's
  ``preserve_sparsity``: that option re-derives the mask from the clustered weights at
  every step (tensorflow/model-optimization#702), so weights that reach the zero cluster
  stay zero for good and sparsity ratchets up while accuracy falls.
- Clustered models are exported with post-training quantization only: tfmot 0.8.1's
  cluster-preserving QAT (``Default8BitClusterPreserveQuantizeScheme``) loses most of
  a pruned model's zeros on our Conv+BN models, while PTQ of the stripped clustered
  model keeps both the clusters and the zeros.
"""

from __future__ import annotations

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.clustering.keras.cluster_config import (
    GradientAggregation,
)

from alexedge.compress.config import CompressConfig
from alexedge.compress.techniques.finetune import FinetuneData, finetune
from alexedge.compress.techniques.prune import refresh_batch_norm
from alexedge.compress.techniques.wrap import weight_layers, wrap_layers

__all__ = ["cluster", "collapse_error", "distinct_values", "wrap_for_clustering"]

_C = tfmot.clustering.keras
# Each centroid moves by the mean gradient of its weights, not the sum (see the docstring).
_AGGREGATION = GradientAggregation.AVG
# A clustered model that keeps less than this share of its parent's top-1 margin over
# chance has collapsed: rounding to K shared values costs points, not half the margin.
_MIN_KEPT_MARGIN = 0.5


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
            cluster_gradient_aggregation=_AGGREGATION,
        )

    return wrap_layers(model, wrap)


def cluster(
    model: keras.Model, data: FinetuneData, config: CompressConfig, preserve_sparsity: bool
) -> keras.Model:
    """wrap -> fine-tune -> strip -> restore zeros -> re-estimate BN; ``model`` is untouched.

    The fine-tune runs at ``config.adapt_learning_rate``: k-means++ centroids already
    keep a trained kernel's accuracy, and pruning's larger rate moves the centroid of
    the zero cluster far enough that restoring the zeros costs many points.
    """
    masks = _zero_masks(model, config.skip_layers) if preserve_sparsity else {}
    wrapped = wrap_for_clustering(model, config.clusters, config.skip_layers)
    finetune(wrapped, data, config, learning_rate=config.adapt_learning_rate)
    stripped = _C.strip_clustering(wrapped)
    for name, zeros in masks.items():
        kernel = stripped.get_layer(name).kernel
        kernel.assign(np.where(zeros, 0.0, kernel.numpy()).astype(np.float32))
    refresh_batch_norm(stripped, data)
    return stripped


def _zero_masks(model: keras.Model, skip: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {layer.name: layer.kernel.numpy() == 0 for layer in weight_layers(model, skip)}


def collapse_error(
    name: str, top1: float, parent: str, parent_top1: float, num_classes: int
) -> str | None:
    """Why the clustered model ``name`` must not ship, or ``None`` when it kept its accuracy.

    ``top1`` and ``parent_top1`` are the Keras models' top-1 on the same held-out
    images. Collapse is judged against chance, not as a fixed loss in points, so one
    rule serves 3 and 1000 classes; a parent at chance gives nothing to compare.
    """
    chance = 1 / num_classes
    if parent_top1 <= chance:
        return None
    kept = (top1 - chance) / (parent_top1 - chance)
    if kept >= _MIN_KEPT_MARGIN:
        return None
    return (
        f"{name}: Keras top-1 {100 * top1:.1f}% against {100 * parent_top1:.1f}% for its "
        f"parent {parent} (chance {100 * chance:.1f}%): clustering collapsed the model, "
        f"keeping {100 * max(kept, 0.0):.0f}% of the parent's margin over chance. Its files "
        "are kept for inspection, not for shipping; try more --clusters or more "
        "--finetune-epochs"
    )


def distinct_values(model: keras.Model) -> dict[str, int]:
    """Distinct kernel values per Conv2D/Dense layer: at most K in a clustered layer."""
    return {layer.name: int(np.unique(layer.kernel.numpy()).size) for layer in weight_layers(model)}
