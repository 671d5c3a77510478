"""Mixed precision: build a model under a Keras dtype policy, keeping its head in float32.

``mixed_float16`` (GPUs) and ``mixed_bfloat16`` (TPUs, and CPUs with AVX512-BF16/AMX)
compute layers in 16 bits with float32 variables. The logits layer ``fc8`` and the
softmax stay float32: the softmax of float16 logits saturates and the loss would be
computed from rounded scores (the Keras mixed-precision guide's advice for the
output layer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

__all__ = [
    "build_with_precision",
    "cpu_has_bf16",
    "detect_precision",
    "float32_model",
    "precision_policy",
]

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 matrix instructions: Intel AMX and
# AVX512-BF16 (Cooper Lake, Sapphire Rapids, AMD Zen 4). Without them oneDNN emulates
# bf16 and a bf16 step is slower than float32.
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# mixed_float16 gains on Tensor Cores (Volta, compute capability 7.0, and newer).
_TENSOR_CORE_CAPABILITY = (7, 0)


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has native bfloat16 instructions (False where it cannot tell)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def detect_precision() -> str:
    """What ``--precision auto`` becomes on this machine, and why it pays there.

    A GPU with Tensor Cores: mixed_float16; another GPU: float32. No GPU: mixed_bfloat16
    when the CPU has native bf16 instructions (the ``tiny-imagenet`` preset measured
    2.4x the float32 step throughput on an AVX512-BF16 CPU), else float32.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        capability = tuple(details.get("compute_capability") or (0, 0))
        return "mixed_float16" if capability >= _TENSOR_CORE_CAPABILITY else "float32"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


_FLOAT32_LAYERS = ("fc8", "probs")


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy for the layers built inside; restore it after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_with_precision(build: Callable[[], keras.Model], precision: str) -> keras.Model:
    """``build()`` under ``precision``, then ``fc8`` and ``probs`` re-made in float32.

    The registry's shared head creates ``fc8`` with the global policy, so under a mixed
    policy it is rebuilt here by cloning the fresh model with float32 for those layers
    (clone gives new, equally initialized weights; nothing has been trained yet).
    """
    if precision == "float32":
        return build()
    with precision_policy(precision):
        model = build()
        return keras.models.clone_model(model, clone_function=_float32_head_clone)


def _float32_head_clone(layer: keras.layers.Layer) -> keras.layers.Layer:
    config = layer.get_config()
    if layer.name in _FLOAT32_LAYERS:
        config["dtype"] = "float32"
    return layer.__class__.from_config(config)


def float32_model(model: keras.Model) -> keras.Model:
    """``model`` with every layer in float32 and the same weights (itself if already so).

    What gets saved as the deployable ``best.keras``: converters, pruning and the edge
    runtime expect float32 layers, whatever precision the training ran in.
    """
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    clone = keras.models.clone_model(model, clone_function=_float32_clone)
    clone.set_weights(model.get_weights())
    return clone


def _float32_clone(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})
