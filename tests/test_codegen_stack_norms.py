"""Generated code on stacks for the norms through the SVD, vector norms over axes, the weights of
max and min, LU and SVD factors and the elementwise powers in the derivatives of norms.

On every installed backend, with one and two stack axes and stacks of 1×1 members, the
generated value, JVP and VJP equal ``kv.evaluate`` and the bound map, and the JVP a central
finite difference; the Hessians of the nuclear and spectral norms too (the derivative of their
gradients, ``polar_frechet`` and the singular vectors' gap factors).
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, check_generated_code

STACKS = [((4,), 3, 2), ((2, 3), 3, 4), ((3,), 1, 1)]
STACK_IDS = ["one_axis", "two_axes", "one_by_one_members"]


def _case(name, stack, m, n):
    """(expression, symbols, values, the symbol to differentiate in) for a stack of m×n members R
    and of n×n members X."""
    rng = np.random.default_rng(len(stack) * 10 + m + n)
    R, X = kv.Matrix("R", stack + (m, n)), kv.Matrix("X", stack + (n, n))
    C = rng.standard_normal((m, n))  # a NumPy constant broadcast against the stack
    values = {"R": rng.standard_normal(stack + (m, n)),
              "X": rng.standard_normal(stack + (n, n)) + 3 * np.eye(n)}
    U, s, Vt = kv.svd(R)
    exprs = {
        "nuclear_norm": (kv.norm(R, "nuc", axis=(-2, -1)) * kv.norm(R + C, "nuc", axis=(-2, -1)), R),
        "spectral_norm": (kv.norm(R, 2, axis=(-2, -1)), R),
        "smallest_singular_value": (kv.norm(R, -2, axis=(-2, -1)), R),
        "nuclear_gradient": (kv.grad(kv.sum(kv.norm(R, "nuc", axis=(-2, -1))), R), R),
        "spectral_gradient": (kv.grad(kv.sum(kv.norm(R, 2, axis=(-2, -1))), R), R),
        "vector_norm_p3": (kv.norm(R, 3, axis=-1), R),  # signed_power, abs_power
        "vector_norm_2": (kv.norm(R, axis=-2, keepdims=True) * R, R),  # power0
        "vector_norm_axes": (kv.norm(R * C, 1.5, axis=-2)
                             * kv.expand_dims(kv.norm(R, 1, axis=(-2, -1)), -1), R),
        "max": (kv.max(R, axis=-1) + kv.expand_dims(kv.max(R * C, axis=(-2, -1)), -1), R),
        "min": (kv.min(R * R, axis=-2), R),
        "lu": (sum((f @ X for f in kv.lu(X)), kv.zeros(stack + (n, n))), X),
        "svd_U": (U * U, R),  # the signs of singular vectors are each library's choice
        "svd_Vt": (Vt.mT @ (s * Vt), R),
    }
    f, wrt = exprs[name]
    return f, [v for v in (R, X) if v in f.symbols().values()], values, wrt


NAMES = ["nuclear_norm", "spectral_norm", "smallest_singular_value", "nuclear_gradient", "spectral_gradient",
         "vector_norm_p3",
         "vector_norm_2", "vector_norm_axes", "max", "min", "lu", "svd_U", "svd_Vt"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack,m,n", STACKS, ids=STACK_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_stack_code_value_jvp_vjp_equal_the_library(name, stack, m, n, backend):
    f, syms, values, wrt = _case(name, stack, m, n)
    check_generated_code(f, syms, values, wrt, backend)
