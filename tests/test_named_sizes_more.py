"""Sizes given as names (API v1.3), continued: means, sums of sizes, indexing and assembly,
offset diagonals, structured maps composed with derivatives."""
from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kronvec as kv
from kronvec.dims import Dim, find
from kronvec.indices import positions_in, within
from kronvec.printing import to_python
from kronvec.testing import fd_jacobian


def test_mean_prints_as_the_sized_mean_with_names_for_numbers() -> None:
    X, Y = kv.Matrix("X", ("n", "m")), kv.Matrix("Y", (3, 2))
    assert str(kv.mean(Y)) == "sum(Y)/6" and str(kv.mean(X)) == "sum(X)/(nm)"
    assert kv.mean(Y).latex().replace("Y", "X").replace("{6}", "{nm}") == kv.mean(X).latex()
    assert str(kv.mean(Y, axis=0)) == "𝟙ᵀY/3" and str(kv.mean(X, axis=0)) == "𝟙ᵀX/n"
    assert str(kv.grad(kv.mean(Y), Y)) == "𝟙/6" and str(kv.grad(kv.mean(X), X)) == "𝟙/(nm)"
    X0 = np.arange(12.0).reshape(4, 3)
    assert kv.evaluate(kv.mean(X), X=X0) == pytest.approx(X0.mean())


def test_a_derivative_composed_with_structured_maps_binds_at_two_sizes() -> None:
    S, A = kv.Matrix("S", ("n", "n"), symmetric=True), kv.Matrix("A", ("n", "n"))
    J = kv.jacobian(S @ A, S)
    D, L = kv.duplication("n"), kv.elimination("n")
    composed = {"J D": J @ D, "L J": L @ J, "L J D": L @ J @ D, "(J D)ᵀ": (J @ D).T,
                "grad D": kv.jacobian(kv.trace(S @ A), S) @ D}
    assert str(composed["J D"]) == "(Aᵀ ⊗ I) · Dₙ"
    rng = np.random.default_rng(0)
    for n in (3, 5):
        values = {"S": (lambda B: B + B.T)(rng.standard_normal((n, n))), "A": rng.standard_normal((n, n))}
        Ss, As = kv.Matrix("S", (n, n), symmetric=True), kv.Matrix("A", (n, n))
        Js = kv.jacobian(Ss @ As, Ss)
        Ds, Ls = kv.duplication(n), kv.elimination(n)
        sized = {"J D": Js @ Ds, "L J": Ls @ Js, "L J D": Ls @ Js @ Ds, "(J D)ᵀ": (Js @ Ds).T,
                 "grad D": kv.jacobian(kv.trace(Ss @ As), Ss) @ Ds}
        for key, M in composed.items():
            bound = M.at(values)
            assert bound.shape == sized[key].at(values).shape, key
            np.testing.assert_allclose(bound.to_dense(), sized[key].at(values).to_dense(), atol=1e-12)
            tangent = rng.standard_normal(bound.in_shape)
            np.testing.assert_allclose(kv.lambdify([S, A], M)(values["S"], values["A"], tangent),
                                       bound.jvp(tangent), atol=1e-12)  # generated code at both sizes
    X = kv.Matrix("X", ("n", "m"))
    with pytest.raises(kv.ShapeError, match="compose the bound maps"):
        (kv.jacobian(X @ X.T, X) @ kv.jacobian(2 * X, X)).at(X=np.ones((3, 2)))


