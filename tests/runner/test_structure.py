"""asl_runner stands alone: it imports nothing of the project (csv_dmap, local_runner),
runs with them absent, and no package of the runner has an import cycle."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FORBIDDEN = ("csv_dmap", "local_runner", "tests", "bench")


def imports(package: str) -> dict[str, set[str]]:
    """module -> every module it imports (absolute names), from the source, at any depth."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).glob("*.py")):
        module = f"{package}.{path.stem}" if path.stem != "__init__" else package
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = f"{package}.{base}".rstrip(".") if node.level == 1 else base
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in node.names}
        graph[module] = found
    return graph


def test_asl_runner_imports_nothing_of_the_project():
    for module, names in imports("asl_runner").items():
        bad = sorted(n for n in names if n.split(".")[0] in FORBIDDEN)
        assert not bad, f"{module} imports {bad}"


def test_asl_runner_runs_with_the_project_unimportable(tmp_path):
    """A fresh interpreter where csv_dmap and local_runner cannot be imported at all."""
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {FORBIDDEN!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
sys.path = [p for p in sys.path if 'layers' not in p]
import importlib, pkgutil, asl_runner
for m in pkgutil.iter_modules(asl_runner.__path__):
    if m.name != '__main__':
        importlib.import_module('asl_runner.' + m.name)
from asl_runner import Execution, LocalServices
d = {{"StartAt": "A", "States": {{"A": {{"Type": "Pass", "Result": 1, "End": True}}}}}}
print(Execution(d, LocalServices()).run({{}}).output)
print(sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN!r}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "[]"]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(n for n in graph[node] if n in graph and n != node):
            if state.get(nxt) == "open":
                found.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    return found


@pytest.mark.parametrize("package", ["asl_runner", "local_runner"])
def test_no_import_cycles(package):
    graph = imports(package)

    def module_of(name):  # "pkg.mod.Name" -> "pkg.mod"; a name of the package itself -> its __init__
        while name and name not in graph:
            name = name.rpartition(".")[0]
        return name or None

    inner = {m: {module_of(n) for n in names if n.split(".")[0] == package} - {None, m} for m, names in graph.items()}
    assert cycles(inner) == [], cycles(inner)


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
