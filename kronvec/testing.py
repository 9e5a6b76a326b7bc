"""Checks for derivatives and linear maps, usable in any test suite.

* :func:`dottest`: the adjoint dot-test ⟨L h, g⟩ = ⟨h, Lᵀ g⟩ (as in PyLops), also
  for block maps on tuples;
* :func:`fd_jacobian`: the dense Jacobian by central finite differences of
  :func:`kronvec.evaluate`, in the column-major vec convention;
* :func:`fd_jvp`: one directional derivative by central differences;
* :func:`check_jacobian`: both of the above against ``kv.jacobian``;
* :func:`random_values`: well-conditioned random values for an expression's
  symbols (SPD for symbols declared symmetric or asked to be invertible).

All of them take stacks of matrices too (symbols of three or more axes):
vecs are column-major over all axes, as ``kv.vec`` (``A.reshape(-1, order="F")``),
and random stacks are drawn member by member with the same rules.
"""
from __future__ import annotations

from typing import Any, Collection, Mapping

import numpy as np

from . import expr as E
from .derivative import jacobian
from .evaluation import evaluate
from .maps import LinearMap
from .maps.blocks import BlockMap
from .sample_values import random_matrix

__all__ = ["dottest", "fd_jacobian", "fd_jvp", "check_jacobian", "random_values", "random_matrix",
           "relative_error", "symmetrizer"]