def test_sums_of_named_sizes_print_and_bind() -> None:
    X, Y = kv.Matrix("X", ("n", "m")), kv.Matrix("Y", ("n", "k"))
    H = kv.hstack([X, Y])
    assert str(H.shape) == "(n, m + k)" and str(kv.vstack([X.T, Y.T]).shape) == "(m + k, n)"
    W = kv.Matrix("W", (H.shape[1], "p"))
    assert str(W.shape) == "(m + k, p)"
    assert str(kv.Matrix("V", (X.shape[0] * H.shape[1], 2)).shape) == "(n*m + n*k, 2)"
    assert str(kv.Matrix("U", (X.shape[0] + X.shape[1] - 1, 2)).shape) == "(n + m - 1, 2)"
    rng = np.random.default_rng(1)
    J = kv.jacobian(H @ W, W)
    for n, m, k, p in ((2, 3, 1, 2), (4, 1, 3, 5)):
        X0, Y0, W0 = rng.standard_normal((n, m)), rng.standard_normal((n, k)), rng.standard_normal((m + k, p))
        np.testing.assert_allclose(kv.evaluate(H @ W, X=X0, Y=Y0, W=W0), np.hstack([X0, Y0]) @ W0)
        assert J.at(X=X0, Y=Y0, W=W0).shape == (n * p, (m + k) * p)
        Z = kv.Matrix("Z", (H.shape[1], "n"))  # k read from Z (m + k rows) once X gives m
        Z0 = rng.standard_normal((m + k, n))
        assert kv.evaluate(kv.sum(Z) + kv.sum(X), Z=Z0, X=X0) == pytest.approx(Z0.sum() + X0.sum())
    with pytest.raises(kv.ShapeError, match=r"^m \+ k is 4 \(m = 3, k = 1\) but 5 from W \(5, 2\)$"):
        kv.evaluate(H @ W, X=np.ones((2, 3)), Y=np.ones((2, 1)), W=np.ones((5, 2)))
    assert pickle.loads(pickle.dumps(W)) is W


# ------------------------------------------- indexing, assembly, offset diagonals, 2-norms
_SUBSCRIPT = str.maketrans("ₙₘₖ₊₋₀₁₂₃₄₅₆₇₈₉", "nmk+-0123456789")
_TO_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _value(text: str, sizes: dict[str, int]) -> int:
    """A size as printed (m+k, n-1, 2k, nm) at ``sizes``."""
    text = re.sub(r"(\d)([nmk])", r"\1*\2", text)
    text = re.sub(r"([nmk])(?=[nmk])", r"\1*", text)
    return int(eval(text, {}, dict(sizes)))


def numbered(text: str, sizes: dict[str, int]) -> str:
    """A printed form with every size given as names (in subscripts, keys and shapes) replaced
    by its number: place₍ₙ,ₘ₊ₖ₎(H, [:, :m]) → place₍₄,₅₎(H, [:, :3])."""
    text = re.sub("[ₙₘₖ][ₙₘₖ₊₋₀-₉]*", lambda g: str(_value(g.group(0).translate(_SUBSCRIPT), sizes))
                  .translate(_TO_SUBSCRIPT), text)
    return re.sub(r"(?<![A-Za-z_])[nmk](?:[nmk]|[+-]\d+|[+-][nmk]|\d)*(?![A-Za-z_(])",
                  lambda g: str(_value(g.group(0), sizes)), text)


def _symbols(sizes: dict[str, int] | None) -> dict[str, kv.Expr]:
    def shape(*dims: str | int) -> tuple:
        if sizes is None:
            return tuple(Dim(d) if isinstance(d, str) else d for d in dims)
        return tuple(d if isinstance(d, int) else sizes[d] for d in dims)
    return {"X": kv.Matrix("X", shape("n", "m")), "Y": kv.Matrix("Y", shape("n", "k")),
            "Z": kv.Matrix("Z", shape("k", "m")), "S": kv.Matrix("S", shape("n", "n")),
            "A": kv.Matrix("A", shape("m", "m")), "B": kv.Matrix("B", shape("b", "n", "n")),
            "W": kv.Matrix("W", shape("k", "k")),
            "R": kv.Matrix("R", (shape("n")[0] + 1, shape("n")[0])),
            "C": kv.Matrix("C", (shape("b")[0], shape("n")[0] + 1, shape("n")[0]))}


