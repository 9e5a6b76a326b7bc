"""Indexing (``X[i, j]``, ``X[:, j]``, ``X[i, :]``, slices, ``x[i]``) and assembly
(``kv.block``, ``kv.hstack``, ``kv.vstack``): values against NumPy, derivatives
against finite differences (first and second order), the selection and
placement maps (adjoint dot-test, closed-form dense), printing, the parser,
and errors.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.maps import IndexMap, ZeroMap, place_map, select_map
from kronvec.parse import ParseError, analyze, parse_expression
from kronvec.printing import to_python
from kronvec.testing import check_jacobian, dottest, fd_jacobian, random_values


# ------------------------------------------------------------ random keys
@st.composite
def slices(draw, size):
    start = draw(st.one_of(st.none(), st.integers(-size, size - 1)))
    stop = draw(st.one_of(st.none(), st.integers(-size, size)))
    step = draw(st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2])))
    s = slice(start, stop, step)
    if not len(range(size)[s]):
        s = slice(None, None, step)  # never empty
    return s


@st.composite
def matrix_and_key(draw):
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    index = lambda size: st.one_of(st.integers(-size, size - 1), slices(size))
    kind = draw(st.sampled_from(["pair", "pair", "pair", "one"]))
    if kind == "pair":
        key = (draw(index(n)), draw(index(m)))
    elif m == 1:
        key = draw(index(n))
    else:
        key = draw(slices(n))
    return (n, m), key


def expected_shape(value: np.ndarray, key, shape) -> tuple:
    """The kronvec shape: NumPy's, with 1-D results as columns or rows."""
    parts = key if isinstance(key, tuple) else (key,)
    if value.ndim == 0 or value.ndim == 1 and len(parts) == 1 and shape[1] == 1 and \
            not isinstance(parts[0], slice):
        return ()
    if value.ndim == 1:
        return (1, value.size) if not isinstance(parts[0], slice) else (value.size, 1)
    return value.shape


@settings(max_examples=60, deadline=None)
@given(case=matrix_and_key(), seed=st.integers(0, 2 ** 16))
def test_values_follow_numpy(case, seed):
    shape, key = case
    X0 = np.random.default_rng(seed).standard_normal(shape)
    X = kv.Matrix("X", shape)
    e = X[key]
    ref = np.asarray(X0[key])
    assert e.shape == expected_shape(ref, key, shape)
    np.testing.assert_array_equal(kv.evaluate(e, X=X0), ref.reshape(e.shape))


@settings(max_examples=25, deadline=None)
@given(case=matrix_and_key(), seed=st.integers(0, 2 ** 16))
def test_derivatives_match_finite_differences(case, seed):
    shape, key = case
    X = kv.Matrix("X", shape)
    rng = np.random.default_rng(seed)
    values = random_values(X, rng)
    L = check_jacobian(X[key], X, values)
    assert isinstance(L, IndexMap) or X[key] is X
    f = kv.sum(X[key] ** 3) + kv.sum(X[key]) * X[0, 0]
    H = kv.hessian(f, X).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, X), X, values), rtol=1e-5, atol=1e-5)
    dottest(H, rng)


@settings(max_examples=40, deadline=None)
@given(case=matrix_and_key())
def test_python_printing_parses_back_to_the_same_node(case):
    shape, key = case
    X = kv.Matrix("X", shape)
    e = X[key]
    assert parse_expression(to_python(e), {"X": shape}, kv) is e


