"""What a bundled model asks of the TFLite runtime an app links, read off the model's tensors.

MediaPipe Tasks (mediapipe 1.2.3) and LiteRT (ai-edge-litert 1.0.1 and 2.3.0) run
every mode alexedge exports, int16x8 and int4 included, with alexedge's own scores.
Older TensorFlow Lite does not run int4: its DEQUANTIZE kernel takes uint8, int8,
int16 and float16 only, and says so only when the app allocates tensors
(measured with tflite-runtime 2.14.0 and TensorFlow 2.16.1's interpreter, the TFLite
of the last ``org.tensorflow:tensorflow-lite`` release). The file itself gives no
earlier warning: litert-quantizer leaves DEQUANTIZE at op version 1 and the
converter's ``min_runtime_version`` at 1.6.0. So the bundle states it.

Read from the tensors, not from the variant's mode name, so a mixed file (int4 with
some layers kept float) is described by what it holds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INT4_NOTE", "runtime_notes"]

INT4_NOTE = (
    "int4 weights: the model dequantizes INT4 tensors, which LiteRT (ai-edge-litert 1.0.1 "
    "and later; Maven com.google.ai.edge.litert) and MediaPipe Tasks (mediapipe 1.2.3) run, "
    "but TensorFlow Lite 2.16.1 and older (org.tensorflow:tensorflow-lite) refuse when "
    "allocating tensors: 'Node number N (DEQUANTIZE) failed to prepare'; for such an app "
    "package an int8 or float16 variant"
)


def runtime_notes(tflite: bytes) -> tuple[str, ...]:
    """One line per runtime requirement beyond what TFLite 2.x has long run; empty if none."""
    from ai_edge_litert import schema_py_generated as schema

    return (INT4_NOTE,) if schema.TensorType.INT4 in _tensor_types(tflite, schema) else ()


def _tensor_types(tflite: bytes, schema: Any) -> set[int]:
    # The flat reader: a 240 MB paper model is not copied into Python objects.
    model = schema.Model.GetRootAs(tflite, 0)
    types = set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        types.update(graph.Tensors(t).Type() for t in range(graph.TensorsLength()))
    return types
