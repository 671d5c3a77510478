"""Datasets on disk: discovery of image folders, the built-in synthetic dataset.

Nothing here imports TensorFlow; the tf.data input pipeline lives in
``alexedge.train.input_pipeline``.
"""

from alexedge.data.check import CheckReport, check_images, format_check_report
from alexedge.data.dataset import ImageDataset, Sample, load_dataset
from alexedge.data.files import IMAGE_SUFFIXES, is_image_file, list_images
from alexedge.data.layouts import LAYOUTS
from alexedge.data.synth import CLASS_NAMES, SynthConfig, synthesize_dataset

__all__ = [
    "CLASS_NAMES",
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "CheckReport",
    "ImageDataset",
    "Sample",
    "SynthConfig",
    "check_images",
    "format_check_report",
    "is_image_file",
    "list_images",
    "load_dataset",
    "synthesize_dataset",
]
