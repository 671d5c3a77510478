"""A trained classifier cut at one layer: the feature extractor behind ``alexedge embed``.

Layers are named as in the paper (``conv1`` ... ``conv5``, ``fc6``, ``fc7``): a name
means the block's output, after its batch norm and ReLU when it has them (the paper's
fc7 features are post-ReLU), so ``fc7`` is ``fc7_relu`` in ``alexnet-reduced`` and the
Dense layer itself in ``alexnet``, whose activation is inside it. The default is the
input of the classifier head ``fc8``, the representation a linear classifier was trained
on. A convolutional map is global-average-pooled to one value per channel: a vector
whose length does not depend on the input size, and what MediaPipe's embedder expects.
"""

from __future__ import annotations

import re

import tf_keras as keras

from alexedge.errors import ConfigError
from alexedge.train.precision import float32_model

__all__ = ["HEAD_LAYER", "feature_model", "layer_choices", "penultimate_layer"]

# The classifier head every family ends in (``classifier_head``): logits, then softmax.
HEAD_LAYER = "fc8"
# Layers that belong to the block named before the suffix: the block's name stands for them.
_BLOCK_SUFFIXES = ("_bn", "_relu", "_dropout")
# The towers of a grouped block (``conv2_a``, its input slice ``conv2_a_in``, ...).
_TOWER = re.compile(r"^(?P<block>.+)_[a-h](_in)?$")
_OUTPUT_SUFFIX = "_relu"


def layer_choices(model: keras.Model) -> list[str]:
    """The names ``--layer`` takes, input to output: blocks, pools, ``flatten``, ``fc8``."""
    names = {layer.name for layer in model.layers}
    return [
        layer.name
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and layer.name != "probs"
        and not _block_part(layer.name, names)
    ]


def penultimate_layer(model: keras.Model) -> str:
    """The block whose output feeds the head ``fc8`` (``fc7`` in the AlexNet families)."""
    names = {layer.name for layer in model.layers}
    if HEAD_LAYER not in names:
        return model.layers[-1].name
    inbound = model.get_layer(HEAD_LAYER).inbound_nodes[0].inbound_layers
    feeder = inbound[0] if isinstance(inbound, list) else inbound
    return _block_part(feeder.name, names) or feeder.name


def feature_model(model: keras.Model, layer: str | None = None) -> tuple[keras.Model, str]:
    """``model`` from its input to ``layer``'s output, pooled to (N, D) float32.

    Returns the extractor and the layer's name (``penultimate_layer`` when ``layer`` is
    ``None``). A mixed-precision model is cut from its float32 twin, so the vectors (and
    an exported embedder) are float32 whatever precision training ran in.

    Raises:
        ConfigError: ``layer`` is not one of ``layer_choices``, listing them.
    """
    model = float32_model(model)
    name = layer or penultimate_layer(model)
    names = {existing.name for existing in model.layers}
    if name not in names or name == "probs" or name == model.layers[0].name:
        raise ConfigError(
            f"--layer {name!r}: {model.name} has no such layer; choose one of "
            f"{', '.join(layer_choices(model))}"
        )
    output_name = f"{name}{_OUTPUT_SUFFIX}" if f"{name}{_OUTPUT_SUFFIX}" in names else name
    x = model.get_layer(output_name).output
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    elif len(x.shape) != 2:
        x = keras.layers.Flatten(name=f"{name}_flat")(x)
    return keras.Model(model.input, x, name=f"{model.name}_{name}_embedder"), name


def _block_part(name: str, names: set[str]) -> str | None:
    """The block a layer like ``fc7_relu`` or ``conv2_a`` belongs to, when that block exists."""
    for suffix in _BLOCK_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in names:
            return name[: -len(suffix)]
    tower = _TOWER.match(name)
    return tower["block"] if tower and tower["block"] in names else None
