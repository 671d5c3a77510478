"""Installing into a fresh virtual environment: the one place tests reach the package registry.

Tests that need it carry ``@pytest.mark.registry``. When the registry cannot be reached
they are skipped with pip's own network error as the reason (``pytest -ra`` prints it),
never silently; any other install failure fails the test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

__all__ = ["pip_install_or_skip"]

# What pip prints when it cannot reach the registry at all (DNS, refused, timeouts).
_NETWORK_ERRORS = (
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No route to host",
    "Connection refused",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
)


def pip_install_or_skip(python: Path, *requirements: str, timeout: float = 1200) -> None:
    """``python -m pip install REQUIREMENTS``; skip on a network error, fail on any other."""
    command = [python, "-m", "pip", "install", "-q", "--retries", "2", "--timeout", "30"]
    proc = subprocess.run(
        [*command, "--disable-pip-version-check", *requirements],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    network = [line for line in output.splitlines() if any(m in line for m in _NETWORK_ERRORS)]
    wanted = " ".join(requirements)
    if network:
        pytest.skip(f"package registry unreachable, cannot install {wanted}: {network[0][:300]}")
    pytest.fail(f"pip install {wanted} failed (not a network error):\n{output[-4000:]}")
