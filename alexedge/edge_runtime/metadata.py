"""TFLite Model Metadata, read and written with numpy and ``flatbuffers`` only.

No maintained metadata library installs beside TensorFlow 2.21 (tflite-support pins
protobuf < 4, MediaPipe's writer lacks its C extension), so this module encodes the
public ``metadata_schema.fbs`` (namespace ``tflite``, file identifier ``M001``) itself,
for the one shape alexedge needs: an image classifier with one input and one output.

Layout, as Google's writer and MediaPipe Tasks use it: the model's ``metadata`` vector
has an entry named ``TFLITE_METADATA`` whose buffer holds the ``ModelMetadata``
flatbuffer; associated files (the labels) are a zip of stored entries appended after
the model flatbuffer, which interpreters ignore.

Adding the metadata rewrites only the model's root table: the new root and the new
buffer are placed in front of the untouched old flatbuffer and point into it, so every
operator, tensor and weight keeps its bytes and its 16-byte alignment, the time is one
copy of the file, and tables from a newer TFLite schema survive. The old root, a few
hundred bytes, stays behind unreferenced.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import flatbuffers
import numpy as np

from alexedge.edge_runtime.interpreter import check_tflite_file
from alexedge.errors import ModelError

__all__ = [
    "METADATA_NAME",
    "ClassifierOutputMetadata",
    "ImageInputMetadata",
    "ModelMetadata",
    "read_associated_files",
    "read_input_normalization",
    "read_labels_from_metadata",
    "read_metadata",
    "write_metadata",
]

METADATA_NAME = "TFLITE_METADATA"
_MODEL_ID = b"TFL3"
_METADATA_ID = b"M001"
_COLOR_SPACES = ("UNKNOWN", "RGB", "GRAYSCALE")  # enum ColorSpaceType, by value
_TENSOR_AXIS_LABELS = 2  # enum AssociatedFileType
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2  # union ContentProperties
_NORMALIZATION_OPTIONS = 1  # union ProcessUnitOptions
_LABELS_DESCRIPTION = "Class labels, one a line, in the order of the output scores."
# The old flatbuffer is moved as one block: placing it on a 64-byte boundary keeps
# every alignment inside it (the schema asks 16 for buffer data).
_BLOCK_ALIGN = 64
# A zip entry's timestamp is part of its bytes: a fixed one makes writes reproducible.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _floats(values: Any, what: str) -> tuple[float, ...]:
    """As stored: float32, written back as its shortest decimal (123.675 stays 123.675).

    So a value survives write -> read unchanged and compares equal after it.
    """
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{what} needs at least one value")
    return tuple(_float32(v) for v in values)


def _float32(value: Any) -> float:
    return float(str(np.float32(value)))


@dataclass(frozen=True)
class ImageInputMetadata:
    """The image input tensor: ``(pixels - mean) / std`` is what the model was trained on.

    ``mean``/``std`` hold one value for all channels or one per channel; ``min``/``max``
    are the Stats of the values the tensor takes (optional).
    """

    name: str = "image"
    description: str = ""
    color_space: str = "RGB"
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    min: tuple[float, ...] | None = None
    max: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.color_space not in _COLOR_SPACES:
            raise ValueError(
                f"color_space must be one of {_COLOR_SPACES}, got {self.color_space!r}"
            )
        object.__setattr__(self, "mean", _floats(self.mean, "mean"))
        object.__setattr__(self, "std", _floats(self.std, "std"))
        if any(s == 0 for s in self.std):
            raise ValueError(f"std must not be 0, got {self.std}")
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _floats(getattr(self, name), name))


@dataclass(frozen=True)
class ClassifierOutputMetadata:
    """The score tensor; ``labels_file`` names its TENSOR_AXIS_LABELS file ("" for none)."""

    name: str = "probability"
    description: str = ""
    labels_file: str = "labels.txt"
    min: tuple[float, ...] | None = None
    max: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _floats(getattr(self, name), name))


@dataclass(frozen=True)
class ModelMetadata:
    """What an app reads from the model: names, licence, normalization, labels file."""

    name: str
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    min_parser_version: str = "1.0.0"
    input: ImageInputMetadata = field(default_factory=ImageInputMetadata)
    output: ClassifierOutputMetadata = field(default_factory=ClassifierOutputMetadata)


# --- reading ----------------------------------------------------------------------------


class _Corrupt(Exception):
    """A read outside the buffer or a malformed table; becomes one ModelError."""


class _Buffer:
    """Bounds-checked little-endian reads: flatbuffers' Python reader checks nothing."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.size = len(data)

    def read(self, fmt: str, pos: int) -> Any:
        width = struct.calcsize(fmt)
        if pos < 0 or pos + width > self.size:
            raise _Corrupt(f"offset {pos} outside the {self.size}-byte buffer")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def root(self, identifier: bytes) -> _Table:
        if self.size < 8 or bytes(self.data[4:8]) != identifier:
            raise _Corrupt(f"no {identifier.decode()} file identifier")
        return _Table(self, self.read("I", 0))


