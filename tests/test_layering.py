"""What the library's own layers may not import: the test helpers (:mod:`kronvec.testing`) are
for test suites, so nothing else in the package imports them."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kronvec"
ALLOWED = {"testing.py", "cli.py"}  # the CLI's --check is a finite-difference check


def _imports_testing(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module or ''}.{a.name}".lstrip(".") for a in node.names]
            if any(n == "testing" or n.endswith(".testing") or n == "kronvec.testing" for n in names):
                return True
        if isinstance(node, ast.Import) and any(a.name == "kronvec.testing" for a in node.names):
            return True
    return False


def test_the_library_does_not_import_the_test_helpers():
    offenders = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                       if p.name not in ALLOWED and _imports_testing(p))
    assert not offenders, f"modules importing kronvec.testing: {offenders}"
