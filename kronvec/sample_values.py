"""Random values of a given shape and structure: what checks and generated code draw to try
an expression on (kept below both, so that code generation does not import the test helpers)."""
from __future__ import annotations

import numpy as np

__all__ = ["random_matrix"]


def random_matrix(rng: np.random.Generator, shape: tuple[int, ...], spd: bool = False,
                  invertible: bool = False) -> np.ndarray:
    """A random matrix (or stack); ``invertible`` adds n·I, ``spd`` gives A Aᵀ/n + n·I."""
    if shape == ():
        return np.asarray(rng.uniform(0.5, 2.0))
    a = rng.standard_normal(shape)
    n = shape[-1]
    if spd:
        return a @ np.swapaxes(a, -1, -2) / n + n * np.eye(n)
    if invertible:
        result: np.ndarray = a + 2 * n ** 0.5 * np.eye(n)
        return result
    return a
