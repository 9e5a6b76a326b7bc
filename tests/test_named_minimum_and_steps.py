"""Sizes given as names that are no polynomial in the names (API v1.3).

* min(n, m), the rank of the reduced SVD, QR and LU of an (n, m) matrix: a size of its own that
  prints as ``min(n, m)`` and takes its number from n's and m's when values are bound.  Values
  decide these sizes, so one symbolic result serves a tall and a wide matrix.
* A step of 2 over a named axis takes ⌈n/2⌉ entries from positions whose parity depends on n:
  indexing maps need the positions themselves, so a ``ShapeError`` names the operation, the axis
  and the name.  Likewise the derivative of QR and LU of an (n, m) matrix, a different map for a
  tall and for a wide one.
"""
from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

import kronvec as kv
from kronvec.shapes import fmt
from kronvec.testing import dottest, fd_jacobian

SIZES = ((5, 3), (3, 5), (4, 4))


def _svd_cases() -> dict[str, tuple[kv.Expr, kv.Expr]]:
    X = kv.Matrix("X", ("n", "m"))
    U, s, Vt = kv.svd(X)
    C = kv.Matrix("C", ("n", "m"))
    return {"U": (U, X), "s": (s, X), "Vt": (Vt, X),
            "objective": (kv.sum(s * s) + kv.trace(U.T @ C @ Vt.T), X)}


def test_svd_of_two_names_has_min_sizes() -> None:
    X = kv.Matrix("X", ("n", "m"))
    U, s, Vt = kv.svd(X)
    assert (str(U.shape), str(s.shape), str(Vt.shape)) == ("(n, min(n, m))", "(min(n, m), 1)",
                                                          "(min(n, m), m)")
    Q, R = kv.qr(X)
    P, L, Uu = kv.lu(X)
    assert (str(Q.shape), str(R.shape)) == ("(n, min(n, m))", "(min(n, m), m)")
    assert (str(P.shape), str(L.shape), str(Uu.shape)) == ("(n, n)", "(n, min(n, m))", "(min(n, m), m)")
    assert U.shape[1] == kv.svd(kv.Matrix("Y", ("m", "n")))[0].shape[1]  # min(n, m) = min(m, n)
    assert str(kv.svd(kv.Matrix("Y", ("m", "n")))[1].shape) == "(min(n, m), 1)"  # n, m, p, q, r, k order
    # where the names decide the order, the smaller is the size itself
    assert str(kv.svd(kv.Matrix("Z", ("n", "n")))[1].shape) == "(n, 1)"
    W = kv.Matrix("W", ("n", "m"))
    assert str(kv.qr(kv.vstack([W, kv.Matrix("Y", ("m", "m"))]))[1].shape) == "(m, m)"
    # sizes left to inference print with their letters
    assert fmt(kv.svd(kv.Matrix("A"))[0].shape) == "(n, min(n, m))"


