"""The tree's layering, pinned from the source.

The project's packages form one order, and a package may import only the packages to its left:

    csv_dmap (layers/shared/csv_dmap) < asl_runner < local_runner < csv_dmap_cli < bench

`csv_dmap` is the Lambda layer and imports none of the others; `asl_runner` is a generic ASL
runner and imports nothing of the project (it runs with the project absent, below). The handlers
(`functions/*/app.py`) import the layer only. No package has an import cycle among its own
modules. Every import counts, at module level or inside a function: `ast.walk` sees them all,
so a loop cannot hide behind a deferred import."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

# The order, left to right, and where each package's source lives.
LAYERS = {
    "csv_dmap": Path("layers/shared/csv_dmap"),
    "asl_runner": Path("asl_runner"),
    "local_runner": Path("local_runner"),
    "csv_dmap_cli": Path("csv_dmap_cli"),
    "bench": Path("bench"),
}
# Names of the project that no package may import (the test suite; each handler is its own `app`).
PROJECT = {*LAYERS, "tests", "functions", "app"}


def modules(package: str, source: Path) -> dict[str, Path]:
    """Every module of a package (its subpackages included), by dotted name."""
    found = {}
    for path in sorted(source.rglob("*.py")):
        parts = [package, *path.relative_to(source).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, base, names) for every import in the file, at any depth, with relative imports
    made absolute: ``import a.b`` gives ("a.b", []), ``from a import b, c`` gives ("a", [b, c])."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base, [alias.name for alias in node.names]))
    return found


def layer_violations(layers: dict[str, Path], root: Path = ROOT) -> list[str]:
    """Each import of a package that is not to the importer's left in `layers`."""
    order = list(layers)
    bad = []
    for rank, package in enumerate(order):
        allowed = {package, *order[:rank]}
        for module, path in modules(package, root / layers[package]).items():
            for line, base, _ in imported_names(module, path):
                top = base.split(".")[0]
                if top in PROJECT | set(order) and top not in allowed:
                    bad.append(f"{path.relative_to(root)}:{line}: {module} imports {base}")
    return bad


def handler_violations(root: Path = ROOT) -> list[str]:
    """Each import of a handler (functions/*/app.py) of any part of the project but the layer."""
    bad = []
    for path in sorted(root.glob("functions/*/app.py")):
        for line, base, _ in imported_names("app", path):
            top = base.split(".")[0]
            if top in PROJECT - {"csv_dmap"}:
                bad.append(f"{path.relative_to(root)}:{line}: imports {base}")
    return bad


def module_graph(package: str, source: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports. ``from a import b`` is an edge to
    the module a.b when b is a module, else to a (where b is defined)."""
    known = modules(package, source)

    def module_of(name: str) -> str | None:  # "pkg.mod.Name" -> "pkg.mod"
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        edges = set()
        for _, base, names in imported_names(module, path):
            if base.split(".")[0] != package:
                continue
            targets = [f"{base}.{n}" if f"{base}.{n}" in known else base for n in names] or [base]
            edges |= {module_of(t) for t in targets}
        graph[module] = edges - {None, module}
    return graph


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


def test_every_package_is_where_the_order_says():
    for package, source in LAYERS.items():
        assert (ROOT / source / "__init__.py").is_file(), package


def test_each_package_imports_only_the_packages_to_its_left():
    assert layer_violations(LAYERS) == []


def test_the_handlers_import_only_the_layer():
    assert sorted(ROOT.glob("functions/*/app.py")), "no handlers found"
    assert handler_violations() == []


@pytest.mark.parametrize("package", list(LAYERS))
def test_no_import_cycles(package):
    graph = module_graph(package, ROOT / LAYERS[package])
    assert cycles(graph) == [], cycles(graph)


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_the_checks_find_planted_violations_inside_functions(tmp_path):
    """A tree with a layer reaching right, a handler reaching past the layer and a loop between
    two modules of a subpackage, each through an import inside a function (or relative)."""
    plant(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/sub/__init__.py": "",
            "low/sub/a.py": "def f():\n    from . import b\n",
            "low/sub/b.py": "def g():\n    from low.sub.a import f\n",
            "low/ok.py": "import json\n",
            "high/__init__.py": "from low import ok\n",
            "high/mod.py": "import low.sub.a\n",
            "low/reach.py": "def h():\n    import high.mod\n",
            "functions/x/app.py": "from csv_dmap import db\n\ndef handler():\n    import local_runner.run\n",
        },
    )
    layers = {"low": Path("low"), "high": Path("high")}
    assert layer_violations(layers, tmp_path) == ["low/reach.py:2: low.reach imports high.mod"]
    assert handler_violations(tmp_path) == ["functions/x/app.py:4: imports local_runner.run"]
    assert cycles(module_graph("low", tmp_path / "low")) == [["low.sub.a", "low.sub.b", "low.sub.a"]]
    assert cycles(module_graph("high", tmp_path / "high")) == []


def test_asl_runner_runs_with_the_project_unimportable(tmp_path):
    """A fresh interpreter where no other package of the project can be imported at all."""
    blocked = tuple(sorted(PROJECT - {"asl_runner", "app"}))
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
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
print(sorted(k for k in sys.modules if k.split('.')[0] in {blocked!r}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "[]"]
