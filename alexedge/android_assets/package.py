"""``alexedge package RUN``: one variant of a run as the folder a phone app ships.

The folder holds ``model.tflite`` with embedded TFLite Model Metadata (names,
normalization, labels: what MediaPipe Tasks reads), ``labels.txt``,
``manifest.json``, ``USAGE.md`` and ``golden/`` (validation images with the edge
runtime's answers). The metadata is written last, on the variant's final bytes:
re-serialising a model drops the zip of associated files appended to it.

No TensorFlow here: packaging needs only the run folder and a TFLite interpreter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.android_assets.bundle import check_out_folder, staged_folder
from alexedge.android_assets.golden import GOLDEN_JSON, GoldenImage, pick_golden, write_golden
from alexedge.android_assets.manifest import build_manifest, model_metadata
from alexedge.android_assets.model_io import ModelIO, read_model_io
from alexedge.android_assets.runtime import runtime_notes
from alexedge.android_assets.usage import usage_markdown
from alexedge.atomic import write_bytes, write_json, write_text
from alexedge.compress.schema import validate_variants_doc
from alexedge.edge_runtime.metadata import ModelMetadata, write_metadata
from alexedge.errors import ConfigError, DataError, ModelError
from alexedge.run import LABELS, TRAIN_CONFIG, VARIANTS_DIR, VARIANTS_JSON, reload_dataset

__all__ = [
    "FILES",
    "TARGETS",
    "Bundle",
    "PackageConfig",
    "default_out",
    "package_run",
    "select_variant",
]

TARGETS = ("android", "ios")
_DEFAULT_FOLDERS = {"android": "android_assets", "ios": "ios_assets"}
FILES = {
    "model": "model.tflite",
    "labels": "labels.txt",
    "manifest": "manifest.json",
    "usage": "USAGE.md",
    "golden": f"golden/{GOLDEN_JSON}",
}
# MediaPipe Tasks ImageClassifier takes uint8 or float32 input and refuses int8
# ("Requested one of these types: uint8/float32, got INT8").
_MEDIAPIPE_INPUTS = ("uint8", "float32")


@dataclass(frozen=True)
class PackageConfig:
    """How to package a run.

    Attributes:
        variant: a name from ``RUN/variants.json``; ``None`` picks the variant a
            compression search selected, else the smallest variant (in bytes) that passed
            verification and takes uint8 input.
        target: ``android`` or ``ios``: which platform ``USAGE.md`` shows first, and the
            default folder name.
        out: the bundle folder; ``None`` means ``RUN/android_assets`` or ``RUN/ios_assets``.
        force: replace a non-empty ``out``.
        author, license, version: written into the model's metadata and the manifest.
        golden_images: validation images copied into ``golden/`` with expected answers.
        data_root: where the run's dataset lives now, if it moved since training.
    """

    variant: str | None = None
    target: str = "android"
    out: Path | None = None
    force: bool = False
    author: str = "alexedge"
    license: str = "unspecified"
    version: str = "1"
    golden_images: int = 8
    data_root: Path | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"--target {self.target!r}: choose one of {', '.join(TARGETS)}")
        if self.variant is not None and not self.variant.strip():
            raise ConfigError("--variant: give a variant name from RUN/variants.json")
        if not 1 <= self.golden_images <= 100:
            raise ConfigError(f"golden_images must be from 1 to 100, got {self.golden_images}")
        for name in ("author", "license", "version"):
            value = getattr(self, name)
            if not isinstance(value, str) or "\n" in value:
                raise ConfigError(f"--{name} must be one line of text, got {value!r}")
        for name in ("out", "data_root"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))


@dataclass(frozen=True)
class Bundle:
    """A written bundle: where it is and what it holds."""

    folder: Path
    variant: str
    target: str
    model_bytes: int
    sha256: str
    metadata: ModelMetadata
    golden_images: int
    # Runtime requirements beyond long-standing TFLite (``runtime.runtime_notes``): also in
    # manifest.json and USAGE.md; a caller that prints the bundle should print these too.
    notes: tuple[str, ...] = ()


def default_out(run_dir: Path, target: str = "android") -> Path:
    return Path(run_dir) / _DEFAULT_FOLDERS[target]


def package_run(run_dir: Path, config: PackageConfig | None = None) -> Bundle:
    """Write the bundle of one variant of the run in ``run_dir``.

    Raises:
        ModelError: no usable variant, an unknown, failed or int8-input one was asked
            for, or ``labels.txt`` does not match the model's outputs.
        DataError: the run folder or its dataset (for ``golden/``) cannot be read.
        AlexEdgeError: ``out`` is not empty and ``force`` is off.
    """
    config = config or PackageConfig()
    run_dir = Path(run_dir)
    out = config.out or default_out(run_dir, config.target)
    check_out_folder(out, config.force, protect=run_dir)
    doc = read_variants(run_dir)
    variant = select_variant(run_dir, doc, config.variant)
    model_path = run_dir / VARIANTS_DIR / str(variant["file"])
    io = read_model_io(model_path)
    _check_input_type(io, variant, model_path)
    labels = _read_run_labels(run_dir, io, variant)
    labels_bytes = "".join(f"{label}\n" for label in labels).encode("utf-8")
    metadata = model_metadata(
        doc,
        variant,
        labels,
        io,
        version=config.version,
        author=config.author,
        license=config.license,
        labels_file=FILES["labels"],
    )
    model = write_metadata(model_path.read_bytes(), metadata, {FILES["labels"]: labels_bytes})
    digest = hashlib.sha256(model).hexdigest()
    notes = runtime_notes(model)
    golden = _golden_images(run_dir, config)
    with staged_folder(out, config.force) as tmp:
        write_bytes(tmp / FILES["model"], model)
        write_bytes(tmp / FILES["labels"], labels_bytes)
        (tmp / "golden").mkdir()
        write_golden(tmp / "golden", tmp / FILES["model"], golden)
        manifest = build_manifest(
            doc=doc,
            variant=variant,
            metadata=metadata,
            io=io,
            files=FILES,
            model_bytes=len(model),
            sha256=digest,
            training_config=_read_json(run_dir / TRAIN_CONFIG),
            target=config.target,
            runtime_notes=notes,
        )
        write_json(tmp / FILES["manifest"], manifest)
        usage = usage_markdown(io, metadata.description, config.target, notes, manifest["latency"])
        write_text(tmp / FILES["usage"], usage)
    name = str(variant["name"])
    return Bundle(out, name, config.target, len(model), digest, metadata, len(golden), notes)


def read_variants(run_dir: Path) -> dict[str, Any]:
    """``RUN/variants.json``, checked against its schema."""
    doc = _read_json(run_dir / VARIANTS_JSON, "run `alexedge compress RUN` first")
    validate_variants_doc(doc)
    return doc


def select_variant(run_dir: Path, doc: Mapping[str, Any], name: str | None) -> dict[str, Any]:
    """The variant named ``name``, or the default: the one a compression search selected
    (``alexedge compress --max-loss``), else the smallest verified uint8-input one.

    Raises ``ModelError`` for an unknown name, a variant that failed verification, or
    one whose input MediaPipe refuses, saying why and what to do.
    """
    variants = list(doc["variants"])
    known = ", ".join(str(v["name"]) for v in variants) or "none"
    source = run_dir / VARIANTS_JSON
    if name is None:
        name = (doc.get("search") or {}).get("selected")
    if name is None:
        usable = [v for v in variants if _status(v) == "ok" and _input_dtype(run_dir, v) == "uint8"]
        if not usable:
            raise ModelError(
                f"{source}: no variant both passed verification and takes uint8 input (known: "
                f"{known}); make one with `alexedge compress RUN --quantize int8 --io uint8`, or "
                "pick a float one with --variant NAME"
            )
        return dict(min(usable, key=lambda v: (v["bytes"], str(v["name"]))))
    found = [v for v in variants if v["name"] == name]
    if not found:
        raise ModelError(f"{source}: no variant named {name!r}; known: {known}")
    variant = dict(found[0])
    if _status(variant) != "ok":
        raise ModelError(
            f"{source}: variant {name!r} failed verification ({variant.get('error') or 'no reason'}"
            "), so an app would get a broken model; pick another with --variant"
        )
    dtype = _input_dtype(run_dir, variant)
    if dtype not in _MEDIAPIPE_INPUTS:
        raise ModelError(
            f"{source}: variant {name!r} takes {dtype} input, which MediaPipe Tasks refuses "
            "(it needs uint8 or float32); re-export with `alexedge compress RUN --io uint8`"
        )
    return variant


def _status(variant: Mapping[str, Any]) -> str:
    # Schema version 1 has no verification status: its variants were all exported.
    return str(variant.get("status", "ok"))


def _input_dtype(run_dir: Path, variant: Mapping[str, Any]) -> str:
    recorded = (variant.get("input") or {}).get("dtype")
    if recorded:
        return str(recorded)
    # Schema version 1 does not record tensor types: ask the file.
    return read_model_io(run_dir / VARIANTS_DIR / str(variant["file"])).input.dtype


def _check_input_type(io: ModelIO, variant: Mapping[str, Any], model_path: Path) -> None:
    if io.input.dtype not in _MEDIAPIPE_INPUTS:
        raise ModelError(
            f"{model_path}: variant {variant['name']!r} takes {io.input.dtype} input, which "
            "MediaPipe Tasks refuses; re-export with `alexedge compress RUN --io uint8`"
        )


def _read_run_labels(run_dir: Path, io: ModelIO, variant: Mapping[str, Any]) -> list[str]:
    path = run_dir / LABELS
    if not path.is_file():
        raise DataError(f"{path}: missing; a training run writes it (one class name a line)")
    labels = path.read_text(encoding="utf-8").splitlines()
    while labels and not labels[-1].strip():
        labels.pop()
    if len(labels) != io.num_classes:
        raise ModelError(
            f"{path}: {len(labels)} labels, but variant {variant['name']!r} outputs "
            f"{io.num_classes} classes; labels.txt must name every output class, one a line, "
            "in class-index order (the run's training writes it)"
        )
    return labels


def _golden_images(run_dir: Path, config: PackageConfig) -> list[GoldenImage]:
    try:
        dataset = reload_dataset(run_dir, config.data_root)
    except DataError as e:
        raise DataError(
            f"{e}; golden/ needs the run's validation images: give --data-root if they moved"
        ) from e
    return pick_golden(dataset.val, dataset.class_names, config.golden_images)


def _read_json(path: Path, hint: str = "") -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"{path}: missing" + (f"; {hint}" if hint else ""))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from e
