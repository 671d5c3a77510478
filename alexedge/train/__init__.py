"""Training: Keras models (tf_keras), the tf.data input pipeline and the fit loop."""
