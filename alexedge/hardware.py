"""One description of this machine, recorded beside every time and latency the kit reports.

Two 2-core machines of the same cloud kind can differ fourfold in training speed and in
which int8 variant is fastest: bf16 matrix units (AVX512-BF16, AMX) and int8 dot
products (VNNI, ARM dotprod) decide it, not the core count. So every figure carries the
CPU, its cores, those features, the GPU and the library versions that run the kernels.

Never imports TensorFlow: the edge runtime records its hardware too and must stay
TensorFlow-free. GPU names are read only when TensorFlow is already imported.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import sys
from typing import Any

__all__ = ["cpu_features", "describe_hardware", "hardware_line"]

# /proc/cpuinfo flags that change how fast our kernels run, under the names people use.
_X86_FEATURES = {
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX512-VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX512-BF16",
    "amx_tile": "AMX",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}
_ARM_FEATURES = {
    "asimd": "NEON",
    "asimddp": "dotprod",
    "i8mm": "i8mm",
    "bf16": "BF16",
    "sve": "SVE",
    "sve2": "SVE2",
}
_INT8_DOT = {"AVX512-VNNI", "AVX-VNNI", "AMX-INT8", "dotprod", "i8mm"}
_BF16 = {"AVX512-BF16", "AMX-BF16", "BF16"}
# Distribution names of the libraries whose kernels the figures time.
_LIBRARIES = {
    "tensorflow": "TF",
    "tf-keras": "tf_keras",
    "ai-edge-litert": "LiteRT",
    "tflite-runtime": "tflite-runtime",
    "numpy": "numpy",
}


def cpu_features(cpuinfo: str) -> dict[str, Any]:
    """The CPU model and speed-relevant features named in a ``/proc/cpuinfo`` text.

    x86 lists ``flags``, ARM ``Features``; ARM kernels often give no model name, so the
    implementer/part numbers stand in for it.
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    table = _X86_FEATURES if "flags" in fields else _ARM_FEATURES
    features = [name for flag, name in table.items() if flag in flags]
    model = next(
        (fields[k] for k in ("model name", "Model", "Hardware", "cpu model") if fields.get(k)), ""
    )
    if not model and "CPU implementer" in fields:
        model = f"ARM implementer {fields['CPU implementer']} part {fields.get('CPU part', '?')}"
    return {
        "cpu": model or platform.processor() or platform.machine() or "unknown CPU",
        "features": features,
        "int8_dot_product": any(f in _INT8_DOT for f in features),
        "bf16": any(f in _BF16 for f in features),
    }


@functools.cache
def describe_hardware() -> dict[str, Any]:
    """This machine as a JSON-ready dict: CPU, cores, features, GPUs, library versions.

    Cached: the answer does not change within a process, and every writer of a figure
    asks for it.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpuinfo = f.read()
    except OSError:  # macOS, Windows: no feature flags to read
        cpuinfo = ""
    return {
        **cpu_features(cpuinfo),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count() or 1,
        "usable_cores": _usable_cores(),
        "gpus": _gpu_names(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": _versions(),
    }


def hardware_line(desc: dict[str, Any] | None = None) -> str:
    """One line for people: "AMD EPYC, 2 cores, AVX-512 + AVX512-VNNI + AVX512-BF16, no
    AMX; TF 2.21.0, LiteRT 2.3.0". Says what is missing too: a reader comparing two
    machines looks for the unit one of them lacks."""
    desc = describe_hardware() if desc is None else desc
    logical, usable = desc.get("logical_cores", "?"), desc.get("usable_cores")
    cores = f"{logical} cores" + (f" ({usable} usable)" if usable not in (None, logical) else "")
    parts = [desc.get("cpu", "unknown CPU"), cores, _feature_summary(desc.get("features", []))]
    if desc.get("gpus"):
        parts.append("GPU " + " + ".join(desc["gpus"]))
    versions = desc.get("versions", {})
    libraries = [
        f"{_LIBRARIES[name]} {versions[name]}"
        for name in ("tensorflow", "ai-edge-litert", "tflite-runtime")
        if versions.get(name)
    ]
    line = ", ".join(p for p in parts if p)
    return f"{line}; {', '.join(libraries)}" if libraries else line


def _feature_summary(features: list[str]) -> str:
    if "NEON" in features:  # ARM
        have = " + ".join(features)
        return have + ("" if "dotprod" in features else ", no dotprod")
    shown = [f for f in features if f not in ("FMA", "AMX-BF16", "AMX-INT8")]
    if "AVX-512" in shown:  # AVX2 is implied, and the line stays short
        shown = [f for f in shown if f != "AVX2"]
    missing = [
        name
        for name, present in (
            ("AVX-512", "AVX-512" in features),
            ("VNNI", any("VNNI" in f for f in features)),
            ("bf16", any(f in _BF16 for f in features)),
            ("AMX", "AMX" in features),
        )
        if not present
    ]
    have = " + ".join(shown) if shown else "no AVX2"
    return have + (f", no {', no '.join(missing)}" if missing else "")


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask
        return os.cpu_count() or 1


def _gpu_names() -> list[str]:
    tf = sys.modules.get("tensorflow")  # never imported from here (edge runtime)
    if tf is None:
        return []
    try:
        gpus = tf.config.list_physical_devices("GPU")
        return [
            tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in gpus
        ]
    except Exception:  # a half-initialized TensorFlow: the GPUs stay unnamed, not the run
        return []


def _versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
