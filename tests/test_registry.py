"""The architecture: every operation is complete in the registry, and the
package's import graph has no cycle, no late import and no import inside a
function.

A new operation that lacks an evaluation, a JVP rule, one of the three
printings, a code template, a parser entry, a README row or a
finite-difference case fails here, before anything calls it; so does a map
type without a code template.
"""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import kronvec as kv
from kronvec import registry
from kronvec.codegen import MAP_CODE
from kronvec.lazy import LazyModule, optional_module
from kronvec.maps import LinearMap
from kronvec.parse import function_names
from test_named_sizes import NOT_NAMED
from test_op_derivatives import CASES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kronvec"
SPECS = registry.specs()


@pytest.mark.parametrize("op", SPECS, ids=lambda op: op.name)
def test_every_node_can_be_evaluated_printed_and_differentiated(op):
    if not op.node:  # a public function that builds other nodes (solve is inv(A) @ B)
        assert op.function is not None and op.evaluate is None
        return
    assert op.evaluate is not None, f"{op.name}: no evaluation"
    assert op.printing is not None, f"{op.name}: no printing"
    for style in ("unicode", "latex", "python"):
        assert callable(getattr(op.printing, style)), f"{op.name}: no {style} printing"
    if not op.leaf:
        assert op.jvp is not None, f"{op.name}: no JVP rule"
        assert op.function is not None or op.rebuild is not None, f"{op.name}: cannot be rebuilt"


@pytest.mark.parametrize("op", [op for op in SPECS if op.node and not op.leaf], ids=lambda op: op.name)
def test_every_node_has_generated_code(op):
    """kv.lambdify writes each node by its op's ``code`` template (leaves are its own)."""
    assert op.code is not None, f"{op.name}: no code template (OpSpec.code) for kv.lambdify"
    if isinstance(op.code, dict):
        assert "numpy" in op.code or "*" in op.code, f"{op.name}: no NumPy code template"


def _map_classes(cls: type = LinearMap) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("kronvec."):
            out |= {sub} | _map_classes(sub)
    return out


def test_every_map_type_has_generated_code():
    """The JVP of generated code applies each term by its map type's template."""
    missing = sorted(c.__name__ for c in _map_classes() if c not in MAP_CODE)
    assert not missing, f"map types without a template in kronvec.codegen.maps.MAP_CODE: {missing}"


@pytest.mark.parametrize("op", [op for op in SPECS if op.public], ids=lambda op: op.name)
def test_every_public_function_is_parsed_exported_and_documented(op):
    assert op.signature is not None, f"{op.public}: no shape signature for the parser"
    assert op.public in function_names(), f"{op.public}: not whitelisted by the parser"
    assert getattr(kv, op.public) is op.function, f"kv.{op.public} is not the registered function"
    doc = inspect.getdoc(op.function)
    assert doc and len(doc) > 20, f"kv.{op.public}: no docstring"
    assert op.doc, f"{op.public}: no one-line description"
    assert f"kv.{op.public}" in (ROOT / "README.md").read_text(), f"kv.{op.public} is not in the README"


def _statically_exported_names() -> tuple[set[str], list[str]]:
    """The names ``kronvec/__init__.py`` imports at its top level, and its literal ``__all__``."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    imported = {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    exported = [node.value for stmt in tree.body if isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets)
                for node in ast.walk(stmt.value) if isinstance(node, ast.Constant)]
    return imported, exported


def test_every_public_function_is_a_name_type_checkers_see():
    """``kv.inv`` and every other public function is imported by name in ``kronvec/__init__.py``
    and listed in its literal ``__all__``, so a user's type checker sees it (not added at run time)."""
    imported, exported = _statically_exported_names()
    public = {op.public for op in SPECS if op.public}
    assert not public - imported, f"public functions not imported by name in kronvec/__init__.py: " \
                                  f"{sorted(public - imported)}"
    assert not public - set(exported), f"public functions missing from kronvec.__all__: " \
                                       f"{sorted(public - set(exported))}"
    assert exported == kv.__all__ and len(set(exported)) == len(exported)


@pytest.mark.parametrize("op", [op for op in SPECS if not op.leaf], ids=lambda op: op.name)
def test_every_operation_has_a_finite_difference_case(op):
    assert op.name in CASES, f"{op.name}: add a case to tests/test_op_derivatives.py"


