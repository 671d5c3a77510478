"""AlexNet family (Krizhevsky, Sutskever & Hinton, 2012).

``alexnet`` is the paper's ImageNet network; ``alexnet-reduced`` keeps its layout with batch
norm and a width multiplier for small 20-class subsets. Layer names follow the paper
(conv1..conv5, fc6..fc8) so checkpoints, reports and saliency maps can refer to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import tf_keras as keras

from alexedge.errors import ModelError
from alexedge.train.models.layers import ChannelSlice, LocalResponseNorm, classifier_head
from alexedge.train.models.registry import register_model

__all__ = ["ALEXNET_MIN_INPUT", "alexnet", "alexnet_reduced"]

_L = keras.layers

# Output channels of conv1..conv5 (sec. 3.5, fig. 2).
_PAPER_CHANNELS = (96, 256, 384, 384, 256)

# conv1 is 11x11 stride 4 without padding, then three 3/2 pools: 227 -> 55 -> 27 -> 13 -> 6.
# (Sec. 3.5 says 224, which cannot give fig. 2's 55x55 maps; 227 does.) The smallest input
# whose pool5 map is still 1x1: pool5 needs 3, pool2 needs 7, pool1 needs 15, so conv1
# needs 4 * (15 - 1) + 11 = 67.
ALEXNET_MIN_INPUT = 67

Tensor = tf.Tensor


def _pool(x: Tensor, name: str) -> Tensor:
    # Overlapping pooling, paper sec. 3.4: window 3, stride 2.
    return _L.MaxPool2D(3, strides=2, name=name)(x)


# --- alexnet: the paper's network ---------------------------------------------------------


def _init_kwargs(init: str, bias_one: bool = False) -> dict[str, Any]:
    """Sec. 5: weights ~ N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden FC
    layers ("provides the ReLUs with positive inputs"), 0 elsewhere. ``glorot`` keeps the
    Keras defaults, which start learning without the paper's hand-tuned learning rate."""
    if init == "glorot":
        return {}
    return {
        "kernel_initializer": keras.initializers.RandomNormal(0.0, 0.01),
        "bias_initializer": keras.initializers.Constant(1.0 if bias_one else 0.0),
    }


def _conv_block(
    x: Tensor,
    filters: int,
    kernel: int,
    name: str,
    *,
    towers: int = 1,
    stride: int = 1,
    padding: str = "same",
    init: str = "glorot",
    bias_one: bool = False,
) -> Tensor:
    """Convolution + ReLU, optionally split into ``towers`` that see disjoint channels.

    Sec. 3.2: the net was spread over two GPUs that "communicate only in certain layers";
    conv2, conv4 and conv5 kernels see only the maps on their own GPU, i.e. a grouped
    convolution. Each tower is a plain ``Conv2D`` (``{name}_a``, ``{name}_b``) on a channel
    slice, concatenated as ``{name}``, rather than ``Conv2D(groups=2)``: every TFLite runtime
    and delegate has SLICE/CONV_2D/CONCATENATION, while grouped CONV_2D has failed in the
    GPU delegate and in integer quantization (tensorflow/tensorflow#61321, #40044), and
    tfmot prunes and quantizes plain ``Conv2D`` layers without custom configs. Either way
    ``model.get_layer(name).output`` is the block's post-ReLU map.
    """

    def conv(t: Tensor, units: int, layer_name: str) -> Tensor:
        return _L.Conv2D(
            units,
            kernel,
            strides=stride,
            padding=padding,
            activation="relu",
            name=layer_name,
            **_init_kwargs(init, bias_one),
        )(t)

    if towers == 1:
        return conv(x, filters, name)
    step_in, step_out = x.shape[-1] // towers, filters // towers
    outputs = []
    for i in range(towers):
        tower = f"{name}_{chr(ord('a') + i)}"
        part = ChannelSlice(i * step_in, (i + 1) * step_in, name=f"{tower}_in")(x)
        outputs.append(conv(part, step_out, tower))
    return _L.Concatenate(name=name)(outputs)


