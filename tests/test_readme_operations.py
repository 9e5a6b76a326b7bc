"""The README's table of operations is generated from the registry; this test fails when
it is stale.  Regenerate it with ``python tests/test_readme_operations.py``."""
from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import pytest

import kronvec  # noqa: F401  (registers every operation)
from kronvec import registry

README = Path(__file__).resolve().parents[1] / "README.md"
GUIDE = README.parent / "docs" / "adding-an-operation.md"
BEGIN = "<!-- operations: generated from the registry by `python tests/test_readme_operations.py` -->\n"
END = "<!-- end of operations -->\n"


def _split(text: str) -> tuple[str, str, str]:
    head, rest = text.split(BEGIN)
    table, tail = rest.split(END)
    return head, table, tail


def regenerate(path: Path = README) -> None:
    head, _, tail = _split(path.read_text())
    path.write_text(head + BEGIN + registry.operations_table() + END + tail)


def test_the_readme_table_of_operations_is_current():
    _, table, _ = _split(README.read_text())
    assert table == registry.operations_table(), (
        "README.md's table of operations is stale: run `python tests/test_readme_operations.py`")


def test_the_table_lists_every_public_function_with_its_module():
    table = registry.operations_table()
    for op in registry.specs():
        if op.public:
            assert f"| `kv.{op.public}` | `ops/{op.family}.py` |" in table


@pytest.mark.parametrize("op", registry.specs(), ids=lambda op: op.name)
def test_the_family_is_the_module_that_registers_the_operation(op):
    """The name leads to the file: ``kron`` is declared in ``kronvec/ops/kronecker.py``."""
    module = importlib.import_module(f"kronvec.ops.{op.family}")
    if op.function is not None and op.function.__module__.startswith("kronvec.ops."):
        assert op.function.__module__ == module.__name__, (op.name, op.function.__module__)


def test_a_family_that_is_not_the_module_is_refused():
    with pytest.raises(ValueError, match="declares the family 'products'; an operation's family is"):
        registry.register("kron_elsewhere", "products")
    assert "kron_elsewhere" not in {op.name for op in registry.specs()}


def test_the_guide_to_adding_an_operation_names_every_field():
    """docs/adding-an-operation.md has a row for every field of OpSpec (its examples run as doctests)."""
    guide = GUIDE.read_text()
    missing = [f.name for f in dataclasses.fields(registry.OpSpec) if f"| `{f.name}` |" not in guide]
    assert not missing, f"docs/adding-an-operation.md: no row for the OpSpec fields {missing}"
    assert "`describe=`" in guide


if __name__ == "__main__":
    regenerate(Path(sys.argv[1]) if len(sys.argv) > 1 else README)