def test_printed_forms():
    X, x = kv.Matrix("X", (4, 3)), kv.Vector("x", 5)
    assert str(X[1:3, 0]) == "X[1:3, 0]" and to_python(X[1:3, 0]) == "X[1:3, 0]"
    assert str(X[:, 1]) == "X[:, 1]" and str(X[1, :]) == "X[1, :]" and str(X[-1, -1]) == "X[3, 2]"
    assert str(X[::-1, 1:]) == "X[::-1, 1:]" and str(X[0:1, 0:1]) == "X[:1, :1]"
    assert str(x[2]) == "x[2]" and str(x[1:3]) == "x[1:3]" and str(x[2:3]) == "x[2:3]"
    assert X[1:3, 0].latex() == r"X_{1{:}3,\,0}"
    assert X.T[0, 1:].latex() == r"{X^{\top}}_{0,\,1{:}}"
    assert str(kv.inv(X[:3, :])) == "X[:3, :]⁻¹"
    assert repr(X[0, 0]) == "<kronvec expression X[0, 0] of shape ()>"
    assert str(kv.jacobian(X[1:3, 0], X)) == "H ↦ H[1:3, 0]"
    assert kv.jacobian(X[1:3, 0], X).differential() == "d(X[1:3, 0]) = dX[1:3, 0]"
    assert str(kv.grad(X[1, 2], X)) == "place₍₄,₃₎(1, [1, 2])"
    assert str(kv.grad(kv.sum(X[1:3, 0] * X[1:3, 0]), X)) == "2place₍₄,₃₎(X[1:3, 0], [1:3, 0])"
    assert kv.grad(X[1, 2], X).latex() == r"\operatorname{place}_{(4,3)}\left(1, [1,\,2]\right)"


def test_canonical_forms():
    X = kv.Matrix("X", (4, 3))
    assert X[:, :] is X and X[:] is X
    assert X[1:][:, 0] is X[1:, 0] and X[::2][1, :] is X[2, :]
    assert X[-1, :] is X[3, :] and X[0:4:10, :] is X[0, :] and X[0:4:10, 1].shape == (1, 1)
    assert X[1:3, 0].T is X.T[0, 1:3]
    assert (2 * X)[0, 0] is 2 * X[0, 0]
    assert kv.zeros(4, 3)[1:, 0].op == "zeros" and kv.eye(3)[0:2, 0:2] is kv.eye(2)
    A, B = kv.Matrix("A", (2, 3)), kv.Matrix("B", (2, 2))
    M = kv.block([[A, B], [X[:1, :], X[:1, :2]]])
    assert M[:2, :3] is A and M[0:2, 3:] is B and M[1, 4] is B[1, 1] and M[2, :3] is X[0, :]
    np.testing.assert_array_equal(kv.evaluate(kv.Constant(np.arange(6.0).reshape(2, 3))[1, :]),
                                  [[3.0, 4.0, 5.0]])


def test_index_of_a_placement_reads_it_back():
    X = kv.Matrix("X", (4, 3))
    g = kv.grad(kv.sum(X[1:3, 0] ** 3), X)
    assert g.op == "scale" and g.args[0].op == "place"
    assert g[1:3, 0] is 3 * X[1:3, 0] ** 2 and g[0, :].op == "zeros"


def test_errors():
    X, x = kv.Matrix("X", (4, 3)), kv.Vector("x", 4)
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
        X[4, 0]
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 3"):
        X[0, -4]
    with pytest.raises(IndexError, match="too many indices.*\\(4, 3\\)"):
        X[0, 0, 0]
    with pytest.raises(IndexError, match=r"write X\[i, :\] for a row"):
        X[1]
    for fancy in ([0, 1], np.array([0, 1]), True, (Ellipsis, 0), 1.5):
        with pytest.raises(IndexError, match="basic indexing"):
            X[fancy]
    assert X[None].shape == (1, 4, 3)  # a new axis, as NumPy (API v1.3; it used to be refused)
    assert X[0, None].shape == (1, 3)  # new axes with an integer: NumPy's row, kronvec's X[0, :]
    with pytest.raises(kv.ShapeError, match=r"\(0, 3\) from \(4, 3\) is empty"):
        X[2:1]
    with pytest.raises(ValueError, match="step cannot be zero"):
        X[::0, 0]
    with pytest.raises(IndexError, match="scalar"):
        x[0][0]
    with pytest.raises(TypeError, match="not iterable"):
        list(x)
    np.testing.assert_array_equal(kv.evaluate(x[np.int64(2)], x=np.arange(4.0)), 2.0)


