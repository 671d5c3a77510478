"""The package's shape: imports run downward (cli -> pipeline -> stages -> core), no cycles,
and no module imports the package it is part of.

Read from the source (every import statement, at module level or inside a function),
so a lazy import that closes a cycle is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "alexedge"

# Lower layers never import higher ones. Stages may use each other's pieces (compress
# fine-tunes with train's loop; report reads the variants schema and transfer's clusters),
# never the pipeline.
LAYERS = {
    "cli": 4,
    "pipeline": 3,
    "train": 2,
    "compress": 2,
    "android_assets": 2,
    "report": 2,
    "transfer": 2,
    "edge_runtime": 1,
}  # everything else (data, preprocess, run, modes, metrics, ...) is the core: 0


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alexedge"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("alexedge"))
    return {n for n in names if n in modules}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_imports_run_downward(graph: dict[str, set[str]]) -> None:
    upward = [f"{m} -> {d}" for m, deps in graph.items() for d in deps if _layer(d) > _layer(m)]
    assert not upward, upward


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                raise AssertionError(" -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_module_imports_its_own_package() -> None:
    """``from alexedge.report import x`` inside ``alexedge.report.writer`` runs through the
    package's ``__init__``, which is itself importing the module: a cycle the module graph
    above resolves away. Name the module instead (``import alexedge.report.x as x``)."""
    found = []
    for name, path in _modules().items():
        if path.name in ("__init__.py", "__main__.py"):
            continue  # a package's own entry points speak for it
        parts = name.split(".")
        own = {".".join(parts[:i]) for i in range(1, len(parts))}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in own:
                found.append(f"{name}:{node.lineno} imports from {node.module}")
            elif isinstance(node, ast.Import):
                found += [
                    f"{name}:{node.lineno} imports {a.name}" for a in node.names if a.name in own
                ]
    assert not found, found


def test_the_edge_runtime_loads_no_training_code() -> None:
    probe = (
        "import sys, alexedge.edge_runtime, alexedge.edge_runtime.bench;"
        "bad = [m for m in sys.modules if m.startswith(('tensorflow', 'tf_keras', "
        "'alexedge.train', 'alexedge.compress', 'alexedge.data.synth', 'alexedge.data.fetch'))];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
