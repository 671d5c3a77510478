"""TFLite Model Metadata written and read by ``alexedge.edge_runtime.metadata``.

The models are the shared tiny converter outputs (``tiny_tflite``); what is checked:
every field and associated file survives a write -> read round trip, the graph and weights
do not change (same interpreter outputs, same tables through LiteRT's own schema code), and
damaged metadata or a damaged zip gives one ``ModelError``, never a traceback.
"""

from __future__ import annotations

import io
import struct
import zipfile

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from alexedge.edge_runtime import (
    Classifier,
    ClassifierOutputMetadata,
    ImageInputMetadata,
    ModelMetadata,
    read_associated_files,
    read_input_normalization,
    read_labels_from_metadata,
    read_metadata,
    write_metadata,
)
from alexedge.edge_runtime.metadata import METADATA_NAME
from alexedge.errors import ModelError

SIZE = 16
CLASSES = 4
LABELS = "background\ncat\ndog\nbird é\nfish\n".encode()  # one more than outputs

FULL = ModelMetadata(
    name="tiny classifier",
    description="A model for tests — with non-ASCII text.",
    version="v1.2.3",
    author="alexedge tests",
    license="Apache-2.0",
    min_parser_version="1.0.0",
    input=ImageInputMetadata(
        name="image",
        description="RGB, raw 0-255",
        color_space="RGB",
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        min=(0.0, 0.0, 0.0),
        max=(255.0, 255.0, 255.0),
    ),
    output=ClassifierOutputMetadata(
        name="probability",
        description="softmax over the classes",
        labels_file="labels.txt",
        min=(0.0,),
        max=(1.0,),
    ),
)
FILES = {"labels.txt": LABELS, "notes.bin": bytes(range(256)) + b"\x00\xff"}


@pytest.fixture(scope="module")
def models(tiny_tflite) -> dict[str, bytes]:
    """The shared tiny classifier (SIZE x SIZE, CLASSES outputs), float and uint8."""
    return {kind: tiny_tflite(kind) for kind in ("float32", "uint8")}


def _outputs(model: bytes) -> np.ndarray:
    interpreter = Interpreter(model_content=bytes(model))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    rows = []
    for seed in range(4):
        pixels = np.random.default_rng(seed).uniform(0, 255, (1, SIZE, SIZE, 3))
        interpreter.set_tensor(inp["index"], pixels.astype(inp["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"]).copy())
    return np.concatenate(rows)


def _tables(model: bytes) -> bytes:
    """The model without buffers and metadata, re-packed by LiteRT's generated code."""
    unpacked = schema.ModelT.InitFromPackedBuf(bytes(model), 0)
    unpacked.buffers = unpacked.metadata = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(unpacked.Pack(builder))
    return bytes(builder.Output())


def _metadata_entries(model: bytes) -> list[tuple[str, bytes]]:
    root = schema.Model.GetRootAs(bytes(model), 0)
    entries = [root.Metadata(i) for i in range(root.MetadataLength())]
    return [(e.Name().decode(), root.Buffers(e.Buffer()).DataAsNumpy().tobytes()) for e in entries]


# --- round trip -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["float32", "uint8"])
def test_every_field_and_file_round_trips(models, tmp_path, kind):
    written = write_metadata(models[kind], FULL, FILES)
    path = tmp_path / "model.tflite"
    path.write_bytes(written)
    for source in (written, path, str(path)):
        assert read_metadata(source) == FULL
        assert read_associated_files(source) == FILES
        assert read_input_normalization(source) == (FULL.input.mean, FULL.input.std)
        assert read_labels_from_metadata(source) == ["background", "cat", "dog", "bird é", "fish"]


def test_defaults_and_empty_fields_round_trip(models):
    bare = ModelMetadata(name="x", output=ClassifierOutputMetadata(labels_file=""))
    written = write_metadata(models["float32"], bare, {})
    assert read_metadata(written) == bare
    assert read_metadata(written).input.mean == (0.0,)
    assert read_associated_files(written) == {}
    assert read_labels_from_metadata(written) is None


def test_values_are_coerced_and_checked():
    meta = ImageInputMetadata(mean=[127.5], std=127.5, min=[0], max=(255,))
    assert (meta.mean, meta.std, meta.min, meta.max) == ((127.5,), (127.5,), (0.0,), (255.0,))
    with pytest.raises(ValueError, match="color_space"):
        ImageInputMetadata(color_space="BGR")
    with pytest.raises(ValueError, match="std must not be 0"):
        ImageInputMetadata(std=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="at least one value"):
        ImageInputMetadata(mean=())


def test_labels_file_must_be_attached(models):
    with pytest.raises(ValueError, match=r"labels\.txt"):
        write_metadata(models["float32"], FULL, {"other.txt": b"a\n"})


def test_a_model_without_metadata_has_none(models, tmp_path):
    path = tmp_path / "plain.tflite"
    path.write_bytes(models["float32"])
    assert read_metadata(path) is None
    assert read_input_normalization(path) is None
    assert read_labels_from_metadata(path) is None
    assert read_associated_files(path) == {}


# --- the model itself does not change ---------------------------------------------------