def _fc_block(x: Tensor, units: int, dropout: float, name: str, init: str) -> Tensor:
    # Sec. 4.2: dropout on the outputs of the two hidden FC layers.
    x = _L.Dense(units, activation="relu", name=name, **_init_kwargs(init, bias_one=True))(x)
    if dropout > 0:
        x = _L.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def _norm(x: Tensor, name: str, lrn: bool) -> Tensor:
    # Sec. 3.3: LRN after the ReLU of conv1 and conv2, k=2, n=5, alpha=1e-4, beta=0.75.
    return LocalResponseNorm(2, 2.0, 1e-4, 0.75, name=name)(x) if lrn else x


def _alexnet_channels(width: float, towers: int) -> list[int]:
    # Every tower gets the same whole number of channels.
    return [max(towers, round(c * width / towers) * towers) for c in _PAPER_CHANNELS]


def _common_problems(options: Mapping[str, Any]) -> list[str]:
    problems = []
    width, fc_units, dropout = options["width"], options["fc_units"], options["dropout"]
    if not (isinstance(width, int | float) and 0 < width <= 4):
        problems.append(f"width must be in (0, 4], got {width!r}")
    if not (isinstance(fc_units, int) and fc_units >= 1):
        problems.append(f"fc_units must be a positive integer, got {fc_units!r}")
    if not (isinstance(dropout, int | float) and 0 <= dropout < 1):
        problems.append(f"dropout must be in [0, 1), got {dropout!r}")
    return problems


def _alexnet_problems(options: Mapping[str, Any]) -> list[str]:
    problems = _common_problems(options)
    towers, init = options["towers"], options["init"]
    if not (isinstance(towers, int) and 1 <= towers <= 8):
        problems.append(f"towers must be an integer from 1 to 8 (paper: 2), got {towers!r}")
    if init not in ("glorot", "paper"):
        problems.append(f"init must be 'glorot' or 'paper', got {init!r}")
    if not isinstance(options["lrn"], bool):
        problems.append(f"lrn must be true or false, got {options['lrn']!r}")
    return problems


def _raise_problems(name: str, problems: list[str]) -> None:
    if problems:
        raise ModelError(f"{name}: " + "; ".join(problems))


@register_model(
    "alexnet",
    default_input_size=227,
    min_input_size=ALEXNET_MIN_INPUT,
    default_num_classes=1000,
    description="Krizhevsky et al. 2012: LRN, two-tower conv2/4/5, two 4096-unit FC layers",
    tiny_options={"width": 1 / 16, "fc_units": 16},
    check=_alexnet_problems,
    test_variants=((99, {"towers": 1}), (131, {"lrn": False, "towers": 4})),
)
def alexnet(
    inputs: keras.Input,
    x: Tensor,
    *,
    num_classes: int,
    towers: int = 2,
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.5,
    lrn: bool = True,
    init: str = "glorot",
) -> keras.Model:
    """The ImageNet network of sec. 3 (fig. 2): 60,965,224 parameters at 1000 classes.

    Args:
        towers: 2 reproduces the two-GPU grouped conv2/conv4/conv5; 1 connects every
            kernel to all input maps (62,378,344 parameters).
        width: multiplier on the conv channels (``1/16`` with ``fc_units=16`` is the
            tiny test variant).
        fc_units: width of fc6 and fc7.
        dropout: rate after fc6 and fc7 (sec. 4.2).
        lrn: ``False`` drops both LRN layers: later work found them of no benefit
            (Simonyan & Zisserman 2015, sec. 4.1) and TFLite has no integer LRN kernel,
            so only this variant quantizes to int8 end to end.
        init: ``glorot`` (Keras default) or ``paper`` (sec. 5).
    """
    options = {"towers": towers, "width": width, "fc_units": fc_units, "dropout": dropout}
    _raise_problems("alexnet", _alexnet_problems({**options, "init": init, "lrn": lrn}))
    c = _alexnet_channels(width, towers)
    # conv1's two GPU halves both see the whole image, so they are one ordinary conv;
    # so is conv3, which sec. 3.5 connects to all of conv2's maps.
    x = _conv_block(x, c[0], 11, "conv1", stride=4, padding="valid", init=init)
    x = _pool(_norm(x, "norm1", lrn), "pool1")
    x = _conv_block(x, c[1], 5, "conv2", towers=towers, init=init, bias_one=True)
    x = _pool(_norm(x, "norm2", lrn), "pool2")
    x = _conv_block(x, c[2], 3, "conv3", init=init)
    x = _conv_block(x, c[3], 3, "conv4", towers=towers, init=init, bias_one=True)
    x = _conv_block(x, c[4], 3, "conv5", towers=towers, init=init, bias_one=True)
    x = _L.Flatten(name="flatten")(_pool(x, "pool5"))
    x = _fc_block(x, fc_units, dropout, "fc6", init)
    x = _fc_block(x, fc_units, dropout, "fc7", init)
    return classifier_head(inputs, x, num_classes, "alexnet", **_init_kwargs(init))


