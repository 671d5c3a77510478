"""The machine description read from /proc/cpuinfo texts of the CPUs our figures came from."""

from __future__ import annotations

import json
import subprocess
import sys

from alexedge.hardware import cpu_features, describe_hardware, hardware_line

_INTEL_AMX = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8488C
"""
_AMD_AVX2 = """processor\t: 0
model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu sse2 avx avx2 fma
"""
_ARM_DOTPROD = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes crc32 asimddp i8mm bf16
CPU implementer\t: 0x41
CPU part\t: 0xd0c
"""


def _line(cpuinfo: str) -> str:
    desc = {**cpu_features(cpuinfo), "logical_cores": 2, "usable_cores": 2, "gpus": []}
    return hardware_line({**desc, "versions": {"tensorflow": "2.21.0", "numpy": "2.4"}})


def test_intel_with_amx_has_bf16_and_int8_dot_products() -> None:
    cpu = cpu_features(_INTEL_AMX)
    assert cpu["cpu"] == "Intel(R) Xeon(R) Platinum 8488C"
    assert cpu["bf16"] and cpu["int8_dot_product"]
    assert {"AVX-512", "AVX512-VNNI", "AVX512-BF16", "AMX"} <= set(cpu["features"])
    line = _line(_INTEL_AMX)
    assert line == (
        "Intel(R) Xeon(R) Platinum 8488C, 2 cores, AVX-512 + AVX512-VNNI + AVX512-BF16 + AMX; "
        "TF 2.21.0"
    )


def test_amd_avx2_only_says_what_it_lacks() -> None:
    cpu = cpu_features(_AMD_AVX2)
    assert cpu["features"] == ["AVX2", "FMA"]
    assert not cpu["bf16"] and not cpu["int8_dot_product"]
    assert _line(_AMD_AVX2) == (
        "AMD EPYC 7R13 Processor, 2 cores, AVX2, no AVX-512, no VNNI, no bf16, no AMX; TF 2.21.0"
    )


def test_arm_dotprod_is_an_int8_dot_product() -> None:
    cpu = cpu_features(_ARM_DOTPROD)
    assert cpu["cpu"] == "ARM implementer 0x41 part 0xd0c"
    assert cpu["features"] == ["NEON", "dotprod", "i8mm", "BF16"]
    assert cpu["int8_dot_product"] and cpu["bf16"]
    assert "NEON + dotprod" in _line(_ARM_DOTPROD)


def test_this_machine_is_described_without_importing_tensorflow() -> None:
    # The edge runtime records its hardware too and must stay TensorFlow-free.
    code = (
        "import json, sys; from alexedge.hardware import describe_hardware, hardware_line; "
        "d = describe_hardware(); hardware_line(d); "
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'desc': d}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    answer = json.loads(out)
    assert answer["tf"] is False
    assert answer["desc"]["logical_cores"] >= answer["desc"]["usable_cores"] >= 1
    assert "numpy" in answer["desc"]["versions"]


def test_description_is_cached_and_json_ready() -> None:
    assert describe_hardware() is describe_hardware()
    json.dumps(describe_hardware())


def test_variants_json_and_the_report_name_the_machine(tmp_path) -> None:
    from alexedge.compress.schema import merge_variants_doc
    from alexedge.report.markdown import hardware_note

    doc = merge_variants_doc({"variants": [], "keras": {}}, None, tmp_path)
    assert doc["hardware"] == describe_hardware()
    assert hardware_note(doc) == f"Latencies measured on: {hardware_line()}."
    assert "unrecorded machine" in hardware_note({})
