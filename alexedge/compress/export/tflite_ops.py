"""What runs in a ``.tflite`` file: its operators, which of them compute in float, its I/O.

Reads the flatbuffer with the schema module inside ``ai_edge_litert`` (no TensorFlow),
so the claims in ``variants.json`` ("full int8", "LRN stays float") are read off the
exported bytes rather than inferred from converter settings. Uses the flat reader API,
not the object API, so a 240 MB paper-model file is not copied into numpy arrays.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["OpInfo", "TensorInfo", "float_ops", "io_tensors", "list_ops"]

# Ops that only move between float and integer: they mark the boundary of an int8
# region, they are not float computation.
_BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
_FLOAT_TYPES = frozenset({"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16"})


@dataclass(frozen=True)
class OpInfo:
    """One operator: its builtin name and the element types of its outputs."""

    name: str
    output_types: tuple[str, ...]

    @property
    def computes_in_float(self) -> bool:
        return self.name not in _BOUNDARY_OPS and bool(_FLOAT_TYPES & set(self.output_types))


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output tensor: type name and quantization (0.0/0 if none)."""

    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, object]:
        return {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def list_ops(tflite_bytes: bytes) -> list[OpInfo]:
    """Every operator of the main subgraph, in execution order."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(tflite_bytes, 0)
    ops, types = _names(schema.BuiltinOperator), _names(schema.TensorType)
    graph = model.Subgraphs(0)
    result = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        # Codes above 127 live in BuiltinCode; the deprecated byte field caps at 127.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        outputs = tuple(
            types.get(graph.Tensors(op.Outputs(j)).Type(), "?") for j in range(op.OutputsLength())
        )
        result.append(OpInfo(ops.get(builtin, f"CUSTOM_{builtin}"), outputs))
    return result


def float_ops(tflite_bytes: bytes) -> dict[str, int]:
    """Ops that compute in float, with their counts (empty for a full-integer model)."""
    counts = Counter(op.name for op in list_ops(tflite_bytes) if op.computes_in_float)
    return dict(sorted(counts.items()))


def io_tensors(tflite_bytes: bytes) -> tuple[TensorInfo, TensorInfo]:
    """The (first) input and output tensor of the main subgraph."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    types = _names(schema.TensorType)
    return _tensor(graph.Tensors(graph.Inputs(0)), types), _tensor(
        graph.Tensors(graph.Outputs(0)), types
    )


def _tensor(tensor: Any, types: dict[int, str]) -> TensorInfo:
    q = tensor.Quantization()
    scale = float(q.Scale(0)) if q is not None and q.ScaleLength() else 0.0
    zero = int(q.ZeroPoint(0)) if q is not None and q.ZeroPointLength() else 0
    shape = tuple(int(tensor.Shape(i)) for i in range(tensor.ShapeLength()))
    return TensorInfo(types.get(tensor.Type(), "?").lower(), shape, scale, zero)