# --- alexnet-reduced: the same layout for small images and 20-class subsets ----------------


# Keras' default BN momentum (0.99) averages over ~100 steps; a 20-class subset has
# only ~60-80 steps per epoch, so after epoch 1 half the moving statistics would
# still be the initial (0, 1) and validation collapses. 0.9 tracks ~10 steps.
_BN_MOMENTUM = 0.9


def _conv_bn(x: Tensor, filters: int, kernel: int, stride: int, name: str) -> Tensor:
    # BN replaces LRN (Ioffe & Szegedy 2015); the conv bias is redundant before BN.
    x = _L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = _L.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{name}_bn")(x)
    return _L.ReLU(name=f"{name}_relu")(x)


def _dense_bn(x: Tensor, units: int, dropout: float, name: str) -> Tensor:
    if dropout > 0:
        x = _L.Dropout(dropout, name=f"{name}_dropout")(x)
    x = _L.Dense(units, use_bias=False, name=name)(x)
    x = _L.BatchNormalization(momentum=_BN_MOMENTUM, name=f"{name}_bn")(x)
    return _L.ReLU(name=f"{name}_relu")(x)


def _stem_for(input_size: int) -> tuple[int, int]:
    """conv1 (kernel, stride): the paper's 11x11/4 at ImageNet sizes, scaled down for
    small inputs so that three overlapping 3/2 pools still leave a spatial map."""
    if input_size >= 160:
        return 11, 4
    if input_size >= 48:
        return 5, 2
    return 3, 1


def _reduced_problems(options: Mapping[str, Any]) -> list[str]:
    problems = _common_problems(options)
    if not isinstance(options["pool2"], bool):
        problems.append(f"pool2 must be true or false, got {options['pool2']!r}")
    return problems


@register_model(
    "alexnet-reduced",
    default_input_size=64,
    min_input_size=32,
    description="AlexNet layout with batch norm, width multiplier and small FC (20-class subsets)",
    tiny_options={"width": 1 / 16, "fc_units": 16},
    check=_reduced_problems,
    test_variants=((64, {}), (160, {}), (56, {"pool2": False})),
)
def alexnet_reduced(
    inputs: keras.Input,
    x: Tensor,
    *,
    num_classes: int,
    width: float = 0.25,
    fc_units: int = 512,
    dropout: float = 0.3,
    pool2: bool = True,
) -> keras.Model:
    """Five conv + three FC layers as in the paper, batch norm after each, no LRN.

    The defaults are the built-in pipeline's quick network (806k parameters at 64x64
    and 20 classes); the ``tiny-imagenet`` preset widens it to 0.5 without pool2. ``pool2=False``
    keeps conv3-5 at conv2's resolution, the paper's 13x13 (6x6 after pool5) at 56 px
    instead of 6x6 (2x2): 1.3x the MACs at width 0.5, and on Tiny ImageNet it overfits
    less (measured in the README's training rows).
    """
    options = {"width": width, "fc_units": fc_units, "dropout": dropout, "pool2": pool2}
    _raise_problems("alexnet-reduced", _reduced_problems(options))
    kernel, stride = _stem_for(inputs.shape[1])
    widths = [max(8, round(c * width)) for c in _PAPER_CHANNELS]
    x = _conv_bn(x, widths[0], kernel, stride, "conv1")
    x = _pool(x, "pool1")
    x = _conv_bn(x, widths[1], 5, 1, "conv2")
    if pool2:
        x = _pool(x, "pool2")
    x = _conv_bn(x, widths[2], 3, 1, "conv3")
    x = _conv_bn(x, widths[3], 3, 1, "conv4")
    x = _conv_bn(x, widths[4], 3, 1, "conv5")
    x = _pool(x, "pool5")
    x = _L.Flatten(name="flatten")(x)
    x = _dense_bn(x, fc_units, dropout, "fc6")
    x = _dense_bn(x, fc_units, dropout, "fc7")
    return classifier_head(inputs, x, num_classes, "alexnet_reduced")