NUMBERED_CASES = {  # name: (f of the symbols, the symbol to differentiate by)
    "row": (lambda s: s["X"][0, :] @ s["A"], "X"),
    "rows_from_one": (lambda s: kv.sum(s["X"][1:, :] ** 2), "X"),
    "last_row_reversed": (lambda s: s["X"][-1, ::-1] * s["X"][0, -1], "X"),
    "column_block": (lambda s: s["S"][1:, :-1] @ s["S"][:-1, 1:], "S"),
    "hstack": (lambda s: kv.hstack([s["X"], s["Y"] * s["Y"]]), "Y"),
    "vstack": (lambda s: kv.vstack([s["X"] @ s["A"], s["Z"]]), "X"),
    "block": (lambda s: kv.block([[s["S"], s["Y"]], [s["Y"].T, s["W"] @ s["W"]]]), "W"),
    "hstack_gram": (lambda s: kv.sum(kv.hstack([s["X"], s["Y"]]).T @ kv.hstack([s["X"], s["Y"]])), "X"),
    "offset_diagonal": (lambda s: kv.diagonal(s["S"] @ s["S"], 1), "S"),
    "offset_trace": (lambda s: kv.trace(s["S"] * s["S"], -1), "S"),
    "stack_offset_diagonal": (lambda s: kv.sum(kv.diagonal(s["B"] * s["B"], 1, -2, -1)), "B"),
    "rectangular_rows": (lambda s: kv.trace(s["R"][:-1, :] * s["R"][1:, :]) * kv.sum(s["R"] * s["R"]), "R"),
    "stack_rectangular_trace": (lambda s: kv.sum(kv.trace(s["C"] * s["C"], axis1=-2, axis2=-1)), "C"),
    "spectral_norm_gradient": (lambda s: kv.sum(s["S"] * kv.grad(kv.norm(s["S"], 2), s["S"])), "S"),
}
NUMBERED_SIZES = ({"n": 4, "m": 3, "k": 2, "b": 2}, {"n": 5, "m": 2, "k": 3, "b": 3})