@pytest.mark.parametrize("op", [op for op in SPECS if not op.leaf], ids=lambda op: op.name)
def test_every_operation_derives_with_named_sizes_or_says_why(op):
    """Each case runs with sizes given as names (tests/test_named_sizes.py), unless NOT_NAMED says
    why it cannot: then the operation's named cases live elsewhere, or it needs numbers."""
    assert op.name not in NOT_NAMED or len(NOT_NAMED[op.name]) > 20, f"{op.name}: say why it is not named"


def test_signatures_read_back():
    for op in SPECS:
        if op.signature is not None:
            assert op.signature.alternatives, op.name


# ------------------------------------------------------------ import graph
def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The kronvec modules an import statement refers to."""
    if node.level:
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if not base.startswith("kronvec"):
        return []
    names = [f"{base}.{alias.name}" for alias in node.names]
    return [n for n in names if n in MODULES] or [base]


MODULES = _modules()


def _imports(module: str) -> tuple[list[tuple[str, int]], list[str]]:
    """(kronvec imports at module level with line numbers, problems found)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    edges, problems = [], []
    first_definition = None
    for node in tree.body:
        is_definition = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        if is_definition and first_definition is None:
            first_definition = node.lineno
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            targets = _resolve(module, path, node) if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names if a.name.startswith("kronvec")]
            if targets and first_definition is not None:
                problems.append(f"{module}:{node.lineno}: import after the first definition")
            edges.extend((t, node.lineno) for t in targets)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    problems.append(f"{module}:{inner.lineno}: import inside {node.name}()")
    return edges, problems


def test_no_late_imports_and_none_inside_functions():
    problems = [p for m in MODULES for p in _imports(m)[1]]
    assert not problems, "\n".join(problems)


# The one module that imports modules by name (third-party ones, on first use), and the
# modules that still do it by themselves, with the reason.
_IMPORTS_BY_NAME = "kronvec.lazy"
_IMPORTS_BY_NAME_ELSEWHERE: dict[str, str] = {}


def _imports_by_name(module: str) -> list[str]:
    """Where ``module`` imports a module by name (``importlib``, ``__import__``) or stands one in
    by :class:`kronvec.lazy.LazyModule` for one of kronvec's own modules."""
    tree = ast.parse(MODULES[module].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "importlib" for a in node.names) \
                or isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "importlib":
            found.append(f"{module}:{node.lineno}: imports importlib")
        elif isinstance(node, ast.Name) and node.id == "__import__":
            found.append(f"{module}:{node.lineno}: calls __import__")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
                and node.func.id in ("LazyModule", "optional_module") \
                and isinstance(node.args[0], ast.Constant) \
                and str(name := node.args[0].value).split(".")[0] in ("kronvec", ""):
            found.append(f"{module}:{node.lineno}: {node.func.id} of kronvec's own module {name!r}")
    return found


def test_modules_are_imported_by_name_only_here():
    """Import statements at the top of a module are the only way kronvec imports its own modules
    (``test_no_late_imports_and_none_inside_functions`` checks them); a module imported by name
    would slip past that test and the import graph.  So only :mod:`kronvec.lazy` imports by name,
    third-party modules on first use (it refuses kronvec's own at run time too)."""
    found = [p for m in MODULES if m != _IMPORTS_BY_NAME and m not in _IMPORTS_BY_NAME_ELSEWHERE
             for p in _imports_by_name(m)]
    assert not found, "\n".join(found)
    assert _imports_by_name(_IMPORTS_BY_NAME), "kronvec.lazy no longer imports by name: update this test"
    for module, why in _IMPORTS_BY_NAME_ELSEWHERE.items():
        assert _imports_by_name(module), f"{module} no longer imports by name ({why}): remove it here"


def test_lazy_modules_refuse_kronvec_modules():
    for name in ("kronvec.codegen", ".codegen", "kronvec"):
        with pytest.raises(ValueError, match="is a module of kronvec"):
            LazyModule(name)
        with pytest.raises(ValueError, match="is a module of kronvec"):
            optional_module(name, "jax", "a test")
    with pytest.raises(ImportError, match=r'a test needs no_such_module_x, .*pip install "kronvec\[jax\]"'):
        optional_module("no_such_module_x", "jax", "a test")
    assert LazyModule("math").sqrt(4.0) == 2.0


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (found := visit(t)) is not None:
                return found
        path.pop()
        state[m] = 2
        return None
    for m in sorted(graph):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_import_graph_has_no_cycle():
    graph = {m: {t for t, _ in _imports(m)[0] if t in MODULES and t != m} for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_can_fail():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_is_over_500_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long
