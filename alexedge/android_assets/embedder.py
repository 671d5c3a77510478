"""``alexedge package RUN --embedder``: the run's feature extractor as a MediaPipe embedder.

The trained network is cut at one layer (``transfer.extractor``: the input of ``fc8``
by default, a conv map global-average-pooled), converted to TFLite (float32, or int8
with uint8 I/O through the project's converter setup) and given the metadata
MediaPipe Tasks' ``ImageEmbedder`` reads: the image input with its NormalizationOptions
(raw 0-255 pixels, mean 0, std 1, which it requires of a float input) and one feature
vector output, named after the layer (MediaPipe reports it as the embedding's head
name). Vectors are raw, not L2-normalised: cosine similarity ignores the scale, and an
app that wants unit vectors sets the embedder's ``l2_normalize`` option.

Before anything is written, the edge runtime's vectors of up to ``CHECK_IMAGES``
validation images are compared with the Keras extractor's: their median cosine must reach
``MIN_COSINE`` (a wrong file or wrong metadata lands far below), and the manifest records
the median, the lowest and how many images fall below it (int8 rounds a few images' small
activations away). The bundle holds ``model.tflite``, ``manifest.json``, ``USAGE.md`` and
image. The bundle holds ``model.tflite``, ``manifest.json``, ``USAGE.md`` and
``golden/`` (images with their expected vectors). TensorFlow is imported only here, for
the conversion: the rest of ``android_assets`` packages without it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.android_assets.bundle import check_out_folder, staged_folder
from alexedge.android_assets.manifest import MIN_PARSER_VERSION, NORMALIZATION
from alexedge.android_assets.package import PackageConfig
from alexedge.atomic import write_bytes, write_json, write_text
from alexedge.data.dataset import ImageDataset
from alexedge.edge_runtime.embedder import Embedder, cosine_similarity
from alexedge.edge_runtime.metadata import (
    ClassifierOutputMetadata,
    ImageInputMetadata,
    ModelMetadata,
    write_metadata,
)
from alexedge.errors import ConfigError, DataError, ModelError
from alexedge.preprocess import base_size_for, eval_transform
from alexedge.run import BEST_MODEL, check_trained_run, reload_dataset

__all__ = [
    "CHECK_IMAGES",
    "EMBEDDER_MODES",
    "MIN_COSINE",
    "Agreement",
    "EmbedderBundle",
    "EmbedderConfig",
    "default_embedder_out",
    "package_embedder",
]

# float32 is the reference; int8 (uint8 I/O) is what a phone runs fastest on the CPU.
EMBEDDER_MODES = ("float32", "int8")
# The median cosine the file's vectors must reach with the Keras extractor's, and on how
# many validation images (taken class by class, the golden images first).
MIN_COSINE = 0.99
CHECK_IMAGES = 100
_MODEL_FILE = "model.tflite"
_GOLDEN_JSON = "golden.json"
_CALIBRATION_IMAGES = 100
_DECIMALS = 6


@dataclass(frozen=True)
class EmbedderConfig:
    """How to export: the layer (``None``: the input of ``fc8``) and the mode; ``bundle``
    holds what every bundle shares (folder, force, metadata, golden images, data root),
    declared once in ``PackageConfig`` (its ``variant`` and ``target`` do not apply here).
    """

    layer: str | None = None
    mode: str = "float32"
    bundle: PackageConfig = field(default_factory=PackageConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in EMBEDDER_MODES:
            raise ConfigError(
                f"--embedder-mode {self.mode!r}: choose one of {', '.join(EMBEDDER_MODES)}"
            )


@dataclass(frozen=True)
class Agreement:
    """Cosines of the file's vectors to the Keras extractor's, on validation images."""

    images: int
    median: float
    min: float
    below_floor: int  # images under MIN_COSINE

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "median": round(self.median, _DECIMALS),
            "min": round(self.min, _DECIMALS),
            f"below_{MIN_COSINE}": self.below_floor,
        }


@dataclass(frozen=True)
class EmbedderBundle:
    folder: Path
    layer: str
    mode: str
    dimensions: int
    model_bytes: int
    sha256: str
    agreement: Agreement


def default_embedder_out(run_dir: Path) -> Path:
    return Path(run_dir) / "android_embedder"


def package_embedder(run_dir: Path, config: EmbedderConfig | None = None) -> EmbedderBundle:
    """Export, check and bundle the run's feature extractor.

    Raises:
        ConfigError: an unknown layer (listing them) or mode.
        ModelError: the conversion fails, or the file's vectors disagree with Keras.
        DataError: the run or its dataset (for golden/ and int8 calibration) is missing.
        AlexEdgeError: ``out`` is not empty and ``force`` is off.
    """
    config = config or EmbedderConfig()
    run_dir = Path(run_dir)
    out = config.bundle.out or default_embedder_out(run_dir)
    check_out_folder(out, config.bundle.force, protect=run_dir)
    check_trained_run(run_dir)
    dataset = _dataset(run_dir, config.bundle.data_root)
    checked = _golden_files(dataset, max(CHECK_IMAGES, config.bundle.golden_images))
    golden = checked[: config.bundle.golden_images]
    extractor, layer = _extractor(run_dir, config.layer)
    size = int(extractor.input_shape[1])
    model = _convert(extractor, config.mode, dataset, size, config.seed)
    metadata = _metadata(extractor.name, layer, size, int(extractor.output_shape[-1]), config)
    model = write_metadata(model, metadata, {})
    from alexedge.transfer.embedding import keras_vectors

    expected = keras_vectors(extractor, [str(p) for p in checked])
    with staged_folder(out, config.bundle.force) as tmp:
        write_bytes(tmp / _MODEL_FILE, model)
        vectors = Embedder(tmp / _MODEL_FILE).embed_files(checked)
        agreement = _check_agreement(vectors, expected, config.mode)
        (tmp / "golden").mkdir()
        _write_golden(tmp / "golden", golden, vectors[: len(golden)], size)
        digest = hashlib.sha256(model).hexdigest()
        manifest = _manifest(run_dir, metadata, layer, config.mode, size, vectors, model)
        manifest["cosine_to_keras"] = agreement.to_dict()
        write_json(tmp / "manifest.json", {**manifest, "sha256": digest})
        write_text(tmp / "USAGE.md", _usage(layer, size, vectors.shape[1], config.mode))
    return EmbedderBundle(out, layer, config.mode, vectors.shape[1], len(model), digest, agreement)


def _dataset(run_dir: Path, data_root: Path | None) -> ImageDataset:
    try:
        return reload_dataset(run_dir, data_root)
    except DataError as e:
        raise DataError(f"{e}; golden/ needs the run's images: give --data if they moved") from e


def _golden_files(dataset: ImageDataset, count: int) -> list[Path]:
    from alexedge.android_assets.golden import pick_golden

    return [image.path for image in pick_golden(dataset.val, dataset.class_names, count)]


def _extractor(run_dir: Path, layer: str | None) -> tuple[Any, str]:
    from alexedge.quiet import import_tensorflow

    import_tensorflow()
    from alexedge.train.loop import load_model
    from alexedge.transfer.extractor import feature_model

    return feature_model(load_model(run_dir / BEST_MODEL), layer)


def _convert(extractor: Any, mode: str, dataset: ImageDataset, size: int, seed: int) -> bytes:
    from alexedge.compress.export.convert import convert

    if mode == "float32":
        return convert(extractor, "float32")
    # Calibrated on training images through the evaluation preprocessing, as the
    # classifier's int8 variants are: the activation ranges of the pixels a phone feeds.
    rng = np.random.default_rng(seed)
    picked = rng.permutation(len(dataset.train))[:_CALIBRATION_IMAGES]
    calibration = np.stack([eval_transform(dataset.train[i].path, size) for i in picked])
    return convert(extractor, "int8", calibration.astype(np.float32), io_type="uint8")


def _metadata(
    name: str, layer: str, size: int, dimensions: int, config: EmbedderConfig
) -> ModelMetadata:
    return ModelMetadata(
        name=f"{name} ({config.mode})",
        description=(
            f"Image embedder: the {layer} activations of an alexedge classifier, "
            f"{dimensions} values (a conv map is global-average-pooled), not L2-normalised."
        ),
        version=config.bundle.version,
        author=config.bundle.author,
        license=config.bundle.license,
        min_parser_version=MIN_PARSER_VERSION,
        input=ImageInputMetadata(
            name="image",
            description=(
                f"RGB image, {size}x{size}, raw 0-255 pixel values. Validation resized the "
                f"shorter side to {base_size_for(size)} and took the centre crop."
            ),
            mean=NORMALIZATION["mean"],
            std=NORMALIZATION["std"],
            min=(0.0,),
            max=(255.0,),
        ),
        output=ClassifierOutputMetadata(
            name=layer, description=f"Feature vector: {layer}, {dimensions} values.", labels_file=""
        ),
    )


def _check_agreement(vectors: np.ndarray, expected: np.ndarray, mode: str) -> Agreement:
    cosines = cosine_similarity(vectors, expected)
    agreement = Agreement(
        images=len(cosines),
        median=float(np.median(cosines)),
        min=float(cosines.min()),
        below_floor=int((cosines < MIN_COSINE).sum()),
    )
    if agreement.median < MIN_COSINE:
        raise ModelError(
            f"the {mode} embedder's vectors disagree with the Keras model's: median cosine "
            f"{agreement.median:.4f} on {agreement.images} validation images, below "
            f"{MIN_COSINE}" + ("; export float32 instead" if mode != "float32" else "")
        )
    return agreement


def _write_golden(folder: Path, files: list[Path], vectors: np.ndarray, size: int) -> None:
    entries = []
    for i, (path, vector) in enumerate(zip(files, vectors, strict=True)):
        name = f"{i:02d}{path.suffix.lower()}"
        write_bytes(folder / name, path.read_bytes())
        entries.append({"file": name, "embedding": [round(float(v), _DECIMALS) for v in vector]})
    write_json(
        folder / _GOLDEN_JSON,
        {
            "model": f"../{_MODEL_FILE}",
            "preprocessing": (
                f"RGB; resize the shorter side to {base_size_for(size)} (bilinear), take the "
                f"centre {size}x{size} crop, feed raw 0-255 pixel values"
            ),
            "compare": "cosine similarity of the app's vector to `embedding`: 0.99 or more",
            "images": entries,
        },
    )


def _manifest(
    run_dir: Path,
    metadata: ModelMetadata,
    layer: str,
    mode: str,
    size: int,
    vectors: np.ndarray,
    model: bytes,
) -> dict[str, Any]:
    return {
        "kind": "image_embedder",
        "model": _MODEL_FILE,
        "name": metadata.name,
        "description": metadata.description,
        "layer": layer,
        "mode": mode,
        "dimensions": int(vectors.shape[1]),
        "l2_normalized": False,
        "input": {"size": size, "normalization": {k: list(v) for k, v in NORMALIZATION.items()}},
        "bytes": len(model),
        "source_run": str(run_dir.resolve()),
        "training_config": json.loads((run_dir / "config.json").read_text(encoding="utf-8")),
    }


_USAGE = """# Using model.tflite (image embedder)