@pytest.mark.parametrize("name", NUMBERED_CASES)
def test_indexing_assembly_and_diagonals_derive_with_names(name: str) -> None:
    f_of, wrt = NUMBERED_CASES[name]
    named = _symbols(None)
    f = f_of(named)
    J = kv.jacobian(f, named[wrt])
    symbols = list(f.symbols().values())
    value_fn, jvp_fn = kv.lambdify(symbols, f), kv.lambdify(symbols, J)
    for seed, sizes in enumerate(NUMBERED_SIZES):
        sized = _symbols(sizes)
        fs = f_of(sized)
        Js = kv.jacobian(fs, sized[wrt])
        if "stack" not in name:  # (a stack's selection matrices print as constants when sized)
            assert numbered(str(J), sizes) == str(Js)
            assert numbered(str(f), sizes) == str(fs)
            if f.shape == ():
                assert numbered(str(kv.grad(f, named[wrt])), sizes) == str(kv.grad(fs, sized[wrt]))
        rng = np.random.default_rng(seed)
        values = {k: rng.standard_normal(s.shape) for k, s in fs.symbols().items()}
        np.testing.assert_allclose(J.at(values).to_dense(), Js.at(values).to_dense(), rtol=1e-10, atol=1e-12)
        reference = fd_jacobian(fs, sized[wrt], values)
        np.testing.assert_allclose(Js.at(values).to_dense(), reference, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(kv.evaluate(f, values), kv.evaluate(fs, values), rtol=1e-12)
        args = [values[s.params.name] for s in symbols]
        H = rng.standard_normal(sized[wrt].shape)
        np.testing.assert_allclose(value_fn(*args), kv.evaluate(fs, values), rtol=1e-10, atol=1e-12)
        if "stack" not in name:  # (generated code for a diagonal map of a stack: none, sized or not)
            np.testing.assert_allclose(jvp_fn(*args, H), Js.at(values).jvp(H), rtol=1e-9, atol=1e-11)
        if f.shape == ():
            np.testing.assert_allclose(kv.evaluate(kv.grad(f, named[wrt]), values),
                                       kv.evaluate(kv.grad(fs, sized[wrt]), values), rtol=1e-10, atol=1e-12)


def test_indexing_with_names_says_what_needs_numbers() -> None:
    X = kv.Matrix("X", ("n", "m"))
    with pytest.raises(kv.ShapeError, match=r"step of 2 .* size m depends on m modulo 2.*as numbers"):
        X[:, ::2]
    with pytest.raises(kv.ShapeError, match=r"offset 1 in planes \(n, m\) has min\(n, m-1\) entries"):
        kv.diagonal(X, 1)
    with pytest.raises(kv.ShapeError, match=r"trace: needs a square matrix, got shape \(n, m\)"):
        kv.trace(X)
    with pytest.raises(kv.ShapeError, match=r"positions 3 to 3 of an axis of size n = 2: past its end"):
        kv.evaluate(kv.sum(X[3, :]), X=np.ones((2, 2)))
    assert kv.evaluate(kv.sum(X[3, :]), X=np.ones((4, 2))) == 2.0
    assert str(kv.jacobian(X[1:, :], X)) == "H ↦ H[1:, :]" and str(X[-1, :]) == "X[n-1, :]"
    assert str(kv.grad(kv.sum(X[1:, :]), X)) == "place₍ₙ,ₘ₎(𝟙, [1:, :])"
    python = "place(ones(n-1, m), (n, m), (slice(1, n, 1), slice(0, m, 1)))"
    assert to_python(kv.grad(kv.sum(X[1:, :]), X)) == python
    assert str(kv.jacobian(kv.hstack([X, kv.Matrix("Y", ("n", "k"))]), X)) == "H ↦ place₍ₙ,ₘ₊ₖ₎(H, [:, :m])"


def test_assembly_of_inferred_sizes_unifies_them() -> None:
    X, Y, V = kv.Matrix("X"), kv.Matrix("Y"), kv.Matrix("V", ("n", "n"))
    H = kv.hstack([X, Y])
    assert find(H.shape[0]) == find(X.shape[0]) == find(Y.shape[0])
    f = kv.sum(H @ H.T @ V)
    J = kv.jacobian(f, "X")
    rng = np.random.default_rng(3)
    for n, m, k in ((3, 2, 1), (4, 1, 3)):
        values = {"X": rng.standard_normal((n, m)), "Y": rng.standard_normal((n, k)),
                  "V": rng.standard_normal((n, n))}
        Xs, Ys, Vs = (kv.Matrix(name, values[name].shape) for name in "XYV")
        fs = kv.sum(kv.hstack([Xs, Ys]) @ kv.hstack([Xs, Ys]).T @ Vs)
        sized = kv.jacobian(fs, Xs).at(values).to_dense()
        np.testing.assert_allclose(J.at(values).to_dense(), sized, atol=1e-12)
    A, B, C, D = (kv.Matrix(name) for name in "ABCD")
    G = kv.block([[A, B], [C, D]])
    a, b, c, d = (tuple(find(s) for s in M.shape) for M in (A, B, C, D))
    assert (a[0], a[1], d) == (b[0], c[1], (c[0], b[1]))
    assert tuple(find(s) for s in G.shape) == (find(a[0] + c[0]), find(a[1] + b[1]))
    P, Q = kv.Matrix("P"), kv.Matrix("Q")
    assert find(kv.vstack([P, Q]).shape[1]) == find(P.shape[1]) == find(Q.shape[1])
    Z = kv.Matrix("Z", ("n", "m"))
    with pytest.raises(kv.ShapeError, match="different numbers of rows"):
        kv.hstack([Z, kv.Matrix("W", ("k", "m"))])  # two names never unify


@given(st.tuples(st.integers(0, 12), st.integers(0, 14), st.sampled_from([1, 2, 3, -1, -2, 4])),
       st.tuples(st.integers(0, 12), st.integers(0, 14), st.sampled_from([1, 2, 3, -1, -3])))
def test_positions_of_ranges_without_listing_them(a_bounds: tuple, b_bounds: tuple) -> None:
    """positions_in and within (used where sizes are names) agree with listing the entries."""
    a, b = range(*a_bounds), range(*b_bounds)
    assert [a[i] for i in positions_in(a, b)] == [x for x in a if x in b]
    inside = within(a, b)
    if len(a) and all(x in b for x in a):
        assert inside is not None and [b[i] for i in inside] == list(a)
    else:
        assert inside is None
