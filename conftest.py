"""Test configuration for the whole suite (tests, doctests of the package, docs and README).

Hypothesis profiles: ``ci`` (the default) draws the same examples on every run, so a
green suite stays green on a clean checkout; ``explore`` draws new ones on every run,
for hunting: ``python -m pytest --hypothesis-profile=explore``.

The docs run as doctests; the page on Dask needs the optional Dask extra, the page on
JAX and PyTorch both of them, the page on eigenvectors at ties JAX.
"""
import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")

_HAS_DASK = bool(importlib.util.find_spec("dask") and importlib.util.find_spec("distributed"))
_HAS_FRAMEWORKS = bool(importlib.util.find_spec("jax") and importlib.util.find_spec("torch"))
_HAS_JAX = bool(importlib.util.find_spec("jax"))
collect_ignore = ([] if _HAS_DASK else ["docs/stacks-and-dask.md"]) + \
    ([] if _HAS_FRAMEWORKS else ["docs/frameworks.md"]) + \
    ([] if _HAS_JAX else ["docs/eigenvectors-at-ties.md"])


@pytest.fixture
def jax64() -> Iterator[Any]:
    """JAX with 64-bit floats on for the test (skipped when JAX is not installed)."""
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        yield jax
