"""Choose a TFLite interpreter, so a phone-sized install never needs TensorFlow.

The three interpreters share one Python API (``Interpreter(model_path=...,
num_threads=...)``); they differ only in how heavy and how maintained they are,
so the first one that imports wins:

1. ``ai_edge_litert`` (LiteRT): the maintained, small wheel; ``alexedge[edge]``.
2. ``tflite_runtime``: the legacy wheel. Its last release (2.14) is built against
   numpy 1 and fails or crashes at import under numpy 2, so it is skipped there.
3. ``tensorflow.lite``: the full TensorFlow, a last resort for training machines.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from alexedge.errors import ConfigError, ModelError
from alexedge.quiet import native_stderr_filtered

__all__ = [
    "BACKENDS",
    "TFLiteInterpreter",
    "check_tflite_file",
    "load_interpreter",
]

BACKENDS = ("ai_edge_litert", "tflite_runtime", "tensorflow.lite")

# A TFLite model is a flatbuffer whose file identifier, bytes 4..8, is "TFL3".
_TFLITE_IDENTIFIER = b"TFL3"
_NUMPY_2 = int(np.__version__.split(".")[0]) >= 2


class TFLiteInterpreter(Protocol):
    """The part of the interpreter API that alexedge uses (same in all backends)."""

    def allocate_tensors(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def resize_tensor_input(self, input_index: int, tensor_size: Any) -> None: ...
    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None: ...
    def invoke(self) -> None: ...
    def get_tensor(self, tensor_index: int) -> np.ndarray: ...


def load_interpreter(
    model_path: str | os.PathLike[str], threads: int | None = None
) -> tuple[TFLiteInterpreter, str]:
    """Open a ``.tflite`` file with the first available backend, tensors allocated.

    Args:
        model_path: the ``.tflite`` file.
        threads: CPU threads for the interpreter; ``None`` lets the backend choose.

    Returns:
        The interpreter and the backend name (one of ``BACKENDS``).

    Raises:
        ModelError: the file is missing or not a TFLite model, the interpreter
            refuses it, or no interpreter is installed.
        ConfigError: ``threads`` is below 1.
    """
    path = Path(model_path)
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be at least 1, got {threads}")
    check_tflite_file(path)
    backend, interpreter_cls = _find_backend()
    with native_stderr_filtered() as native_output:
        try:
            interpreter = interpreter_cls(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            # One line: the exception's text, plus the native lines it does not repeat.
            reason, said = " ".join(str(e).split()), " ".join(native_output().split())
            detail = reason + (f" ({said})" if said and said not in reason else "")
            raise ModelError(
                f"{path}: the TFLite interpreter ({backend}) cannot load it: {detail}"
            ) from e
    return interpreter, backend


def check_tflite_file(path: str | os.PathLike[str]) -> None:
    """Refuse anything but a TFLite flatbuffer before an interpreter sees it.

    Interpreters report a wrong file with a vague message or, for some inputs, abort
    the process; reading eight bytes first gives one clear line naming the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError as e:
        raise ModelError(f"{path}: no such model file") from e
    except IsADirectoryError as e:
        raise ModelError(f"{path}: is a folder; expected a .tflite model file") from e
    except OSError as e:
        raise ModelError(f"{path}: cannot read the model file ({e.strerror})") from e
    if len(head) < 8 or head[4:8] != _TFLITE_IDENTIFIER:
        raise ModelError(
            f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier); "
            "give the .tflite file that was exported, not a Keras or other file"
        )


def _find_backend() -> tuple[str, Callable[..., TFLiteInterpreter]]:
    for name, loader in zip(BACKENDS, _LOADERS, strict=True):
        try:
            interpreter_cls = loader()
        except Exception:  # a broken backend (numpy ABI, missing .so) must not hide the next
            continue
        if interpreter_cls is not None:
            return name, interpreter_cls
    raise ModelError(
        'no TFLite interpreter is installed: run pip install "alexedge[edge]" '
        "(it brings ai-edge-litert)"
    )


def _litert() -> Any:
    return importlib.import_module("ai_edge_litert.interpreter").Interpreter


def _tflite_runtime() -> Any:
    if _NUMPY_2:
        return None
    return importlib.import_module("tflite_runtime.interpreter").Interpreter


def _tensorflow_lite() -> Any:
    # Imported by name only here, and only when both light backends are missing.
    return importlib.import_module("tensorflow").lite.Interpreter


_LOADERS: tuple[Callable[[], Any], ...] = (_litert, _tflite_runtime, _tensorflow_lite)
