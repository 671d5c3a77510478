"""Building blocks shared by the model families: two custom layers and the classifier head.

The custom layers are registered as Keras-serializable under the ``alexedge`` package, so
``keras.models.load_model`` reads a saved model (``.keras`` or HDF5) with no
``custom_objects`` once ``alexedge.train.models`` has been imported.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

__all__ = ["ChannelSlice", "LocalResponseNorm", "classifier_head"]


@keras.saving.register_keras_serializable(package="alexedge")
class LocalResponseNorm(keras.layers.Layer):
    """Local response normalization across channels (Krizhevsky et al. 2012, sec. 3.3).

    The paper computes ``b_i = a_i / (k + alpha * sum_j a_j**2) ** beta`` with the sum over
    the ``n`` channels centred on ``i`` and ``k=2, n=5, alpha=1e-4, beta=0.75``.
    ``tf.nn.local_response_normalization`` computes exactly that formula with
    ``depth_radius = n // 2`` and ``bias = k``: its ``alpha`` multiplies the plain sum, it
    is *not* divided by ``n``, so the paper's ``alpha`` is passed unchanged. Caffe's and
    PyTorch's LRN do divide by ``n`` (and Caffe's BVLC AlexNet uses ``k=1``); to reproduce
    one of those models pass ``alpha=1e-4 / 5`` and ``bias=1``.

    TFLite has a float ``LOCAL_RESPONSE_NORMALIZATION`` kernel but no integer one, so an
    int8 conversion keeps this op in float between DEQUANTIZE and QUANTIZE.
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 2.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        # The TF kernel is float32-only on some devices; the casts vanish in float32 models.
        x = tf.cast(inputs, tf.float32)
        y = tf.nn.local_response_normalization(
            x, depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )
        return tf.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        return tf.TensorShape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_radius": self.depth_radius,
            "bias": self.bias,
            "alpha": self.alpha,
            "beta": self.beta,
        }


@keras.saving.register_keras_serializable(package="alexedge")
class ChannelSlice(keras.layers.Layer):
    """Channels ``[start, stop)`` of an NHWC tensor: the input of one convolution tower.

    A slice rather than one ``split`` op because the TFLite GPU delegate's OpenGL backend
    has a SLICE kernel but no SPLIT kernel (tensorflow/tensorflow#61321).
    """

    def __init__(self, start: int, stop: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start = start
        self.stop = stop

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs[..., self.start : self.stop]

    def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
        return tf.TensorShape(input_shape)[:-1].concatenate([self.stop - self.start])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def classifier_head(
    inputs: keras.Input, x: tf.Tensor, num_classes: int, name: str, **dense_kwargs: Any
) -> keras.Model:
    """Logits ``fc8`` and a float32 softmax ``probs``: the ending every family shares.

    One name for the logits layer lets export, pruning and reports find it in any model;
    the softmax stays float32 so mixed-precision training keeps stable probabilities.
    ``dense_kwargs`` (initializers) go to ``fc8``.
    """
    logits = keras.layers.Dense(num_classes, name="fc8", **dense_kwargs)(x)
    probs = keras.layers.Softmax(name="probs", dtype="float32")(logits)
    return keras.Model(inputs, probs, name=name)