def dottest(L: LinearMap | BlockMap, rng: np.random.Generator | None = None,
            rtol: float = 1e-10) -> float:
    """Assert ⟨L h, g⟩ = ⟨h, Lᵀ g⟩ for random h, g; return the relative gap.

    Also checks that ``L.T.T`` acts like ``L`` and that ``vjp`` is ``T.jvp``.
    For a block map h and g are tuples and ⟨·, ·⟩ sums over their members.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if isinstance(L, BlockMap):
        return _block_dottest(L, rng, rtol)
    h = rng.standard_normal(L.in_shape)
    g = rng.standard_normal(L.out_shape)
    lhs = float(np.vdot(L.jvp(h), g))
    rhs = float(np.vdot(h, L.vjp(g)))
    scale = max(1.0, abs(lhs), abs(rhs))
    gap = abs(lhs - rhs) / scale
    if gap > rtol:
        raise AssertionError(f"dot-test failed: <L h, g> = {lhs!r}, <h, L^T g> = {rhs!r}")
    np.testing.assert_allclose(L.T.T.jvp(h), L.jvp(h), rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(L.T.jvp(g), L.vjp(g), rtol=1e-12, atol=1e-12 * scale)
    return gap


def _block_dottest(L: BlockMap, rng: np.random.Generator, rtol: float) -> float:
    """The dot-test on tuples: Σᵢ⟨(L h)ᵢ, gᵢ⟩ = Σⱼ⟨hⱼ, (Lᵀ g)ⱼ⟩."""
    h = tuple(rng.standard_normal(s) for s in L.in_shape)
    g = tuple(rng.standard_normal(s) for s in L.out_shape)
    lhs = sum(float(np.vdot(a, b)) for a, b in zip(L.jvp(h), g))
    rhs = sum(float(np.vdot(a, b)) for a, b in zip(h, L.vjp(g)))
    scale = max(1.0, abs(lhs), abs(rhs))
    gap = abs(lhs - rhs) / scale
    if gap > rtol:
        raise AssertionError(f"dot-test failed: <L h, g> = {lhs!r}, <h, L^T g> = {rhs!r}")
    for a, b in zip(L.T.T.jvp(h), L.jvp(h)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * scale)
    return gap


def fd_jacobian(f: E.Expr, wrt: E.Expr, values: Mapping[str, Any], eps: float = 1e-6,
                points: int = 3) -> np.ndarray:
    """Central differences: column c is (F(V + εE_c) − F(V − εE_c)) / 2ε, vec'ed.

    ``points=5`` uses the five-point stencil
    (−F(V + 2εE_c) + 8F(V + εE_c) − 8F(V − εE_c) + F(V − 2εE_c)) / 12ε, whose
    error is O(ε⁴) rather than O(ε²).

    E_c is the unit matrix of the c-th entry of vec V (column-major).  For a
    symbol declared symmetric (whose values must stay symmetric) the direction
    is sym(E_c) = (E_c + E_cᵀ)/2, so the result is J Π, with Π vec H = vec sym(H)
    (:func:`symmetrizer`): the derivative on symmetric matrices (for a stack, on
    stacks of symmetric matrices).
    """
    if points not in (3, 5):
        raise ValueError(f"fd_jacobian: points must be 3 or 5, not {points!r}")
    name = wrt.params.name
    v0 = np.asarray(values[name], dtype=float).reshape(wrt.shape)
    n_in = v0.size
    f0 = np.asarray(evaluate(f, values))
    out = np.empty((f0.size, n_in))
    symmetric = _is_symmetric_symbol(wrt)
    for c in range(n_in):
        step = np.zeros(n_in)
        step[c] = eps * max(1.0, abs(v0.reshape(-1, order="F")[c]))
        dv = step.reshape(wrt.shape, order="F")
        dv = (dv + np.swapaxes(dv, -1, -2)) / 2 if symmetric else dv

        def at(t: float, dv: np.ndarray = dv) -> np.ndarray:
            return np.asarray(evaluate(f, {**values, name: v0 + t * dv}))

        if points == 5:
            difference = (8 * (at(1) - at(-1)) - (at(2) - at(-2))) / 6
        else:
            difference = at(1) - at(-1)
        out[:, c] = difference.reshape(-1, order="F") / (2 * step[c])
    return out


def _is_symmetric_symbol(wrt: E.Expr) -> bool:
    return bool(wrt.params.symmetric) and len(wrt.shape) >= 2 and wrt.shape[-1] > 1


def symmetrizer(n: int, stack: tuple[int, ...] = ()) -> np.ndarray:
    """Π, the (n², n²) matrix with Π vec H = vec (H + Hᵀ)/2 (column-major vec); for a stack
    ``stack + (n, n)``, the same for every member at once."""
    shape = tuple(stack) + (n, n)
    size = int(np.prod(shape))
    idx = np.arange(size).reshape(shape, order="F")
    if stack:
        out = np.zeros((size, size))
        flat, flipped = idx.reshape(-1, order="F"), np.swapaxes(idx, -1, -2).reshape(-1, order="F")
        out[flat, flat] += 0.5
        out[flat, flipped] += 0.5
        return out
    out = np.zeros((n * n, n * n))
    out[idx.reshape(-1, order="F"), idx.reshape(-1, order="F")] += 0.5
    out[idx.reshape(-1, order="F"), idx.T.reshape(-1, order="F")] += 0.5
    return out


def fd_jvp(f: E.Expr, wrt: E.Expr, values: Mapping[str, Any], direction: Any,
           eps: float = 1e-6) -> np.ndarray:
    """(F(V + hD) − F(V − hD)) / 2h for the direction D, with h = ε·max(1, max|V|).

    D must be symmetric for a symbol declared symmetric.
    """
    name = wrt.params.name
    v0 = np.asarray(values[name], dtype=float).reshape(wrt.shape)
    h = eps * max(1.0, float(np.max(np.abs(v0), initial=0.0)))
    d = np.asarray(direction, dtype=float).reshape(wrt.shape)
    plus = np.asarray(evaluate(f, {**values, name: v0 + h * d}))
    minus = np.asarray(evaluate(f, {**values, name: v0 - h * d}))
    result: np.ndarray = (plus - minus) / (2 * h)
    return result


def relative_error(computed: Any, reference: Any) -> float:
    """max|computed − reference| / max(|computed|, |reference|) (0 when both are equal)."""
    computed, reference = np.asarray(computed, dtype=float), np.asarray(reference, dtype=float)
    scale = max(np.max(np.abs(computed), initial=0.0), np.max(np.abs(reference), initial=0.0))
    difference = np.max(np.abs(computed - reference), initial=0.0)
    return 0.0 if difference == 0.0 else float(difference / max(scale, 1e-300))


def check_jacobian(f: E.Expr, wrt: E.Expr, values: Mapping[str, Any],
                   rtol: float = 1e-5, atol: float = 1e-6) -> LinearMap:
    """Assert that ``kv.jacobian(f, wrt)`` matches finite differences and passes the dot-test.

    For a symbol declared symmetric the comparison is on symmetric directions (J Π).
    """
    L = jacobian(f, wrt).at(values)
    dense = L.to_dense()
    if _is_symmetric_symbol(wrt):
        dense = dense @ symmetrizer(wrt.shape[-1], wrt.shape[:-2])
    fd = fd_jacobian(f, wrt, values)
    if not np.allclose(dense, fd, rtol=rtol, atol=atol * max(1.0, np.abs(fd).max())):
        # Central differences lose digits to rounding when F is ill conditioned (cond ~ 10⁴):
        # the reference is then the five-point stencil with a wider step, accurate to O(ε⁴).
        fd = fd_jacobian(f, wrt, values, eps=1e-4, points=5)
    np.testing.assert_allclose(dense, fd, rtol=rtol, atol=atol * max(1.0, np.abs(fd).max()))
    dottest(L)
    result: LinearMap = L
    return result


def random_values(expr: E.Expr, rng: np.random.Generator | None = None,
                  positive: bool | Collection[str] = False,
                  invertible: Collection[str] = (), unit: Collection[str] = ()) -> dict[str, np.ndarray]:
    """Random values for every symbol of ``expr`` (square ones well conditioned).

    ``positive`` (True, or the names it applies to) gives entries in [0.5, 2]
    for expressions with logs or roots; those named in ``unit`` get entries in
    [0.05, 0.95] (arguments of ``logit``); symbols declared symmetric, and those
    named in ``invertible``, get symmetric positive definite values when square.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    values = {}
    for name, sym in sorted(expr.symbols().items()):
        wants_positive = positive is True or (not isinstance(positive, bool) and name in positive)
        square = len(sym.shape) >= 2 and sym.shape[-2] == sym.shape[-1]
        spd = square and (sym.params.symmetric or name in invertible)
        if name in unit:
            values[name] = rng.uniform(0.05, 0.95, sym.shape)
        elif wants_positive and spd:
            n = sym.shape[-1]
            base = np.abs(rng.standard_normal(sym.shape)) + 0.1
            values[name] = (base @ np.swapaxes(base, -1, -2) + n * np.eye(n)) / n
        elif wants_positive:
            values[name] = rng.uniform(0.5, 2.0, sym.shape)
        elif square:
            values[name] = random_matrix(rng, sym.shape, spd=spd, invertible=True)
        else:
            values[name] = random_matrix(rng, sym.shape)
    return values