# --------------------------------------------------------------- assembly
@st.composite
def grids(draw):
    heights = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    width = draw(st.integers(1, 5))
    rows = []
    for h in heights:
        cuts = sorted(draw(st.sets(st.integers(1, width - 1), max_size=2))) if width > 1 else []
        edges = [0] + cuts + [width]
        rows.append([(h, b - a) for a, b in zip(edges, edges[1:])])
    return rows


@settings(max_examples=30, deadline=None)
@given(shapes=grids(), seed=st.integers(0, 2 ** 16))
def test_block_values_derivatives_and_adjoints(shapes, seed):
    rng = np.random.default_rng(seed)
    blocks = [[kv.Matrix(f"A{i}{j}", s) for j, s in enumerate(row)] for i, row in enumerate(shapes)]
    values = {b.params.name: rng.standard_normal(b.shape) for row in blocks for b in row}
    M = kv.block(blocks)
    ref = np.block([[values[b.params.name] for b in row] for row in blocks])
    np.testing.assert_array_equal(kv.evaluate(M, values), ref)
    for b in (blocks[0][0], blocks[-1][-1]):
        check_jacobian(M, b, values)
    np.testing.assert_array_equal(kv.evaluate(M.T, values), ref.T)  # grids or not


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_hstack_and_vstack_follow_numpy(n, m, k, seed):
    rng = np.random.default_rng(seed)
    A, B, C = kv.Matrix("A", (n, m)), kv.Matrix("B", (n, k)), kv.Matrix("C", (k, m))
    values = {"A": rng.standard_normal((n, m)), "B": rng.standard_normal((n, k)),
              "C": rng.standard_normal((k, m))}
    np.testing.assert_array_equal(kv.evaluate(kv.hstack((A, B)), values),
                                  np.hstack([values["A"], values["B"]]))
    np.testing.assert_array_equal(kv.evaluate(kv.vstack([A, C, A]), values),
                                  np.vstack([values["A"], values["C"], values["A"]]))
    f = kv.sum(kv.hstack([A, B]) ** 3) + kv.sum(kv.vstack([A, C]) * kv.vstack([C, A]))
    for wrt in (A, B, C):
        H = kv.hessian(f, wrt).at(values)
        np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, wrt), wrt, values),
                                   rtol=1e-5, atol=1e-5)


def test_scalars_are_one_by_one_blocks():
    s, t = kv.Scalar("s"), kv.Scalar("t")
    v, r = kv.vstack([s, t, 2.0]), kv.hstack([s, t])
    assert v.shape == (3, 1) and r.shape == (1, 2)
    np.testing.assert_array_equal(kv.evaluate(v, s=1.0, t=3.0), [[1.0], [3.0], [2.0]])
    check_jacobian(kv.vstack([s * t, t]), t, {"s": 2.0, "t": 3.0})
    assert kv.block([[s]]).shape == (1, 1) and kv.hstack([kv.Matrix("X", (2, 2))]) is kv.Matrix("X", (2, 2))


def test_block_printing_and_transpose():
    A, B, C, D = (kv.Matrix(n, (2, 2)) for n in "ABCD")
    M = kv.block([[A, B], [C, D]])
    assert str(M) == "[A, B; C, D]" and to_python(M) == "block([[A, B], [C, D]])"
    assert M.latex() == r"\begin{bmatrix} A & B \\ C & D \end{bmatrix}"
    assert M.T is kv.block([[A.T, C.T], [B.T, D.T]])
    assert str(kv.vstack([A, B])) == "[A; B]" and str(kv.hstack([A, B])) == "[A, B]"
    irregular = kv.block([[kv.Matrix("E", (1, 3)), kv.Matrix("F", (1, 1))], [kv.Matrix("G", (2, 4))]])
    assert irregular.T.op == "matrix_transpose"
    assert str(kv.jacobian(M, B)) == "H ↦ place₍₄,₄₎(H, [:2, 2:])"
    assert str(kv.grad(kv.sum(M), D)) == "𝟙"


