"""int4 Conv/Dense weights with litert-quantizer: a float32 ``.tflite`` in, an int4 one out.

The TFLite converter stores 8 bits per weight at best; litert-quantizer (the former
ai-edge-quantizer, an optional extra that needs no TensorFlow) rewrites a float32
flatbuffer with 4-bit weights. Weight-only: each int4 kernel goes through a DEQUANTIZE
op and the layer computes in float, so activations keep float32 precision and I/O
stays float32 (the quantizer has no I/O type option). Its dynamic recipe (activations
quantized on the fly) stores the same bytes and agrees as often with Keras, and is
faster on 1 thread but several times slower on 2 with ai-edge-litert 2.3; weight-only
has no such trap, so it is the mode.

Metadata is not the quantizer's business: it re-serializes the model and would drop
an appended labels zip, so the caller writes metadata after this step. litert-quantizer
0.11.0 writes any model whose weights pack to 256 KB or more in the layout meant for
models over 2 GB (weights after the flatbuffer, found by offset); the metadata writer
and the weight counter read weights inside the flatbuffer, so they are moved back in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alexedge.errors import ConfigError, ModelError

__all__ = ["INSTALL_HINT", "int4_weights", "require_quantizer"]

INSTALL_HINT = 'pip install "alexedge[int4]"'
# Ops whose weights are quantized: the Conv2D and Dense layers of every model family.
# (0.11.0 has no weight-only int4 policy for DEPTHWISE_CONV_2D; no family uses one.)
_WEIGHT_OPS = ("CONV_2D", "FULLY_CONNECTED")
_INT4 = 17  # TensorType.INT4 in the TFLite schema


def require_quantizer() -> Any:
    """The ``litert_quantizer`` module; ``ConfigError`` with the install line if absent.

    Called before the float32 conversion so a missing extra fails in a second.
    """
    try:
        import litert_quantizer
    except ImportError as e:
        raise ConfigError(
            f"--quantize int4 needs litert-quantizer ({e}); install it with: {INSTALL_HINT}"
        ) from None
    return litert_quantizer


def int4_weights(float_tflite: bytes, per_channel: bool = True) -> bytes:
    """``float_tflite`` with its Conv/Dense weights stored as int4 (weight-only).

    Args:
        float_tflite: a float32 model from the TFLite converter (no metadata yet).
        per_channel: one scale per output channel; ``False``: one per tensor.

    Raises:
        ConfigError: litert-quantizer is not installed.
        ModelError: the quantizer failed, or left no weight in int4.
    """
    module = require_quantizer()
    from litert_quantizer import qtyping

    granularity = (
        qtyping.QuantGranularity.CHANNELWISE if per_channel else qtyping.QuantGranularity.TENSORWISE
    )
    try:
        quantizer = module.Quantizer(float_tflite)
        for op in _WEIGHT_OPS:
            quantizer.add_weight_only_config(
                ".*", qtyping.TFLOperationName(op), num_bits=4, granularity=granularity
            )
        result = quantizer.quantize(enable_progress_bar=False, enable_progress_report=False)
    except Exception as e:
        raise ModelError(f"int4 quantization (litert-quantizer) failed: {e}") from e
    data = _inline_buffers(bytes(result.quantized_model))
    if not _has_int4_tensor(data):
        raise ModelError(
            "int4 quantization left no weight in int4: the model has no Conv2D or Dense "
            "layer the quantizer supports; export dynamic or int8 instead"
        )
    return data


def _inline_buffers(data: bytes) -> bytes:
    """``data`` with every buffer stored inside the flatbuffer (offset 0, size 0)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(data, 0)
    # Offset 1 is the quantizer's placeholder for "empty"; real data starts past it.
    if not any(root.Buffers(i).Offset() > 1 for i in range(root.BuffersLength())):
        return data
    model = schema.ModelT.InitFromObj(root)
    for buffer in model.buffers:
        if buffer.offset > 1:
            buffer.data = np.frombuffer(data, np.uint8, count=buffer.size, offset=buffer.offset)
        buffer.offset = buffer.size = 0
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _has_int4_tensor(tflite_bytes: bytes) -> bool:
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.Model.GetRootAsModel(tflite_bytes, 0).Subgraphs(0)
    return any(graph.Tensors(i).Type() == _INT4 for i in range(graph.TensorsLength()))
