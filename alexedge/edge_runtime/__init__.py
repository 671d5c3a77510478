"""On-device classification with only numpy, Pillow and a TFLite interpreter.

Nothing in this subpackage imports TensorFlow, tf_keras or ``alexedge.train``
(a test imports it with TensorFlow blocked), so ``pip install "alexedge[edge]"``
is enough to classify images with an exported ``.tflite`` model.
"""

from alexedge.edge_runtime.classifier import Classifier, Prediction, read_labels
from alexedge.edge_runtime.classify_command import run_classify
from alexedge.edge_runtime.evaluate import EvalResult, evaluate_tflite, predict_images
from alexedge.edge_runtime.interpreter import BACKENDS, check_tflite_file, load_interpreter

__all__ = [
    "BACKENDS",
    "Classifier",
    "EvalResult",
    "Prediction",
    "check_tflite_file",
    "evaluate_tflite",
    "load_interpreter",
    "predict_images",
    "read_labels",
    "run_classify",
]
