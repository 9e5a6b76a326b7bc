"""Several variables at once: ``kv.grad(f, [U, V])`` and ``kv.jacobian(F, [U, V])``
as tuples, and the block Hessian ``kv.hessian(f, [U, V])`` (a BlockJacobian whose
``.at`` is a BlockMap on tuples): against finite differences, the adjoint
dot-test on tuples, the dense block matrix, algebra and errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.blockjacobian import BlockJacobian
from kronvec.maps.blocks import BlockMap
from kronvec.testing import dottest, fd_jacobian, random_values


def _problem(n, m, k):
    X, U, V = kv.Matrix("X", (n, m)), kv.Matrix("U", (n, k)), kv.Matrix("V", (m, k))
    s = kv.Scalar("s")
    R = X - U @ V.T
    f = kv.sum(R * R) + s ** 2 * kv.trace(U.T @ U) + kv.sum(V[0, :] ** 3) * s
    return f, [U, V, s]


def _fd_block_hessian(f, variables, values):
    """The block matrix [∂(∇ᵢ f)/∂Vⱼ] by finite differences of each gradient."""
    grads = kv.grad(f, variables)
    return np.block([[fd_jacobian(g, v, values) for v in variables] for g in grads])


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 3), k=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_block_hessian_matches_finite_differences(n, m, k, seed):
    f, variables = _problem(n, m, k)
    rng = np.random.default_rng(seed)
    values = random_values(f, rng)
    H = kv.hessian(f, variables)
    L = H.at(values)
    assert isinstance(H, BlockJacobian) and isinstance(L, BlockMap)
    assert kv.BlockJacobian is BlockJacobian and kv.BlockMap is BlockMap
    assert L.in_shape == L.out_shape == ((n, k), (m, k), ())
    dense = L.to_dense()
    np.testing.assert_allclose(dense, _fd_block_hessian(f, variables, values), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dense, dense.T, atol=1e-9)
    dottest(L, rng)
    h = tuple(rng.standard_normal(v.shape) for v in variables)
    stacked = np.concatenate([np.reshape(x, -1, order="F") for x in h])
    out = L.jvp(h)
    assert [o.shape for o in out] == [v.shape for v in variables]
    np.testing.assert_allclose(np.concatenate([np.reshape(o, -1, order="F") for o in out]),
                               dense @ stacked, atol=1e-9)
    np.testing.assert_allclose(L @ stacked, dense @ stacked, atol=1e-9)
    np.testing.assert_allclose(L.aslinearoperator().rmatvec(stacked), dense.T @ stacked, atol=1e-9)


def test_gradients_and_jacobians_are_tuples_in_order():
    f, (U, V, s) = _problem(3, 2, 2)
    assert kv.grad(f, [V, U]) == (kv.grad(f, V), kv.grad(f, U))
    assert kv.grad(f, (U, "s")) == (kv.grad(f, U), kv.grad(f, s))
    F = U @ V.T
    JU, JV = kv.jacobian(F, [U, V])
    assert JU is kv.jacobian(F, U) and JV is kv.jacobian(F, V)
    assert kv.jacobian(F, (V,)) == (kv.jacobian(F, V),)
    assert isinstance(kv.grad(f, [U]), tuple) and len(kv.grad(f, [U])) == 1
    W = kv.Matrix("W", (2, 2))
    assert kv.grad(f, [U, W])[1].op == "zeros"  # a variable f does not contain: zero


def test_blocks_are_the_single_variable_hessians_and_cross_terms():
    f, (U, V, s) = _problem(3, 2, 2)
    H = kv.hessian(f, [U, V])
    assert H[0, 0] is kv.hessian(f, U) and H[1, 1] is kv.hessian(f, V)
    assert H[0, 1] is kv.jacobian(kv.grad(f, U), V)
    lines = str(H).splitlines()
    assert [line.split(":")[0] for line in lines] == ["[U, U]", "[U, V]", "[V, U]", "[V, V]"]
    assert lines[0] == f"[U, U]: {kv.hessian(f, U)}"
    assert H.latex().startswith(r"\begin{bmatrix} ") and " & " in H.latex()
    assert H.shape == (10, 10) and H.in_shape == ((3, 2), (2, 2))
    values = random_values(f, np.random.default_rng(0))
    L = H.at(values)
    np.testing.assert_allclose(L.blocks[0][1].to_dense(), H[0, 1].at(values).to_dense())
    np.testing.assert_allclose(H.T.at(values).to_dense(), L.to_dense().T, atol=1e-12)
    assert "[U, V]: " in str(L) and repr(L).startswith("<numeric BlockMap")


def test_block_map_algebra():
    f, variables = _problem(3, 2, 2)
    values = random_values(f, np.random.default_rng(2))
    L = kv.hessian(f, variables).at(values)
    D = L.to_dense()
    np.testing.assert_allclose((L @ L).to_dense(), D @ D, atol=1e-9)
    np.testing.assert_allclose((2 * L - L / 2).to_dense(), 1.5 * D, atol=1e-12)
    np.testing.assert_allclose((L + L.T).to_dense(), D + D.T, atol=1e-12)
    u = np.ones(L.shape[0])
    np.testing.assert_allclose(u @ L, D.T @ u, atol=1e-9)
    V2 = np.random.default_rng(3).standard_normal((L.shape[1], 2))
    np.testing.assert_allclose(L @ V2, D @ V2, atol=1e-9)
    tensors = L.to_tensor()
    assert tensors[0][1].shape == (3, 2, 2, 2)
    stack = tuple(np.stack([np.ones(v.shape)] * 2) for v in variables)
    assert [o.shape for o in L.jvp(stack)] == [(2,) + v.shape for v in variables]


def test_errors():
    f, (U, V, s) = _problem(3, 2, 2)
    for fn in (kv.grad, kv.jacobian, kv.hessian):
        with pytest.raises(ValueError, match="at least one variable"):
            fn(f, [])
    with pytest.raises(kv.BindingError, match="no symbol named 'Q'"):
        kv.hessian(f, [U, "Q"])
    L = kv.hessian(f, [U, V]).at(random_values(f, np.random.default_rng(0)))
    with pytest.raises(kv.ShapeError, match=r"needs a tuple of 2 arrays of shapes \(3, 2\), \(2, 2\)"):
        L.jvp(np.ones((3, 2)))
    with pytest.raises(kv.ShapeError, match="a tuple of 1"):
        L.vjp((np.ones((3, 2)),))
    with pytest.raises(kv.MaterializationError, match="max_bytes"):
        L.to_dense(max_bytes=10)
    with pytest.raises(kv.ShapeError):
        L @ kv.hessian(f, [U]).at(random_values(f, np.random.default_rng(0)))
