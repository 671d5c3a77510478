"""On-device classification with only numpy, Pillow and a TFLite interpreter.

Nothing in this subpackage imports TensorFlow, tf_keras or ``alexedge.train``
(a test imports it with TensorFlow blocked), so ``pip install "alexedge[edge]"``
is enough to classify images with an exported ``.tflite`` model, and to read and
write its TFLite Model Metadata (``metadata``, numpy and ``flatbuffers`` only).
"""

from alexedge.edge_runtime.bench import BenchConfig, BenchResult, format_bench, run_bench
from alexedge.edge_runtime.classifier import (
    RESIZE_MODES,
    Classifier,
    InputNormalization,
    Prediction,
    decide_normalization,
    read_labels,
)
from alexedge.edge_runtime.classify_command import run_classify
from alexedge.edge_runtime.embedder import Embedder, cosine_similarity
from alexedge.edge_runtime.evaluate import EvalResult, evaluate_tflite, predict_images
from alexedge.edge_runtime.interpreter import BACKENDS, check_tflite_file, load_interpreter
from alexedge.edge_runtime.latency import LatencyStats, measure_latency
from alexedge.edge_runtime.metadata import (
    ClassifierOutputMetadata,
    ImageInputMetadata,
    ModelMetadata,
    read_associated_files,
    read_input_normalization,
    read_labels_from_metadata,
    read_metadata,
    write_metadata,
)

__all__ = [
    "BACKENDS",
    "RESIZE_MODES",
    "BenchConfig",
    "BenchResult",
    "Classifier",
    "ClassifierOutputMetadata",
    "Embedder",
    "EvalResult",
    "ImageInputMetadata",
    "InputNormalization",
    "LatencyStats",
    "ModelMetadata",
    "Prediction",
    "check_tflite_file",
    "cosine_similarity",
    "decide_normalization",
    "evaluate_tflite",
    "format_bench",
    "load_interpreter",
    "measure_latency",
    "predict_images",
    "read_associated_files",
    "read_input_normalization",
    "read_labels",
    "read_labels_from_metadata",
    "read_metadata",
    "run_bench",
    "run_classify",
    "write_metadata",
]
