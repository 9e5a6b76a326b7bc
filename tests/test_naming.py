"""One name per thing: functions of maps and of expressions do not share names, the helpers
that contributors touch have names that say what they do, and there are no second names
(compatibility aliases) for a function."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kronvec import registry
from kronvec.maps import algebra, factors
from kronvec.ops import arithmetic, leaves

PACKAGE = Path(__file__).resolve().parents[1] / "kronvec"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _top_level_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_maps_and_expressions_do_not_share_function_names():
    """``add``/``scale`` build expressions (nodes of those names); the map algebra's are
    ``add_maps``/``scale_map``."""
    shared = set(algebra.__all__) & set(arithmetic.__all__)
    assert not shared, f"names of both kronvec.maps.algebra and kronvec.ops.arithmetic: {sorted(shared)}"
    assert {"add_maps", "scale_map", "compose"} <= set(algebra.__all__)
    assert {"add", "scale"} <= set(arithmetic.__all__)
    assert {"add", "scale"} <= {op.name for op in registry.specs()}


@pytest.mark.parametrize("abbreviation", ["mm", "tr", "had", "as2d", "io"])
def test_no_function_named_by_an_abbreviation(abbreviation):
    """Abbreviations that need a glossary (``fx.mm``, ``as2d``) are not names of functions."""
    found = [str(p.relative_to(PACKAGE)) for p in MODULES if abbreviation in _top_level_functions(p)]
    assert not found, f"a function named {abbreviation!r} in {found}"
    assert not hasattr(factors, abbreviation)


def test_no_second_name_for_a_function():
    """No module gives a function of its own or one it imports a second name at its top level
    (``transpose = matrix_transpose``), and no module only re-exports others' names."""
    aliases = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        names |= {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom)
                  for a in node.names}
        aliases += [f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}" for node in tree.body
                    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
                    and node.value.id in names and all(isinstance(t, ast.Name) for t in node.targets)]
    assert not aliases, "second names:\n" + "\n".join(aliases)
    assert not (PACKAGE / "ops" / "_common.py").exists(), "ops/_common.py only re-exported other modules"


# functions that forward to another under a second name on purpose, and why
_SECOND_NAMES = {"ops/stacks.py:permute_dims": "NumPy has both: numpy.permute_dims is numpy.transpose"}


def _forwarders(path: Path) -> list[str]:
    """The top-level functions of a module whose body only returns another top-level function of
    it called with the same arguments: a second name for that function."""
    tree = ast.parse(path.read_text())
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
        if not isinstance(call, ast.Call) or call.keywords or not isinstance(call.func, ast.Name):
            continue
        arguments = [ast.unparse(a) for a in call.args]
        if call.func.id in functions and arguments == [a.arg for a in node.args.args]:
            out.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    return out


def test_no_function_only_forwards_to_another():
    """One function per thing: ``eye`` is the identity matrix, not a second name for an
    ``identity`` that does the work (a function that only calls another with its own
    arguments is such a second name)."""
    found = [name for path in MODULES for name in _forwarders(path) if name not in _SECOND_NAMES]
    assert not found, f"functions that only forward to another: {found}"
    assert not hasattr(leaves, "identity")


def test_node_names_are_public_names():
    """An op with a public function is a node of that name (``kv.matrix_power`` builds a
    ``matrix_power`` node, ``kv.transpose`` a ``transpose`` node), so that one name leads from
    the function to its node, its registry record and its tests."""
    differ = [(op.name, op.public) for op in registry.specs() if op.public and op.name != op.public]
    assert not differ, f"(node, public function) pairs with two names: {differ}"


# derivative nodes whose base is no node of its own, and why
_DERIVATIVE_OF_NO_NODE = {
    "polar_frechet": "the derivative of U Vᵀ, the polar factor of svd, which is no node"}


def test_derivative_nodes_are_named_after_their_node():
    """A node that holds a derivative is named after the node it derives, in full
    (``matrix_power_frechet`` for ``matrix_power``, ``expm_frechet2`` for ``expm``), so that
    its name leads to that node, its public function and its tests."""
    names = {op.name for op in registry.specs()}
    derivative = re.compile(r"(.+)_frechet\d*$")
    stray = [op.name for op in registry.specs() if (m := derivative.match(op.name))
             and m.group(1) not in names and op.name not in _DERIVATIVE_OF_NO_NODE]
    assert not stray, f"derivative nodes not named after a registered node: {stray}"
    assert all(name in names for name in _DERIVATIVE_OF_NO_NODE)


_OP_NAME_USES = re.compile(
    r"""(?:\.op\s*(?:==|!=)\s*|\b(?:Expr\.make|registry\.function|registry_function|_build|_fn|spec)\(\s*)"""
    r"""["']([A-Za-z_][A-Za-z0-9_]*)["'](?!\s*\+)""")  # (not a prefix: "svd_" + which)


def test_every_op_name_in_the_code_is_registered():
    """Strings used as op names (``node.op == "..."``, ``Expr.make("...")``,
    ``registry.function("...")``) name registered operations: a renamed node leaves no stale
    name behind, such as one that code written before the rename still uses."""
    names = {op.name for op in registry.specs()} | {"symbol", "const", "named"}
    # (the parser's trees have ops of their own)
    expression_code = [path for path in MODULES if "parse" not in path.parts]
    stale = [f"{path.relative_to(PACKAGE)}: {m.group(1)!r}" for path in expression_code
             for m in _OP_NAME_USES.finditer(path.read_text()) if m.group(1) not in names]
    assert not stale, "op names that are not registered:\n" + "\n".join(stale)
