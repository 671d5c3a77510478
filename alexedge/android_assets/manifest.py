"""What a bundle says about its model: the embedded metadata and ``manifest.json``.

Both are built from the same facts (``variants.json``, the model's own tensors, the
training config), so what MediaPipe reads from the model and what a person reads in
the manifest never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from alexedge.android_assets.model_io import ModelIO
from alexedge.edge_runtime.metadata import (
    ClassifierOutputMetadata,
    ImageInputMetadata,
    ModelMetadata,
)
from alexedge.hardware import hardware_line
from alexedge.preprocess import MODEL_INPUT_MEAN, MODEL_INPUT_STD, base_size_for

__all__ = [
    "MIN_PARSER_VERSION",
    "NORMALIZATION",
    "UNKNOWN_HARDWARE",
    "build_manifest",
    "measured_latency",
    "model_metadata",
]

# The oldest metadata parser that understands every field written here (name,
# description, NormalizationOptions, ValueRange stats, TENSOR_AXIS_LABELS): all date
# from the first metadata schema.
MIN_PARSER_VERSION = "1.0.0"
# alexedge models take raw 0-255 pixels and normalize inside the graph, so the
# app-side normalization is the identity. One value, not one per channel: MediaPipe
# refuses per-channel NormalizationOptions.
NORMALIZATION = {"mean": MODEL_INPUT_MEAN, "std": MODEL_INPUT_STD}
_PIXEL_RANGE = ((0.0,), (255.0,))
_PROBABILITY_RANGE = ((0.0,), (1.0,))
_LISTED_CLASSES = 10
# What the bundle says when variants.json predates its ``hardware`` record: latencies
# without a machine are not comparable with anything, and saying so beats guessing.
UNKNOWN_HARDWARE = "an unknown machine (its variants.json predates the hardware record)"
_PHONE_NOTE = (
    "timed by alexedge compress with the LiteRT CPU interpreter on the machine named here, not "
    "on a phone: a phone's cores, int8 units and delegates give other times, so measure on "
    "the target device before choosing a variant by latency"
)


def model_metadata(
    doc: Mapping[str, Any],
    variant: Mapping[str, Any],
    labels: Sequence[str],
    io: ModelIO,
    *,
    version: str,
    author: str,
    license: str,
    labels_file: str,
) -> ModelMetadata:
    """The TFLite Model Metadata MediaPipe Tasks reads: names, normalization, labels."""
    size = io.input_size
    return ModelMetadata(
        name=f"{doc['model']} {variant['name']}",
        description=describe(doc, variant, labels, io),
        version=version,
        author=author,
        license=license,
        min_parser_version=MIN_PARSER_VERSION,
        input=ImageInputMetadata(
            name="image",
            description=(
                f"RGB image, {size}x{size}, raw 0-255 pixel values (normalization is inside "
                f"the model). Validation resized the shorter side to {base_size_for(size)} and "
                f"took the centre {size}x{size} crop."
            ),
            color_space="RGB",
            mean=NORMALIZATION["mean"],
            std=NORMALIZATION["std"],
            min=_PIXEL_RANGE[0],
            max=_PIXEL_RANGE[1],
        ),
        output=ClassifierOutputMetadata(
            name="probability",
            description=f"Softmax probabilities of the {len(labels)} classes in {labels_file}.",
            labels_file=labels_file,
            min=_PROBABILITY_RANGE[0],
            max=_PROBABILITY_RANGE[1],
        ),
    )


def describe(
    doc: Mapping[str, Any], variant: Mapping[str, Any], labels: Sequence[str], io: ModelIO
) -> str:
    """One paragraph: what was trained on what, and how well this variant does."""
    dataset = doc["dataset"]
    shown = ", ".join(labels[:_LISTED_CLASSES])
    if len(labels) > _LISTED_CLASSES:
        shown += f" and {len(labels) - _LISTED_CLASSES} more"
    return (
        f"{doc['model']} image classifier trained with alexedge on "
        f"{Path(str(dataset['root'])).name} ({len(labels)} classes: {shown}). "
        f"Variant {variant['name']} ({variant['quantization']} weights, "
        f"{io.input.dtype} input): top-1 {variant['top1']:.1%}, top-5 {variant['top5']:.1%} "
        f"on {dataset['val_images']} validation images."
    )


def measured_latency(doc: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """The variant's latency and the machine it was measured on (``variants.json``'s
    ``hardware``), for ``manifest.json`` and ``USAGE.md`` alike.

    Not this machine's description: a bundle may be packaged far from where
    ``alexedge compress`` timed the variant, and the figures hold only there.
    """
    hardware = doc.get("hardware")
    known = isinstance(hardware, Mapping)
    return {
        "ms_1_thread": variant.get("latency_ms_1_thread"),
        "ms_2_threads": variant.get("latency_ms_2_threads"),
        "measured_on": hardware_line(dict(hardware)) if known else UNKNOWN_HARDWARE,
        "hardware": dict(hardware) if known else None,
        "note": _PHONE_NOTE,
    }


def build_manifest(
    *,
    doc: Mapping[str, Any],
    variant: Mapping[str, Any],
    metadata: ModelMetadata,
    io: ModelIO,
    files: Mapping[str, str],
    model_bytes: int,
    sha256: str,
    training_config: Mapping[str, Any],
    target: str,
    runtime_notes: Sequence[str] = (),
) -> dict[str, Any]:
    """``manifest.json``: everything an app developer or a build script asks about the model."""
    size = io.input_size
    return {
        **files,
        "target": target,
        "variant": variant["name"],
        "model_family": doc["model"],
        "quantization": variant["quantization"],
        "sparsity": variant.get("sparsity"),
        "size_bytes": model_bytes,
        "sha256": sha256,
        "num_classes": io.num_classes,
        "input": {
            **io.input.to_dict(),
            "color": "RGB",
            "normalization": {
                "mean": list(NORMALIZATION["mean"]),
                "std": list(NORMALIZATION["std"]),
                "meaning": "none: feed raw 0-255 pixels; the model normalizes inside",
            },
            "preprocessing": (
                f"resize the shorter side to {base_size_for(size)}, take the centre "
                f"{size}x{size} crop"
            ),
        },
        "output": {
            **io.output.to_dict(),
            "meaning": "class probabilities (softmax), in labels.txt order",
        },
        "validation": {
            "top1": variant["top1"],
            "top5": variant["top5"],
            "images": doc["dataset"]["val_images"],
        },
        "latency": measured_latency(doc, variant),
        # What the app's TFLite runtime must support beyond long-standing TFLite 2.x.
        "runtime_notes": list(runtime_notes),
        "metadata": _metadata_dict(metadata),
        "training_config": dict(training_config),
    }


def _metadata_dict(metadata: ModelMetadata) -> dict[str, Any]:
    """The embedded fields as JSON (tuples become lists)."""
    return _lists(asdict(metadata))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value
