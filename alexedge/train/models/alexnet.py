"""AlexNet family (Krizhevsky, Sutskever & Hinton, 2012).

Layer names follow the paper (conv1..conv5, fc6..fc8) so checkpoints, reports and
saliency maps can refer to them.
"""

from __future__ import annotations

import tf_keras as keras

from alexedge.train.models.registry import register_model

__all__ = ["alexnet_reduced"]

_L = keras.layers


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str):
    # BN replaces LRN (Ioffe & Szegedy 2015); the conv bias is redundant before BN.
    x = _L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = _L.BatchNormalization(name=f"{name}_bn")(x)
    return _L.ReLU(name=f"{name}_relu")(x)


def _dense_bn(x, units: int, dropout: float, name: str):
    if dropout > 0:
        x = _L.Dropout(dropout, name=f"{name}_dropout")(x)
    x = _L.Dense(units, use_bias=False, name=name)(x)
    x = _L.BatchNormalization(name=f"{name}_bn")(x)
    return _L.ReLU(name=f"{name}_relu")(x)


def _stem_for(input_size: int) -> tuple[int, int]:
    """conv1 (kernel, stride): the paper's 11x11/4 at ImageNet sizes, scaled down for
    small inputs so that three overlapping 3/2 pools still leave a spatial map."""
    if input_size >= 160:
        return 11, 4
    if input_size >= 48:
        return 5, 2
    return 3, 1


def _pool(x, name: str):
    # Overlapping pooling, paper sec. 3.4: window 3, stride 2.
    return _L.MaxPool2D(3, strides=2, name=name)(x)


@register_model(
    "alexnet-reduced",
    default_input_size=64,
    min_input_size=32,
    description="AlexNet layout with batch norm, width multiplier and small FC (20-class subsets)",
)
def alexnet_reduced(
    inputs,
    x,
    *,
    num_classes: int,
    width: float = 0.5,
    fc_units: int = 512,
    dropout: float = 0.5,
) -> keras.Model:
    """Five conv + three FC layers as in the paper, batch norm after each, no LRN."""
    kernel, stride = _stem_for(inputs.shape[1])
    widths = [max(8, round(c * width)) for c in (96, 256, 384, 384, 256)]
    x = _conv_bn(x, widths[0], kernel, stride, "conv1")
    x = _pool(x, "pool1")
    x = _conv_bn(x, widths[1], 5, 1, "conv2")
    x = _pool(x, "pool2")
    x = _conv_bn(x, widths[2], 3, 1, "conv3")
    x = _conv_bn(x, widths[3], 3, 1, "conv4")
    x = _conv_bn(x, widths[4], 3, 1, "conv5")
    x = _pool(x, "pool5")
    x = _L.Flatten(name="flatten")(x)
    x = _dense_bn(x, fc_units, dropout, "fc6")
    x = _dense_bn(x, fc_units, dropout, "fc7")
    logits = _L.Dense(num_classes, name="fc8")(x)
    probs = _L.Softmax(name="probs", dtype="float32")(logits)
    return keras.Model(inputs, probs, name="alexnet_reduced")