def test_assembly_errors_name_the_op_and_shapes():
    A, B = kv.Matrix("A", (2, 3)), kv.Matrix("B", (3, 1))
    shapes = r"shapes \(2, 3\), \(3, 1\) have different numbers of"
    with pytest.raises(kv.ShapeError, match=r"hstack: " + shapes + " rows"):
        kv.hstack([A, B])
    with pytest.raises(kv.ShapeError, match=r"vstack: " + shapes + " columns"):
        kv.vstack([A, B])
    with pytest.raises(kv.ShapeError, match=r"block: the blocks \(2, 3\), \(3, 1\) of row 0"):
        kv.block([[A, B]])
    with pytest.raises(kv.ShapeError, match=r"block: rows of blocks have different widths: 3 .* and 1"):
        kv.block([[A], [B]])
    with pytest.raises(TypeError, match="tuple"):
        kv.block(([A], [A]))
    with pytest.raises(ValueError, match="depths are mismatched"):
        kv.block([[A], A])
    with pytest.raises(ValueError, match="at least one"):
        kv.vstack([])
    with pytest.raises(TypeError, match="list of matrices"):
        kv.hstack(A)


# ------------------------------------------------------------------ maps
def test_selection_dense_is_closed_form_with_one_one_per_row(monkeypatch):
    L = select_map(range(3, 0, -1), range(0, 5, 2), (4, 5), (3, 3))
    P, Q = L.matrices()
    monkeypatch.setattr(IndexMap, "_apply", lambda self, h: pytest.fail("to_dense pushed basis vectors"))
    dense = L.to_dense()
    np.testing.assert_array_equal(dense, np.kron(Q, P))
    np.testing.assert_array_equal(dense.sum(axis=1), np.ones(9))
    np.testing.assert_array_equal(L.T.to_dense(), dense.T)


def test_index_maps_compose_into_one_or_zero():
    place = place_map(range(1, 3), range(0, 2), (2, 2), (4, 3))
    inner = select_map(range(2, 4), range(0, 3), (4, 3), (2, 3))
    both = inner @ place
    assert isinstance(both, IndexMap)
    h = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(both.jvp(h), inner.jvp(place.jvp(h)))
    assert isinstance(select_map(range(3, 4), range(2, 3), (4, 3), ()) @ place, ZeroMap)
    assert (place.T @ place).is_identity()
    dottest(both)


def test_parser_reads_indices_and_blocks():
    shapes = analyze("block([[A, B], [C, D]])[1:, 0]", {"A": (2, 2), "B": (2, 3), "C": (1, 2)}).shapes
    assert shapes == {"A": (2, 2), "B": (2, 3), "C": (1, 2), "D": (1, 3)}
    assert analyze("hstack([X, Y]) @ Z", {"X": (3, 2), "Z": (5, 1)}).shapes["Y"] == (3, 3)
    assert analyze("X[1:, 0] + y", {"X": (4, 3)}).shapes["y"] == (3, 1)
    e = parse_expression("vstack([X[0, :], X[-1, ::-1]])", {"X": (2, 3)}, kv)
    X = kv.Matrix("X", (2, 3))
    assert e is kv.vstack([X[0, :], X[-1, ::-1]])
    for text, message in [("X[i, 0]", "this index is not allowed"), ("X[0.5]", "not allowed"),
                          ("X[[0, 1]]", "not allowed"), ("X[..., 0]", "not allowed"),
                          ("X[0, 0, 0]", "one or two indices"), ("X[5, 0]", "out of bounds"),
                          ("X[::0]", "step cannot be zero"), ("hstack(X)", "list of matrices"),
                          ("block([X, [X]])", "depths are mismatched"), ("X[0]", "single index"),
                          ("hstack([X, X.T])", "shape mismatch"), ("2[0]", "cannot be indexed")]:
        with pytest.raises(ParseError, match=message):
            analyze(text, {"X": (3, 2)})
