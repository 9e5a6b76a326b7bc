"""One name per thing: functions of maps and of expressions do not share names, the helpers
that contributors touch have names that say what they do, and there are no second names
(compatibility aliases) for a function."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kronvec import registry
from kronvec.maps import algebra, factors
from kronvec.ops import arithmetic

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