@pytest.mark.parametrize("name", ["U", "s", "Vt", "objective"])
def test_one_symbolic_svd_derivative_serves_tall_wide_and_square(name: str) -> None:
    f, X = _svd_cases()[name]
    J = kv.jacobian(f, X)
    # printed as the sized form, names for numbers: U's as a tall X's (its term with I − UUᵀ), Vt's
    # as a wide X's (its term with I − VVᵀ); min(n, m) is the smaller of the two numbers
    tall, wide = kv.Matrix("X", (5, 3)), kv.Matrix("X", (3, 5))
    named = {"K₍₃,₃₎": "K_(m,min(n,m))", "K₍₅,₃₎ ·": "K_(m,min(n,m)) ·"}
    if name in ("U", "s"):
        assert str(J) == _renamed(str(kv.jacobian(_sized(name, tall, tall), tall)), named, 0)
    if name in ("Vt", "s"):
        assert str(J) == _renamed(str(kv.jacobian(_sized(name, wide, wide), wide)), named, 1)
    if name == "Vt":
        assert "K_{(m,\\min(n,m))}" in J.latex()
    rng = np.random.default_rng(0)
    for n, m in SIZES:
        values = {"X": rng.standard_normal((n, m)), "C": rng.standard_normal((n, m))}
        L = J.at(values)
        Xn, Cn = kv.Matrix("X", (n, m)), kv.Matrix("C", (n, m))
        fs = _sized(name, Xn, Cn)
        Ls = kv.jacobian(fs, Xn).at(values)
        np.testing.assert_allclose(L.to_dense(), Ls.to_dense(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(L.to_dense(), fd_jacobian(fs, Xn, values), rtol=1e-5, atol=1e-6)
        dottest(L, rng)
        np.testing.assert_allclose(kv.evaluate(f, values), kv.evaluate(fs, values), rtol=1e-12)
    code = kv.lambdify([X, kv.Matrix("C", ("n", "m"))], f)
    for n, m in SIZES[:2]:
        X0, C0 = rng.standard_normal((n, m)), rng.standard_normal((n, m))
        np.testing.assert_allclose(code(X0, C0), kv.evaluate(f, X=X0, C=C0), rtol=1e-12)


def _renamed(text: str, named: dict[str, str], wide: int) -> str:
    if wide:
        text = text.replace("K₍₅,₃₎ ·", named["K₍₅,₃₎ ·"])
    return text.replace("K₍₃,₃₎", named["K₍₃,₃₎"]).replace("K₍₅,₃₎", "K₍ₙ,ₘ₎").replace("K₍₃,₅₎", "K₍ₙ,ₘ₎")


def _sized(name: str, X: kv.Expr, C: kv.Expr) -> kv.Expr:
    U, s, Vt = kv.svd(X)
    return {"U": U, "s": s, "Vt": Vt, "objective": kv.sum(s * s) + kv.trace(U.T @ C @ Vt.T)}[name]


def test_a_symbol_of_min_size_is_checked_against_the_others() -> None:
    X = kv.Matrix("X", ("n", "m"))
    s = kv.svd(X)[1]
    B = kv.Matrix("B", ("k", s.shape[0]))
    f = B @ s
    assert str(B.shape) == "(k, min(n, m))"
    rng = np.random.default_rng(1)
    X0 = rng.standard_normal((5, 3))
    np.testing.assert_allclose(kv.evaluate(f, X=X0, B=np.ones((2, 3))), np.ones((2, 3)) @ np.linalg.svd(
        X0, compute_uv=False)[:, None])
    with pytest.raises(kv.ShapeError, match=r"min\(n, m\) is 3 \(.*n = 5, m = 3\) but 4 from B \(2, 4\)"):
        kv.evaluate(f, X=X0, B=np.ones((2, 4)))


def test_min_sizes_pickle_into_a_fresh_process() -> None:
    X = kv.Matrix("X", ("n", "m"))
    f = kv.Matrix("B", ("k", kv.svd(X)[1].shape[0])) @ kv.svd(X)[1]
    assert pickle.loads(pickle.dumps(f.shape[0])) == f.shape[0]
    script = ("import pickle, sys, numpy as np, kronvec as kv\n"
              "f = pickle.loads(sys.stdin.buffer.read())\n"
              "print(f.symbols()['B'].shape, kv.evaluate(f, X=np.eye(4, 3), B=np.ones((2, 3))).ravel())\n")
    out = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(f), capture_output=True,
                         check=True).stdout.decode()
    assert out.strip() == "(k, min(n, m)) [3. 3.]"


@pytest.mark.parametrize("factor", ["qr", "lu"])
def test_qr_and_lu_of_two_names_evaluate_and_refuse_their_derivative_by_name(factor: str) -> None:
    X = kv.Matrix("X", ("n", "m"))
    parts = getattr(kv, factor)(X)
    rng = np.random.default_rng(2)
    for n, m in SIZES:
        X0 = rng.standard_normal((n, m))
        reference = np.linalg.qr(X0) if factor == "qr" else __import__("scipy.linalg").linalg.lu(X0)
        for part, value in zip(parts, reference):
            np.testing.assert_allclose(kv.evaluate(part, X=X0), value, rtol=1e-12, atol=1e-14)
    with pytest.raises(kv.ShapeError, match=rf"{factor}: the derivative of the {factor.upper()} factors of a "
                                            r"matrix of shape \(n, m\) depends on whether n ≥ m"):
        kv.jacobian(parts[1], X)
    # where the names say which (one name, or a tall (n + m, m) block), the derivative is there
    T = kv.vstack([kv.Matrix("A", ("n", "m")), kv.Matrix("B", ("m", "m"))])
    J = kv.jacobian(getattr(kv, factor)(T)[1], "A")
    for n, m in ((2, 3), (4, 2)):
        values = {"A": rng.standard_normal((n, m)), "B": rng.standard_normal((m, m)) + 3 * np.eye(m)}
        Ts = kv.vstack([kv.Matrix("A", (n, m)), kv.Matrix("B", (m, m))])
        fs = getattr(kv, factor)(Ts)[1]
        np.testing.assert_allclose(J.at(values).to_dense(), fd_jacobian(fs, kv.Matrix("A", (n, m)), values),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key, axis, name", [((slice(None, None, 2),), 0, "n"),
                                             ((slice(None), slice(1, None, 2)), 1, "m"),
                                             ((slice(None, None, -3), 0), 0, "n")])
def test_a_step_over_a_named_axis_names_the_operation_the_axis_and_the_name(key: tuple, axis: int,
                                                                          name: str) -> None:
    X = kv.Matrix("X", ("n", "m"))
    step = next(abs(k.step) for k in key if isinstance(k, slice) and k.step)
    expected = (rf"^index of a matrix of shape \(n, m\): the number of entries a step of -?{step} takes "
                rf"from axis {axis} of size {name} depends on {name} modulo {step}.*as numbers")
    with pytest.raises(kv.ShapeError, match=expected):
        X[key]
    # steps of ±1, and steps that take one entry, derive with names
    assert str(X[::-1, 1::-2].shape) == "(n, 1)"
    assert str(kv.Matrix("Y", (6, "m"))[::2].shape) == "(3, m)"
