"""From a Keras model to TFLite bytes: ``convert`` (one converter function per mode),
``int4`` (litert-quantizer), ``float_layers`` (int8 with chosen layers left in float),
and ``tflite_ops`` / ``tflite_weights``, which read what a file holds.
"""

__all__: list[str] = []
