"""Count the weights (and the zeros among them) stored in a ``.tflite`` file.

Reads the flatbuffer with the schema module that ships inside ``ai_edge_litert``,
so it works on the exported bytes themselves: the proof that pruning's zeros
survived stripping, quantization and conversion.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["WeightCount", "count_weights", "weight_tensors"]

# TFLite TensorType enum -> numpy dtype, for the types weights are stored in.
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 9: np.int8, 7: np.int16}
# TensorType.INT4: two weights a byte, the first in the low nibble (litert-quantizer).
_INT4 = 17
# Constant tensors smaller than this are quantization/normalization constants, not weights.
_MIN_WEIGHT_ELEMENTS = 64


@dataclass(frozen=True)
class WeightCount:
    total: int
    nonzero: int

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero / self.total if self.total else 0.0


def weight_tensors(
    tflite_bytes: bytes, min_elements: int = _MIN_WEIGHT_ELEMENTS
) -> Iterator[tuple[str, tuple[int, ...], np.ndarray]]:
    """``(tensor name, shape, values)`` of each weight: a constant tensor of rank >= 2
    (kernels and FC matrices, not biases) with at least ``min_elements`` values."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite_bytes, 0))
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            data = model.buffers[tensor.buffer].data
            dtype = _DTYPES.get(tensor.type)
            known = dtype is not None or tensor.type == _INT4
            if data is None or not known or tensor.shape is None or len(tensor.shape) < 2:
                continue
            raw = bytes(np.asarray(data, np.uint8))
            if tensor.type == _INT4:
                values = _unpack_int4(raw, math.prod(int(d) for d in tensor.shape))
            else:
                values = np.frombuffer(raw, dtype=dtype)
            if values.size >= min_elements:
                name = tensor.name.decode(errors="replace")
                yield name, tuple(int(d) for d in tensor.shape), values


def _unpack_int4(raw: bytes, count: int) -> np.ndarray:
    """Signed 4-bit values packed two a byte, low nibble first."""
    packed = np.frombuffer(raw, np.uint8)
    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=1).reshape(-1)[:count].astype(np.int8)
    return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)


def count_weights(tflite_bytes: bytes) -> WeightCount:
    """All weights of the file (``weight_tensors``) and how many are not zero."""
    total = nonzero = 0
    for _, _, values in weight_tensors(tflite_bytes):
        total += values.size
        nonzero += int(np.count_nonzero(values))
    return WeightCount(total, nonzero)