An alexedge classifier cut at layer `@LAYER@`: one vector of @DIMS@ values per image
(@MODE@; raw activations, not L2-normalised), for similarity search, clustering or a
small classifier of your own. Compare vectors by cosine similarity.

- Input: one @SIZE@x@SIZE@ RGB image, raw 0-255 pixel values (the metadata says mean 0,
  std 1). Validation resized the shorter side to @BASE@ and took the centre crop: give
  MediaPipe that centre square as the region of interest (as below).
- `golden/golden.json`: the vectors alexedge's edge runtime gives for the images in
  `golden/`; an app's own vectors for them should have a cosine of 0.99 or more.

## Android: MediaPipe Tasks (Kotlin)

```kotlin
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.components.containers.Embedding
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.imageembedder.ImageEmbedder

val embedder = ImageEmbedder.createFromOptions(
    context,
    ImageEmbedder.ImageEmbedderOptions.builder()
        .setBaseOptions(BaseOptions.builder().setModelAssetPath("model.tflite").build())
        .setL2Normalize(true)
        .build(),
)
// roi: the centre crop, as in the classifier bundle's USAGE.md
fun embed(bitmap: Bitmap, roi: ImageProcessingOptions): Embedding =
    embedder.embed(BitmapImageBuilder(bitmap).build(), roi).embeddingResult().embeddings()[0]
val similarity = ImageEmbedder.cosineSimilarity(embed(a, roiA), embed(b, roiB))
```

## Python, no TensorFlow

```python
from alexedge.edge_runtime.embedder import Embedder
vectors = Embedder("model.tflite").embed_files(["a.jpg", "b.jpg"])
```
or `alexedge embed model.tflite IMAGES... --out features.npz`.
"""


def _usage(layer: str, size: int, dimensions: int, mode: str) -> str:
    values = {
        "@LAYER@": layer,
        "@DIMS@": str(dimensions),
        "@MODE@": mode,
        "@SIZE@": str(size),
        "@BASE@": str(base_size_for(size)),
    }
    text = _USAGE
    for key, value in values.items():
        text = text.replace(key, value)
    return text
