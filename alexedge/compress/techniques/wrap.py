"""Wrap chosen layers of a trained Functional model: the first step of every tfmot technique.

tfmot's whole-model entry points (``prune_low_magnitude(model)``, ``quantize_model``,
``cluster_weights(model)``) refuse our models because of the ``Normalization`` input
layer (and the paper model's ``LocalResponseNorm``/``ChannelSlice``), which are not in
their registries. Wrapping layer by layer through ``clone_model`` sidesteps that, and
working on a weight-for-weight copy keeps the model being compressed untouched:
wrapping the original's layers would share their variables, and fine-tuning would
silently overwrite the float model the other variants are converted from.
"""

from __future__ import annotations

from collections.abc import Callable

import tf_keras as keras

__all__ = ["PRUNABLE", "copy_model", "weight_layers", "wrap_layers"]

# The layers whose kernels pruning and clustering act on (biases are left alone).
PRUNABLE = (keras.layers.Conv2D, keras.layers.Dense)

Wrapper = Callable[[keras.layers.Layer], keras.layers.Layer | None]


def copy_model(model: keras.Model) -> keras.Model:
    """A copy with its own variables holding the same values."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def wrap_layers(model: keras.Model, wrap: Wrapper) -> keras.Model:
    """Clone ``model`` with ``wrap(layer)`` in place of each layer it returns one for.

    ``wrap`` receives built layers of a private copy, so wrappers that start from
    the trained weights (pruning masks, k-means centroids) see them; layers it
    returns ``None`` for are reused from that copy unchanged.
    """
    copy = copy_model(model)

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        wrapped = wrap(layer)
        return layer if wrapped is None else wrapped

    return keras.models.clone_model(copy, clone_function=clone)


def weight_layers(model: keras.Model, skip: tuple[str, ...] = ()) -> list[keras.layers.Layer]:
    """The Conv2D/Dense layers of ``model`` not named in ``skip``, in graph order."""
    return [
        layer for layer in model.layers if isinstance(layer, PRUNABLE) and layer.name not in skip
    ]
