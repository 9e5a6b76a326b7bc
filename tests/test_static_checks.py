"""Static checks that run with the suite: ``mypy --strict kronvec`` and ``ruff check kronvec tests``.

Both tools are in the ``test`` extra (pinned), so ``pip install -e ".[test]"`` and
``pytest`` run them; a test is skipped only where its tool is not installed.  mypy
reads its settings from ``pyproject.toml`` and keeps its cache in ``.mypy_cache``
(a few seconds cold, under one second warm).
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_strict_finds_nothing_in_the_package():
    result = _run("mypy", "--strict", "kronvec")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_finds_nothing_in_the_package_and_tests():
    result = _run("ruff", "check", "kronvec", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


USER_SCRIPT = '''\
"""A user's script: every public function it calls must be visible to mypy --strict."""
import numpy as np
import kronvec as kv

X = kv.Matrix("X", (3, 3))
A = kv.Matrix("A", (3, 3), symmetric=True)
f = kv.logdet(X) + kv.trace(kv.inv(X)) + kv.sum(kv.exp(X)) + kv.norm(kv.solve(X, A))
F = kv.einsum("ij,jk->ik", kv.matrix_transpose(X), kv.tanh(X)) + kv.kron(kv.eye(1), X)
w, V = kv.eigh(A)
G: kv.Expr = kv.grad(f, X)
H: kv.Jacobian = kv.hessian(f, X)
J: kv.Jacobian = kv.jacobian(F, X)
value: np.ndarray = kv.evaluate(kv.softmax(G, axis=0) + kv.cholesky(A) + V, X=np.eye(3), A=np.eye(3))
step = kv.lambdify([X], f)
print(value, H, J, w, step)
'''


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_strict_sees_the_public_functions_in_a_users_script(tmp_path):
    """Public functions are names a type checker sees (``kv.inv``, ``kv.trace``, ...), not names
    added at run time: a user's ``mypy --strict`` of a script that calls them reports nothing."""
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    result = _run("mypy", "--strict", str(script))
    assert result.returncode == 0, result.stdout + result.stderr
