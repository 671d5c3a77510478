"""What the search writes like ``alexedge compress`` does: labelled files, Keras scores and a
validated ``variants.json``.

These mirror private helpers of the compress family (its Keras prediction in batches, the
metadata every variant carries, the document's header) rather than importing them: the
family's modules are private and move; the schema they must agree on is ``schema.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from alexedge.compress.config import CompressConfig
from alexedge.compress.inputs import RunInputs
from alexedge.compress.schema import SCHEMA_VERSION, merge_variants_doc, validate_variants_doc
from alexedge.config import config_to_dict
from alexedge.preprocess import MODEL_INPUT_MEAN, MODEL_INPUT_STD
from alexedge.run import VARIANTS_DIR, VARIANTS_JSON

__all__ = ["earlier_rows", "labelled", "predict", "variants_document"]


def predict(model: Any, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """Class probabilities of a Keras model, uint8 crops cast a batch at a time."""
    parts = [
        np.asarray(model(crops[i : i + batch].astype(np.float32), training=False))
        for i in range(0, len(crops), batch)
    ]
    return np.concatenate(parts)


def labelled(data: bytes, name: str, inputs: RunInputs) -> bytes:
    """The file with its labels and input normalization (TFLite metadata), as every
    compress variant has, so ``classify`` and MediaPipe read raw pixels and name classes."""
    from alexedge.edge_runtime.metadata import ImageInputMetadata, ModelMetadata, write_metadata

    labels = "".join(f"{n}\n" for n in inputs.dataset.class_names).encode()
    metadata = ModelMetadata(
        name=f"{inputs.train_config.model} {name}",
        description=f"alexedge variant {name} of {inputs.run_dir.name}",
        input=ImageInputMetadata(mean=MODEL_INPUT_MEAN, std=MODEL_INPUT_STD),
    )
    return write_metadata(data, metadata, {metadata.output.labels_file: labels})


def variants_document(
    inputs: RunInputs,
    config: CompressConfig,
    keras: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    search: Mapping[str, Any],
) -> dict[str, Any]:
    """The run's ``variants.json``: these rows, their Keras scores and the ``search``
    record, validated.

    Unlike ``compress``, nothing of an earlier document is merged in: its rows were
    measured on the whole validation split and compared with the float model there, and
    one table must compare like with like. Their files stay in ``RUN/variants/``.
    """
    train = inputs.decoded_train
    skipped = len(inputs.val_split.skipped) + (len(train.skipped) if train else 0)
    new = {
        "schema_version": SCHEMA_VERSION,
        "model": inputs.train_config.model,
        "input_size": inputs.train_config.input_size,
        "parameters": int(inputs.model.count_params()),
        "dataset": {
            "root": inputs.dataset.root,
            "classes": inputs.dataset.num_classes,
            "train_images": len(train) if train else len(inputs.dataset.train),
            "val_images": len(inputs.val_split),
            "skipped": skipped,
        },
        "keras": dict(keras),
        "variants": [dict(r) for r in rows],
        "compress": config_to_dict(config),
        "search": dict(search),
    }
    # Nothing to merge; merging with no earlier document adds what compress adds (the machine).
    doc = merge_variants_doc(new, None, inputs.run_dir / VARIANTS_DIR)
    validate_variants_doc(doc)
    return doc


def earlier_rows(inputs: RunInputs) -> int:
    """How many variant rows the run's ``variants.json`` holds now (0: none, or unreadable)."""
    try:
        doc = json.loads((inputs.run_dir / VARIANTS_JSON).read_text())
    except (OSError, ValueError):
        return 0
    rows = doc.get("variants") if isinstance(doc, dict) else None
    return len(rows) if isinstance(rows, list) else 0