class _Table:
    """One flatbuffer table; fields are addressed by slot number as in the schema."""

    def __init__(self, buf: _Buffer, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - buf.read("i", pos)
        self.vtable_size = buf.read("H", self.vtable)
        if self.vtable_size < 4 or self.vtable_size % 2:
            raise _Corrupt(f"bad vtable at {self.vtable}")

    @property
    def slots(self) -> int:
        return (self.vtable_size - 4) // 2

    def field(self, slot: int) -> int:
        """Absolute position of the field, 0 when it is absent."""
        if slot >= self.slots:
            return 0
        offset = self.buf.read("H", self.vtable + 4 + 2 * slot)
        return self.pos + offset if offset else 0

    def scalar(self, slot: int, fmt: str, default: Any = 0) -> Any:
        pos = self.field(slot)
        return self.buf.read(fmt, pos) if pos else default

    def target(self, slot: int) -> int:
        """Where an offset field (table, vector, string) points, 0 when absent."""
        pos = self.field(slot)
        return pos + self.buf.read("I", pos) if pos else 0

    def table(self, slot: int) -> _Table | None:
        pos = self.target(slot)
        return _Table(self.buf, pos) if pos else None

    def vector(self, slot: int, width: int) -> tuple[int, int]:
        """Start of the elements and their count; (0, 0) when absent."""
        pos = self.target(slot)
        if not pos:
            return 0, 0
        count = self.buf.read("I", pos)
        if pos + 4 + count * width > self.buf.size:
            raise _Corrupt(f"vector of {count} elements at {pos} runs past the buffer")
        return pos + 4, count

    def tables(self, slot: int) -> list[_Table]:
        start, count = self.vector(slot, 4)
        return [_Table(self.buf, self.element(start, i)) for i in range(count)]

    def element(self, start: int, i: int) -> int:
        pos = start + 4 * i
        return pos + self.buf.read("I", pos)

    def bytes(self, slot: int) -> bytes:
        start, count = self.vector(slot, 1)
        return bytes(self.buf.data[start : start + count])

    def string(self, slot: int) -> str:
        try:
            return self.bytes(slot).decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Corrupt(f"a string is not UTF-8 ({e})") from e

    def floats(self, slot: int) -> tuple[float, ...] | None:
        start, count = self.vector(slot, 4)
        if not start:
            return None
        return tuple(_float32(v) for v in struct.unpack_from(f"<{count}f", self.buf.data, start))

    def union(self, type_slot: int) -> tuple[int, _Table | None]:
        """A union takes two slots: its type tag, then the table."""
        return self.scalar(type_slot, "B"), self.table(type_slot + 1)


# TFLite schema.fbs: Model {version, operator_codes, subgraphs, description, buffers,
# metadata_buffer, metadata, signature_defs}; Buffer {data, offset, size};
# Metadata {name, buffer}; SubGraph {tensors, inputs, outputs, ...}.
_MODEL_SLOTS = 8
_M_VERSION, _M_SUBGRAPHS, _M_BUFFERS, _M_METADATA = 0, 2, 4, 6
_MODEL_OFFSET_SLOTS = (1, 2, 3, 5, 7)  # kept as they are when the root is rewritten


@contextmanager
def _model_buffer(model: bytes | str | os.PathLike[str]) -> Iterator[tuple[Any, str, Path | None]]:
    """The model's bytes (a file is memory-mapped, not read), a name for messages, its path."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        yield model, "the model", None
        return
    path = Path(model)
    check_tflite_file(path)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield data, str(path), path


def _metadata_blob(data: Any, name: str) -> bytes | None:
    """The bytes of the TFLITE_METADATA buffer, ``None`` when the model has none."""
    try:
        buf = _Buffer(data)
        root = buf.root(_MODEL_ID)
        start, count = root.vector(_M_BUFFERS, 4)
        for entry in root.tables(_M_METADATA):
            if entry.string(0) != METADATA_NAME:
                continue
            index = entry.scalar(1, "I")
            if index >= count:
                raise _Corrupt(f"its {METADATA_NAME} entry names buffer {index} of {count}")
            buffer = _Table(buf, root.element(start, index))
            offset, size = buffer.scalar(1, "Q"), buffer.scalar(2, "Q")
            if offset > 1:  # data kept after the flatbuffer (models over 2 GB)
                if offset + size > buf.size:
                    raise _Corrupt(f"buffer {index} runs past the end of the file")
                return bytes(data[offset : offset + size])
            return buffer.bytes(0)
    except _Corrupt as e:
        raise ModelError(f"{name}: not a valid TFLite model flatbuffer ({e})") from e
    return None


_T = TypeVar("_T")


def _parse_metadata(blob: bytes, name: str, parse: Callable[[_Table], _T]) -> _T:
    try:
        return parse(_Buffer(blob).root(_METADATA_ID))
    except (_Corrupt, ValueError, struct.error) as e:
        raise ModelError(
            f"{name}: its {METADATA_NAME} metadata is corrupt ({e}); write it again, "
            "or remove it and pass labels and --mean/--std yourself"
        ) from e


def _with_metadata(model: Any, parse: Callable[[_Table], _T]) -> _T | None:
    with _model_buffer(model) as (data, name, _):
        blob = _metadata_blob(data, name)
        return None if blob is None else _parse_metadata(blob, name, parse)


def _first_tensor(root: _Table, slot: int) -> _Table | None:
    """The first input (slot 2) or output (slot 3) TensorMetadata of subgraph 0."""
    subgraphs = root.tables(3)
    tensors = subgraphs[0].tables(slot) if subgraphs else []
    return tensors[0] if tensors else None


def _stats(tensor: _Table) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    stats = tensor.table(5)
    return (None, None) if stats is None else (stats.floats(1), stats.floats(0))


def _normalization(tensor: _Table | None) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    for unit in tensor.tables(4) if tensor is not None else []:
        kind, options = unit.union(0)
        if kind == _NORMALIZATION_OPTIONS and options is not None:
            mean, std = options.floats(0), options.floats(1)
            if not mean or not std:
                raise _Corrupt("NormalizationOptions without mean or std")
            return mean, std
    return None


def _labels_file(tensor: _Table | None) -> str:
    for item in tensor.tables(6) if tensor is not None else []:
        if item.scalar(2, "b") == _TENSOR_AXIS_LABELS:
            return item.string(0)
    return ""


def _input_metadata(tensor: _Table | None) -> ImageInputMetadata:
    if tensor is None:
        return ImageInputMetadata()
    color = "UNKNOWN"
    content = tensor.table(3)
    kind, properties = content.union(0) if content is not None else (0, None)
    if kind == _IMAGE_PROPERTIES and properties is not None:
        value = properties.scalar(0, "b")
        color = _COLOR_SPACES[value] if 0 <= value < len(_COLOR_SPACES) else "UNKNOWN"
    mean, std = _normalization(tensor) or ((0.0,), (1.0,))
    low, high = _stats(tensor)
    return ImageInputMetadata(tensor.string(0), tensor.string(1), color, mean, std, low, high)


def _output_metadata(tensor: _Table | None) -> ClassifierOutputMetadata:
    if tensor is None:
        return ClassifierOutputMetadata(labels_file="")
    low, high = _stats(tensor)
    return ClassifierOutputMetadata(
        tensor.string(0), tensor.string(1), _labels_file(tensor), low, high
    )


def _model_metadata(root: _Table) -> ModelMetadata:
    return ModelMetadata(
        name=root.string(0),
        description=root.string(1),
        version=root.string(2),
        author=root.string(4),
        license=root.string(5),
        min_parser_version=root.string(7),
        input=_input_metadata(_first_tensor(root, 2)),
        output=_output_metadata(_first_tensor(root, 3)),
    )


def read_metadata(model: bytes | str | os.PathLike[str]) -> ModelMetadata | None:
    """The model's TFLite Model Metadata, ``None`` when it has none.

    Fields the model does not set read as empty strings, ``None`` stats and mean 0,
    std 1 (use ``read_input_normalization`` to tell "not given" from the identity).

    Raises:
        ModelError: the file is not a TFLite model, or its metadata is corrupt.
    """
    return _with_metadata(model, _model_metadata)


def read_input_normalization(
    model: bytes | str | os.PathLike[str],
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The ``(mean, std)`` NormalizationOptions of the image input, ``None`` if not given."""
    return _with_metadata(model, lambda root: _normalization(_first_tensor(root, 2)))


def _zip_entries(model: Any, path: Path | None, name: str, expected: bool) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path if path is not None else io.BytesIO(model)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except zipfile.BadZipFile as e:
        if not expected and "not a zip file" in str(e):
            return {}
        raise ModelError(
            f"{name}: the zip of associated files appended to the model is missing or "
            f"corrupt ({e}); write the metadata again"
        ) from e
    except (OSError, EOFError, ValueError, struct.error) as e:
        raise ModelError(f"{name}: the zip of associated files is corrupt ({e})") from e


def _names_files(root: _Table) -> bool:
    """Whether the metadata lists any associated file (then the zip must exist)."""
    if root.tables(6):
        return True
    for subgraph in root.tables(3):
        tensors = subgraph.tables(2) + subgraph.tables(3)
        if subgraph.tables(4) or any(t.tables(6) for t in tensors):
            return True
    return False


def read_associated_files(model: bytes | str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file in the zip appended to the model, by name ({} when there is none).

    Raises:
        ModelError: the metadata lists files but the zip is missing, or it is corrupt.
    """
    with _model_buffer(model) as (data, name, path):
        blob = _metadata_blob(data, name)
        expected = blob is not None and _parse_metadata(blob, name, _names_files)
        return _zip_entries(data, path, name, expected)


def read_labels_from_metadata(model: bytes | str | os.PathLike[str]) -> list[str] | None:
    """The class names in the output's TENSOR_AXIS_LABELS file, ``None`` if there is none.

    Lines are stripped and trailing blank lines dropped, as ``read_labels`` does for a
    ``labels.txt``.

    Raises:
        ModelError: the metadata names a labels file the model does not carry, or the
            file is not UTF-8 text.
    """
    with _model_buffer(model) as (data, name, path):
        blob = _metadata_blob(data, name)
        if blob is None:
            return None
        filename = _parse_metadata(blob, name, lambda root: _labels_file(_first_tensor(root, 3)))
        if not filename:
            return None
        files = _zip_entries(data, path, name, expected=True)
    if filename not in files:
        raise ModelError(
            f"{name}: its metadata names the labels file {filename!r}, but the model "
            f"carries {sorted(files) or 'no files'}"
        )
    try:
        lines = [line.strip() for line in files[filename].decode("utf-8").splitlines()]
    except UnicodeDecodeError as e:
        raise ModelError(f"{name}: its labels file {filename!r} is not UTF-8 text") from e
    while lines and not lines[-1]:
        lines.pop()
    return lines or None


# --- writing ----------------------------------------------------------------------------


def _table(
    builder: flatbuffers.Builder,
    slots: int,
    refs: Mapping[int, int | None] = {},
    tags: Mapping[int, int] = {},
) -> int:
    """A table of offset fields (``refs``) and one-byte enum/union tags (``tags``)."""
    builder.StartObject(slots)
    for slot, ref in refs.items():
        if ref is not None:
            builder.PrependUOffsetTRelativeSlot(slot, ref, 0)
    for slot, value in tags.items():
        builder.PrependUint8Slot(slot, value, 0)
    return builder.EndObject()


def _string(builder: flatbuffers.Builder, text: str) -> int | None:
    return builder.CreateString(text) if text else None


def _float_vector(builder: flatbuffers.Builder, values: tuple[float, ...] | None) -> int | None:
    if values is None:
        return None
    builder.StartVector(4, len(values), 4)
    for value in reversed(values):
        builder.PrependFloat32(value)
    return builder.EndVector()


def _table_vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _stats_table(builder: flatbuffers.Builder, low: Any, high: Any) -> int | None:
    if low is None and high is None:
        return None
    high_vec, low_vec = _float_vector(builder, high), _float_vector(builder, low)
    return _table(builder, 2, {0: high_vec, 1: low_vec})  # Stats {max, min}


def _input_table(builder: flatbuffers.Builder, meta: ImageInputMetadata) -> int:
    color = _COLOR_SPACES.index(meta.color_space)
    image = _table(builder, 2, tags={0: color})  # ImageProperties {color_space, default_size}
    content = _table(builder, 3, {1: image}, {0: _IMAGE_PROPERTIES})  # Content
    mean, std = _float_vector(builder, meta.mean), _float_vector(builder, meta.std)
    options = _table(builder, 2, {0: mean, 1: std})  # NormalizationOptions
    unit = _table(builder, 2, {1: options}, {0: _NORMALIZATION_OPTIONS})  # ProcessUnit
    units = _table_vector(builder, [unit])
    stats = _stats_table(builder, meta.min, meta.max)
    name, description = _string(builder, meta.name), _string(builder, meta.description)
    # TensorMetadata {name, description, dimension_names, content, process_units, stats,
    # associated_files}
    return _table(builder, 7, {0: name, 1: description, 3: content, 4: units, 5: stats})


def _output_table(builder: flatbuffers.Builder, meta: ClassifierOutputMetadata) -> int:
    files = None
    if meta.labels_file:
        file_name = builder.CreateString(meta.labels_file)
        file_description = builder.CreateString(_LABELS_DESCRIPTION)
        # AssociatedFile {name, description, type, locale}
        labels = _table(builder, 4, {0: file_name, 1: file_description}, {2: _TENSOR_AXIS_LABELS})
        files = _table_vector(builder, [labels])
    features = _table(builder, 0)  # FeatureProperties {}
    content = _table(builder, 3, {1: features}, {0: _FEATURE_PROPERTIES})
    stats = _stats_table(builder, meta.min, meta.max)
    name, description = _string(builder, meta.name), _string(builder, meta.description)
    return _table(builder, 7, {0: name, 1: description, 3: content, 5: stats, 6: files})


def _metadata_flatbuffer(meta: ModelMetadata) -> bytes:
    builder = flatbuffers.Builder(1024)
    inputs = _table_vector(builder, [_input_table(builder, meta.input)])
    outputs = _table_vector(builder, [_output_table(builder, meta.output)])
    # SubGraphMetadata {name, description, input_tensor_metadata, output_tensor_metadata, ...}
    subgraph = _table(builder, 7, {2: inputs, 3: outputs})
    subgraphs = _table_vector(builder, [subgraph])
    strings = [
        _string(builder, text)
        for text in (meta.name, meta.description, meta.version, meta.author, meta.license)
    ]
    parser = _string(builder, meta.min_parser_version)
    # ModelMetadata {name, description, version, subgraph_metadata, author, license,
    # associated_files, min_parser_version}
    refs = dict(zip((0, 1, 2, 4, 5), strings, strict=True))
    root = _table(builder, 8, {**refs, 3: subgraphs, 7: parser})
    builder.Finish(root, file_identifier=_METADATA_ID)
    return bytes(builder.Output())


def _flatbuffer_end(model: bytes) -> int:
    """Where the flatbuffer ends: before an appended zip of associated files, if any."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as archive:
            starts = [info.header_offset for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error):
        return len(model)
    return min(starts) if starts and 0 < min(starts) <= len(model) else len(model)


def _prepend_raw(builder: flatbuffers.Builder, data: bytes | memoryview, alignment: int) -> int:
    """Place ``data`` in front of what the builder holds, aligned; its builder offset."""
    builder.Prep(alignment, len(data))
    builder.head -= len(data)
    builder.Bytes[builder.head : builder.head + len(data)] = data
    return builder.Offset()


def _check_model(root: _Table, name: str) -> None:
    if root.slots > _MODEL_SLOTS and any(root.field(s) for s in range(_MODEL_SLOTS, root.slots)):
        raise ModelError(
            f"{name}: written with a newer TFLite schema (its root table has "
            f"{root.slots} fields); alexedge cannot add metadata to it without losing some"
        )
    buffers = root.tables(_M_BUFFERS)
    if any(buffer.scalar(1, "Q") > 1 for buffer in buffers):
        raise ModelError(
            f"{name}: keeps its weights outside the flatbuffer (a model over 2 GB); "
            "alexedge cannot add metadata to such a model"
        )
    subgraphs = root.tables(_M_SUBGRAPHS)
    counts = [subgraphs[0].vector(slot, 4)[1] for slot in (1, 2)] if subgraphs else [0, 0]
    if counts != [1, 1]:
        raise ModelError(
            f"{name}: the metadata describes one image input and one score output, the "
            f"model's main subgraph has {counts[0]} inputs and {counts[1]} outputs"
        )


def _with_new_root(model: memoryview, metadata_blob: bytes, name: str) -> memoryview:
    """The model with its root table rewritten to hold the TFLITE_METADATA entry."""
    try:
        root = _Buffer(model).root(_MODEL_ID)
        _check_model(root, name)
        buffers = root.tables(_M_BUFFERS)
        kept = [t for t in root.tables(_M_METADATA) if t.string(0) != METADATA_NAME]
        targets = {slot: root.target(slot) for slot in _MODEL_OFFSET_SLOTS}
        version = root.scalar(_M_VERSION, "I")
    except _Corrupt as e:
        raise ModelError(f"{name}: not a valid TFLite model flatbuffer ({e})") from e
    builder = flatbuffers.Builder(len(model) + len(metadata_blob) + 4096)
    end = _prepend_raw(builder, model, _BLOCK_ALIGN)

    def moved(pos: int) -> int:  # a position in the old flatbuffer, as a builder offset
        return end - pos

    builder.StartVector(1, len(metadata_blob), 16)
    _prepend_raw(builder, metadata_blob, 1)
    data = builder.EndVector()
    new_buffer = _table(builder, 3, {0: data})  # Buffer {data, offset, size}
    entry_name = builder.CreateString(METADATA_NAME)
    builder.StartObject(2)  # Metadata {name, buffer}
    builder.PrependUOffsetTRelativeSlot(0, entry_name, 0)
    builder.PrependUint32Slot(1, len(buffers), 0)
    entry = builder.EndObject()
    buffer_vec = _table_vector(builder, [moved(b.pos) for b in buffers] + [new_buffer])
    metadata_vec = _table_vector(builder, [moved(t.pos) for t in kept] + [entry])
    builder.StartObject(_MODEL_SLOTS)
    builder.PrependUint32Slot(_M_VERSION, version, 0)
    for slot, pos in targets.items():
        if pos:
            builder.PrependUOffsetTRelativeSlot(slot, moved(pos), 0)
    builder.PrependUOffsetTRelativeSlot(_M_BUFFERS, buffer_vec, 0)
    builder.PrependUOffsetTRelativeSlot(_M_METADATA, metadata_vec, 0)
    builder.Finish(builder.EndObject(), file_identifier=_MODEL_ID)
    return memoryview(builder.Bytes)[builder.Head() :]


def write_metadata(
    model: bytes, metadata: ModelMetadata, associated_files: Mapping[str, bytes]
) -> bytes:
    """The model with ``metadata`` embedded and ``associated_files`` zipped after it.

    Any TFLITE_METADATA entry and appended zip already in ``model`` are replaced;
    other metadata entries (``min_runtime_version``, ...) are kept. The interpreter
    sees the same graph and weights, so predictions do not change. Write metadata
    last: re-serialising the model afterwards (a quantizer, the object API) drops the
    zip.

    Args:
        model: a ``.tflite`` flatbuffer under 2 GB.
        metadata: what to embed; ``metadata.output.labels_file`` must be one of
            ``associated_files`` (or "" for no labels file).
        associated_files: file name -> contents (e.g. ``{"labels.txt": b"cat\\ndog\\n"}``).

    Raises:
        ModelError: ``model`` is not a TFLite flatbuffer with one input and one output.
        ValueError: the labels file named in ``metadata`` is not among the files.
    """
    labels_file = metadata.output.labels_file
    if labels_file and labels_file not in associated_files:
        raise ValueError(
            f"metadata names the labels file {labels_file!r} but associated_files has "
            f"{sorted(associated_files)}"
        )
    blob = _metadata_flatbuffer(metadata)
    # Views, not slices: a 230 MB model is copied twice, not five times.
    flat = _with_new_root(memoryview(model)[: _flatbuffer_end(model)], blob, "the model")
    out = io.BytesIO()
    out.write(flat)
    # Mode "a" on bytes that are not a zip appends one, with offsets counted from the
    # start of the file, as Google's writer does and MediaPipe expects.
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as archive:
        for file_name, content in associated_files.items():
            archive.writestr(zipfile.ZipInfo(file_name, date_time=_ZIP_DATE), bytes(content))
    return out.getvalue()
