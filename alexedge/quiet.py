"""Hide the native libraries' start-up chatter unless ``--verbose`` (or ``ALEXEDGE_VERBOSE=1``).

TensorFlow 2.21 logs through absl from C++ straight to file descriptor 2 when it is
imported and when it first looks for devices (the oneDNN notice, "Could not find cuda
drivers", a cuInit error on every CPU-only machine, absl's "before InitializeLog"
warning); ``TF_CPP_MIN_LOG_LEVEL`` no longer reaches those lines. They are not ours to
show: a user who mistyped a folder name would read eight lines of noise above the one
line that matters. So the import and the device scan run with descriptor 2 pointed at a
temporary file, and every captured line that is not a native log line is replayed on
``sys.stderr``. numpy only, no TensorFlow import at module level: the edge runtime uses
``native_stderr_filtered`` around interpreter creation too.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from alexedge.errors import ConfigError

__all__ = ["VERBOSE_ENV", "import_tensorflow", "is_verbose", "native_stderr_filtered"]

VERBOSE_ENV = "ALEXEDGE_VERBOSE"
# absl/glog lines: "I0000 00:00:1796167790.500202    6882 port.cc:153] ...", and the
# two unprefixed notices that absl and LiteRT print once.
_NATIVE_LOG = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate"
    # The TFLite quantizer's printf of its settings (mlir_quantize, per call).
    r"|fully_quantize: \d+, inference_type: )"
)


# What ends a native message: Python's warnings and tracebacks, alexedge's own lines.
_OWN_OR_PYTHON = re.compile(r"^(\[alexedge\]|error: |Traceback |\S.*:\d+: \w*(Warning|Error)\b)")


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextmanager
def native_stderr_filtered() -> Iterator[Callable[[], str]]:
    """Run the block with descriptor 2 captured; replay all but native log lines after it.

    Yields a function that returns everything caught so far: a caller that reads it
    (to quote a native error in its own message) takes the text over, and nothing is
    replayed. Does nothing when verbose, or when there is no descriptor 2 to redirect.
    The redirection is process-wide: keep the block short.
    """
    if is_verbose():
        yield lambda: ""
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no fd 2 (a daemon) or a closed sys.stderr
        yield lambda: ""
        return
    taken = False
    with tempfile.TemporaryFile() as captured:

        def caught() -> str:
            nonlocal taken
            taken = True
            sys.stderr.flush()
            captured.seek(0)
            return captured.read().decode("utf-8", "replace")

        os.dup2(captured.fileno(), 2)
        try:
            yield caught
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not taken:
                captured.seek(0)
                kept = _without_native_logs(captured.read().decode("utf-8", "replace"))
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()


def _without_native_logs(text: str) -> list[str]:
    """The lines of ``text`` that are not native log lines or their continuation lines.

    A native message may span lines (cpu_feature_guard's "To enable the following
    instructions ..."): lines after one are dropped until a line that starts something
    else, a Python warning, traceback or our own output.
    """
    kept, in_native = [], False
    for line in text.splitlines(keepends=True):
        if _NATIVE_LOG.match(line):
            in_native = True
        elif in_native and not _OWN_OR_PYTHON.match(line):
            continue
        else:
            in_native = False
            kept.append(line)
    return kept


def import_tensorflow() -> None:
    """Import TensorFlow and tf_keras and let TensorFlow scan for devices, quietly.

    Call it before the first module that imports TensorFlow; later imports are free.

    Raises:
        ConfigError: TensorFlow is not installed (the edge-only install), naming the
            extra that brings it.
    """
    if sys.modules.get("tensorflow") and sys.modules.get("tf_keras"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_filtered():
        try:
            import tensorflow as tf
            import tf_keras  # noqa: F401
        except ImportError as e:
            raise ConfigError(
                f"this command needs TensorFlow, which is not installed ({e.msg}): "
                'pip install "alexedge[train]" (the edge install only classifies and benches)'
            ) from None
        tf.config.list_physical_devices()
