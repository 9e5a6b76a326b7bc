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