@pytest.mark.parametrize("kind", ["float32", "uint8"])
def test_model_with_metadata_predicts_exactly_as_without(models, tmp_path, kind):
    written = write_metadata(models[kind], FULL, FILES)
    np.testing.assert_array_equal(_outputs(written), _outputs(models[kind]))
    assert _tables(written) == _tables(models[kind])
    plain, tagged = tmp_path / "plain.tflite", tmp_path / "tagged.tflite"
    plain.write_bytes(models[kind])
    tagged.write_bytes(written)
    pixels = np.random.default_rng(9).integers(0, 256, (5, SIZE, SIZE, 3), dtype=np.uint8)
    # A uint8 input takes raw pixels whatever the metadata says; given explicitly, the
    # options would be applied, so the plain model gets them only when float.
    norm = {"mean": FULL.input.mean, "std": FULL.input.std} if kind == "float32" else {}
    np.testing.assert_array_equal(
        Classifier(tagged).predict(pixels), Classifier(plain, **norm).predict(pixels)
    )


def test_other_metadata_entries_are_kept_and_ours_replaced(models):
    original = dict(_metadata_entries(models["float32"]))
    once = write_metadata(models["float32"], FULL, FILES)
    second = ModelMetadata(name="second", output=ClassifierOutputMetadata(labels_file="l.txt"))
    twice = write_metadata(once, second, {"l.txt": b"a\nb\nc\nd\n"})
    entries = _metadata_entries(twice)
    assert [name for name, _ in entries].count(METADATA_NAME) == 1
    assert {k: v for k, v in entries if k != METADATA_NAME} == original
    assert read_metadata(twice) == second
    assert read_associated_files(twice) == {"l.txt": b"a\nb\nc\nd\n"}
    np.testing.assert_array_equal(_outputs(twice), _outputs(models["float32"]))


def test_weights_keep_their_alignment(models):
    """The old flatbuffer moves as one block on a 64-byte boundary, so 16 stays 16."""

    def offsets(model: bytes) -> list[int]:
        root = schema.Model.GetRootAs(bytes(model), 0)
        found = []
        for i in range(root.BuffersLength()):
            buffer = root.Buffers(i)
            if buffer.DataLength():
                found.append(buffer._tab.Vector(buffer._tab.Offset(4)))
        return found

    before, after = (
        offsets(models["float32"]),
        offsets(write_metadata(models["float32"], FULL, FILES)),
    )
    assert [b % 16 for b in before] == [a % 16 for a in after[: len(before)]]


def test_zip_entries_are_stored_with_offsets_from_the_file_start(models):
    """What Google's writer produces and MediaPipe reads: no compression, absolute offsets."""
    written = write_metadata(models["float32"], FULL, FILES)
    end = written.rfind(b"PK\x05\x06")
    directory_size, directory_offset = struct.unpack_from("<II", written, end + 12)
    assert directory_offset + directory_size == end
    with zipfile.ZipFile(io.BytesIO(written)) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}


# --- damage gives one ModelError ----------------------------------------------------------


def _metadata_span(model: bytes) -> tuple[int, int]:
    root = schema.Model.GetRootAs(model, 0)
    for i in range(root.MetadataLength()):
        if root.Metadata(i).Name().decode() == METADATA_NAME:
            buffer = root.Buffers(root.Metadata(i).Buffer())
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            return start, buffer.DataLength()
    raise AssertionError("no metadata")


def test_corrupt_metadata_buffer_is_a_model_error(models, tmp_path):
    written = bytearray(write_metadata(models["float32"], FULL, FILES))
    start, _ = _metadata_span(bytes(written))
    written[start : start + 4] = b"\xff\xff\xff\x7f"  # root offset far past the end
    path = tmp_path / "model.tflite"
    path.write_bytes(written)
    for read in (read_metadata, read_labels_from_metadata, read_associated_files):
        with pytest.raises(ModelError, match=r"model\.tflite: its TFLITE_METADATA metadata is"):
            read(path)
    with pytest.raises(ModelError, match="corrupt"):
        Classifier(path)


def test_random_damage_never_escapes_as_another_exception(models):
    written = write_metadata(models["float32"], FULL, FILES)
    start, length = _metadata_span(written)
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(300):
        damaged = bytearray(written)
        for pos in rng.integers(start, start + length, size=3):
            damaged[pos] = rng.integers(0, 256)
        try:
            read_metadata(bytes(damaged))
            read_labels_from_metadata(bytes(damaged))
            outcomes.add("read")
        except ModelError:
            outcomes.add("ModelError")
    assert "ModelError" in outcomes


@pytest.mark.parametrize("damage", ["truncated", "crc", "removed"])
def test_damaged_zip_is_a_model_error(models, damage):
    written = bytearray(write_metadata(models["float32"], FULL, FILES))
    first = written.find(b"PK\x03\x04")
    if damage == "truncated":
        written = written[:-10]
    elif damage == "crc":
        label_at = written.index(b"background", first)
        written[label_at] ^= 0xFF
    else:
        written = written[:first]
    for read in (read_labels_from_metadata, read_associated_files):
        with pytest.raises(ModelError, match="zip of associated files"):
            read(bytes(written))


def test_not_a_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not a valid TFLite model flatbuffer"):
        read_metadata(b"\x04\x00\x00\x00TFL3" + b"\xff" * 8)
    with pytest.raises(ModelError, match="no TFL3 file identifier"):
        read_metadata(b"hello world, not a model")
    (tmp_path / "text.tflite").write_text("hello world, not a model")
    with pytest.raises(ModelError, match=r"text\.tflite: not a TFLite model"):
        read_metadata(tmp_path / "text.tflite")
    with pytest.raises(ModelError, match="not a valid TFLite model flatbuffer"):
        write_metadata(b"\x04\x00\x00\x00TFL3" + b"\xff" * 8, FULL, FILES)
    with pytest.raises(ModelError, match="no such model file"):
        read_metadata(tmp_path / "missing.tflite")
