"""One rule for shapes (API.md v1.3): NumPy's shapes and values, vectors as (n, 1) columns.

Each check builds an expression and its NumPy twin and asserts that

* the expression reports NumPy's shape and ``kv.evaluate`` returns exactly that shape and
  NumPy's numbers, and every intermediate node evaluates to its own reported shape;
* the Jacobian in every symbol matches central finite differences and passes the adjoint
  dot-test, and for a scalar the gradient has exactly the symbol's shape and the Hessian is
  the Jacobian of the gradient (finite differences of the gradient), symmetric.

The shape classes: 1×1, 1×n, n×1, stacks (one and two stack axes), stacks of 1×1 members,
per-member scalars ``(b,)``, 1-D and 0-D ``kv.Array`` symbols, and NumPy constants of every
rank from 0 to 3.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.testing import check_jacobian, dottest, fd_jacobian

RNG = np.random.default_rng


def _values(expr: kv.Expr, seed: int = 0, positive: bool = False) -> dict[str, np.ndarray]:
    """Random values: square members well conditioned, everything in [0.5, 2] if ``positive``."""
    rng = RNG(seed)
    out = {}
    for name, sym in sorted(expr.symbols().items()):
        if positive:
            v = rng.uniform(0.5, 2.0, sym.shape)
        else:
            v = rng.standard_normal(sym.shape)
        if len(sym.shape) >= 2 and sym.shape[-1] == sym.shape[-2]:
            v = v + 2.0 * sym.shape[-1] * np.eye(sym.shape[-1])
        out[name] = np.asarray(v, dtype=float)
    return out


def _nodes_keep_their_shapes(f: kv.Expr, values: dict[str, np.ndarray]) -> None:
    for node in f.walk():
        assert np.shape(kv.evaluate(node, values)) == node.shape, (repr(node), node.shape)


def check(f: kv.Expr, twin: Callable[..., Any] | None, values: dict[str, np.ndarray],
          second: bool = True) -> None:
    """The assertions of the module docstring for ``f`` at ``values``."""
    value = kv.evaluate(f, values)
    if twin is not None:
        wanted = inspect.signature(twin).parameters
        if any(p.kind is p.VAR_KEYWORD for p in wanted.values()):
            wanted = values
        expected = np.asarray(twin(**{k: v for k, v in values.items() if k in wanted}), dtype=float)
        assert f.shape == expected.shape, (f.shape, expected.shape)
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)
    assert np.shape(value) == f.shape
    _nodes_keep_their_shapes(f, values)
    for _, sym in sorted(f.symbols().items()):
        check_jacobian(f, sym, values, rtol=1e-5, atol=1e-6)
        if f.shape not in ((), (1, 1)):
            continue
        g = kv.grad(f, sym)
        assert g.shape == sym.shape
        gv = kv.evaluate(g, values)
        assert np.shape(gv) == sym.shape, (np.shape(gv), sym.shape)
        np.testing.assert_allclose(gv.reshape(-1, order="F"), fd_jacobian(f, sym, values).reshape(-1),
                                   rtol=1e-5, atol=1e-6 * max(1.0, np.abs(gv).max()))
        if second:
            H = kv.hessian(f, sym).at(values)
            assert H.in_shape == sym.shape and H.out_shape == sym.shape
            dense = H.to_dense()
            np.testing.assert_allclose(dense, dense.T, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(dense).max()))
            np.testing.assert_allclose(dense, fd_jacobian(g, sym, values), rtol=1e-4,
                                       atol=1e-5 * max(1.0, np.abs(dense).max()))
            dottest(H)


# ----------------------------------------------------- finding 2: stack axes are never dropped
def test_cancelled_terms_keep_the_stack_axes():
    X = kv.Matrix("X", (2, 3, 3))
    C = np.arange(9.0).reshape(3, 3)
    values = _values(X)
    e = X - X + C
    assert e.shape == (2, 3, 3)
    assert kv.evaluate(kv.sum(X - X + np.ones((3, 3))), values) == 18.0
    assert float(kv.evaluate(kv.sum(X - X + C), values)) == float(np.sum(values["X"] - values["X"] + C))
    check(kv.sum(X - X + C), lambda X: np.sum(X - X + C), values)
    D = kv.Matrix("D", (3, 3))  # a nested sum whose stack term cancels later
    values["D"] = RNG(2).standard_normal((3, 3))
    assert ((X + C + D) - X).shape == (2, 3, 3)
    check(kv.sum(((X + C + D) - X) ** 2), lambda X, D: np.sum(((X + C + D) - X) ** 2), values)


def test_zeros_and_scalars_against_stacks_keep_the_stack_axes():
    assert (kv.zeros(2, 3, 3) + np.eye(3)).shape == (2, 3, 3)
    np.testing.assert_array_equal(kv.evaluate(kv.zeros(2, 3, 3) + np.eye(3)),
                                  np.zeros((2, 3, 3)) + np.eye(3))
    X, s = kv.Matrix("X", (2, 3, 3)), kv.Scalar("s")
    values = {"X": RNG(1).standard_normal((2, 3, 3)), "s": np.asarray(0.7)}
    assert (X - X + s).shape == (2, 3, 3)
    check(kv.sum((X - X + s) * X), lambda X, s: np.sum((X - X + s) * X), values)
    # two stack axes, and a cancelled stack against a 1×n row
    Y = kv.Matrix("Y", (2, 2, 1, 3))
    r = kv.Matrix("r", (1, 3))
    vals = _values(Y + r, seed=2)
    check(kv.sum((Y - Y + r) ** 2), lambda Y, r: np.sum((Y - Y + r) ** 2), vals)


def test_zeros_and_ones_of_any_shape():
    for shape in [(3,), (2, 3, 3), (1, 1, 1)]:
        assert kv.zeros(shape).shape == shape and kv.ones(shape).shape == shape
        np.testing.assert_array_equal(kv.evaluate(kv.ones(shape)), np.ones(shape))


# ---------------------------------------- finding 3: 1-D constants next to per-member results
def test_one_dimensional_constant_next_to_per_member_results():
    B = kv.Matrix("B", (4, 3, 3))
    w = np.array([0.5, -1.0, 2.0, 0.25])
    values = _values(B)
    e = w * kv.logdet(B)
    assert e.shape == (4,)
    total = kv.evaluate(kv.sum(w * kv.logdet(B)), values)
    assert total == pytest.approx(np.sum(w * np.linalg.slogdet(values["B"])[1]), rel=1e-12)
    check(kv.sum(w * kv.logdet(B)), lambda B: np.sum(w * np.linalg.slogdet(B)[1]), values)
    check(kv.logdet(B) + w, lambda B: np.linalg.slogdet(B)[1] + w, values)
    check(kv.sum(kv.det(B) / w - w), lambda B: np.sum(np.linalg.det(B) / w - w), values)
    check(kv.sum(w - kv.det(B)), lambda B: np.sum(w - np.linalg.det(B)), values)


def test_one_dimensional_constant_next_to_a_matrix_is_a_column():
    X = kv.Matrix("X", (3, 2))
    w = np.array([1.0, 2.0, 3.0])
    assert (X + w).shape == (3, 2)  # the v1 convention: w is (3, 1)
    values = _values(X)
    check(kv.sum((X * w) ** 2), lambda X: np.sum((X * w[:, None]) ** 2), values)


@pytest.mark.parametrize("rank", [0, 1, 2, 3])
def test_constants_of_every_rank_broadcast_as_numpy_against_stacks(rank):
    X = kv.Matrix("X", (2, 3, 3))
    c = RNG(rank).uniform(0.5, 2.0, (2, 3, 3)[3 - rank:])
    c = np.asarray(c) if rank else np.asarray(1.5)
    values = _values(X)
    check(kv.sum(X * c + c), lambda X: np.sum(X * c + c), values)
    check(kv.sum((c - X) ** 2), lambda X: np.sum((c - X) ** 2), values)


def test_zero_dimensional_array_constant():
    X = kv.Matrix("X", (2, 2))
    c = np.asarray(2.5)
    values = _values(X)
    check(kv.sum(c * X + c), lambda X: np.sum(c * X + c), values)


# -------------------------------------------------------------------- finding 4: 1×1 shapes
def test_one_by_one_results_evaluate_to_their_shape():
    x = kv.Matrix("x", (1, 1))
    g = kv.grad(kv.det(x), x)
    assert g.shape == (1, 1)
    assert kv.evaluate(g, x=np.array([[2.0]])).shape == (1, 1)
    Z = kv.Matrix("Z", (3, 3))
    e = kv.sum((x.T @ x) * Z)
    values = {"x": np.array([[1.5]]), "Z": RNG(3).standard_normal((3, 3))}
    assert e.shape == () == kv.evaluate(e, values).shape  # NumPy: the sum of a (3, 3) array
    check(e, lambda x, Z: np.sum((x.T @ x) * Z), values)
    check(x.T @ x * kv.sum(Z), lambda x, Z: (x.T @ x) * np.sum(Z), values)


@pytest.mark.parametrize("build", [
    lambda Y, W: kv.sum(kv.det(Y) ** 2),
    lambda Y, W: kv.sum(kv.tanh(kv.det(Y))),
    lambda Y, W: kv.sum(kv.logdet(Y @ W)) + kv.sum(kv.det(Y) * kv.det(W)),
    lambda Y, W: kv.sum(kv.exp(kv.trace(Y)) * W),
    lambda Y, W: kv.sum(kv.inv(Y) @ W.mT),
    lambda Y, W: kv.sum(kv.det(Y) * W),  # NumPy: (3,) against (3, 1, 1) is (3, 1, 3)
    lambda Y, W: kv.sum(kv.trace(Y, axis1=-2, axis2=-1) ** 2 * kv.det(W)),
    lambda Y, W: kv.sum(kv.inv(Y) * kv.det(W)) + kv.sum(np.array([1.0, 2.0, 3.0]) * Y),
], ids=["det2", "tanh-det", "logdet-YW", "exp-trace", "inv", "det-times-stack", "trace-members",
        "inv-det-1d"])
def test_stacks_of_one_by_one_members(build):
    Y, W = kv.Matrix("Y", (3, 1, 1)), kv.Matrix("W", (3, 1, 1))
    f = build(Y, W)
    values = {"Y": RNG(4).uniform(0.5, 2.0, (3, 1, 1)), "W": RNG(5).uniform(0.5, 2.0, (3, 1, 1))}
    check(f, None, values)
    H = kv.hessian(f, [Y, W]).at(values).to_dense()
    assert H.shape == (6, 6)
    np.testing.assert_allclose(H, H.T, atol=1e-10 * max(1.0, np.abs(H).max()))


# ---------------------------------------- finding 10: elementwise functions of per-member scalars
ELEMENTWISE = {
    "exp": (kv.exp, np.exp), "log": (kv.log, np.log), "tanh": (kv.tanh, np.tanh),
    "sigmoid": (kv.sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "softplus": (kv.softplus, lambda v: np.logaddexp(0, v)), "abs": (kv.abs, np.abs),
    "relu": (kv.relu, lambda v: np.maximum(v, 0)), "sqrt": (kv.sqrt, np.sqrt),
    "square": (kv.square, np.square), "sin": (kv.sin, np.sin), "cos": (kv.cos, np.cos),
    "log1p": (kv.log1p, np.log1p), "expm1": (kv.expm1, np.expm1),
    "power": (lambda v: v ** 3, lambda v: v ** 3), "recip": (lambda v: 1.0 / v, lambda v: 1 / v),
    "maximum": (lambda v: kv.maximum(v, 1.2), lambda v: np.maximum(v, 1.2)),
    "minimum": (lambda v: kv.minimum(v, 1.2), lambda v: np.minimum(v, 1.2)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_functions_of_per_member_scalars(name):
    fn, twin = ELEMENTWISE[name]
    X = kv.Matrix("X", (2, 3, 3))
    values = _values(X, positive=True)
    values["X"] = values["X"] * 0.2 + np.eye(3) * np.array([0.35, 0.5])[:, None, None]  # det away from kinks
    f = kv.sum(fn(kv.det(X)))
    check(f, lambda X: np.sum(twin(np.linalg.det(X))), values)
    # combined with other per-member results and a 1-D constant by NumPy broadcasting
    w = np.array([0.7, -1.3])
    check(kv.sum(fn(kv.det(X)) * kv.logdet(X) + w * fn(kv.det(X))),
          lambda X: np.sum(twin(np.linalg.det(X)) * np.linalg.slogdet(X)[1]
                           + w * twin(np.linalg.det(X))), values)


def test_issue_example_tanh_of_det_of_a_stack():
    X = kv.Matrix("X", (2, 3, 3))
    values = _values(X)
    values["X"] = values["X"] / 6.0
    check(kv.sum(kv.tanh(kv.det(X))), lambda X: np.sum(np.tanh(np.linalg.det(X))), values)


# -------------------------------------------- finding 11: 1×1 and 1×n intermediates stay matrices
def _one_by_one(kind: str) -> tuple[kv.Expr, kv.Expr]:
    x, a, A, r = (kv.Matrix("x", (1, 1)), kv.Vector("a", 3), kv.Matrix("A", (3, 3)),
                  kv.Matrix("r", (1, 3)))
    return {"trace-times-I1": (kv.trace(A) * kv.eye(1) / 9.0, A),
            "sum-cancelled": (kv.sum(x) + x - x, x),
            "det-times": (kv.det(x) * x, x),
            "quadratic": (a.T @ a / 3.0, a),
            "row": (r @ A @ r.T / 20.0, r)}[kind]


MATRIX_FUNCTIONS = {
    "expm": (lambda m: kv.expm(m), lambda v: np.exp(v)),
    "logm": (lambda m: kv.logm(m @ m + kv.eye(1)), lambda v: np.log(v * v + 1)),
    "sqrtm": (lambda m: kv.sqrtm(m @ m + kv.eye(1)), lambda v: np.sqrt(v * v + 1)),
    "eigh": (lambda m: kv.eigh(m)[0], lambda v: v),
    "eigvec": (lambda m: kv.eigh(m)[1] * m, lambda v: v),
    "svd": (lambda m: kv.svd(m @ m + kv.eye(1))[1], lambda v: v * v + 1),
    "kron": (lambda m: kv.kron(m, kv.eye(2) * 2.0), lambda v: 4 * v),
    "inv": (lambda m: kv.inv(m + kv.eye(1)), lambda v: 1 / (v + 1)),
    "cholesky": (lambda m: kv.cholesky(m @ m + kv.eye(1)), lambda v: np.sqrt(v * v + 1)),
}


@pytest.mark.parametrize("kind", ["trace-times-I1", "sum-cancelled", "det-times", "quadratic", "row"])
@pytest.mark.parametrize("name", sorted(MATRIX_FUNCTIONS))
def test_matrix_functions_of_one_by_one_intermediates(kind, name):
    m, _ = _one_by_one(kind)
    fn, scalar_twin = MATRIX_FUNCTIONS[name]
    inner = fn(m)
    f = kv.sum(inner)
    values = _values(f, seed=7, positive=True)
    m_value = kv.evaluate(m, values)
    assert np.shape(m_value) == (1, 1) == m.shape
    expected = np.sum(scalar_twin(float(m_value[0, 0])))
    assert f.shape == ()
    assert float(kv.evaluate(f, values)) == pytest.approx(expected, rel=1e-10)
    check(f, None, values)


# ------------------------------------------------------------------------------ kv.Array
def test_array_symbols_of_one_and_zero_dimensions():
    w, s = kv.Array("w", (4,)), kv.Array("s", ())
    assert w.shape == (4,) and s.shape == () and s is kv.Scalar("s")
    assert kv.Array("M", (2, 3)) is kv.Matrix("M", (2, 3))
    B = kv.Matrix("B", (4, 3, 3))
    values = {**_values(B), "w": RNG(8).uniform(0.5, 2.0, 4), "s": np.asarray(1.3)}
    check(kv.sum(w * kv.logdet(B)), lambda w, B: np.sum(w * np.linalg.slogdet(B)[1]), values)
    check(kv.sum(kv.exp(w) * s + w ** 2), lambda w, s: np.sum(np.exp(w) * s + w ** 2), values)
    check(kv.mean(kv.log(w) - s), lambda w, s: np.mean(np.log(w) - s), values)
    check(kv.tanh(w) + np.arange(4.0), lambda w: np.tanh(w) + np.arange(4.0), values)
    check(kv.sum(kv.sigmoid(s * w)), lambda w, s: np.sum(1 / (1 + np.exp(-s * w))), values)


def test_one_dimensional_array_broadcasts_against_a_stack_as_numpy():
    w = kv.Array("w", (3,))
    X = kv.Matrix("X", (2, 3, 3))
    values = {**_values(X), "w": RNG(9).uniform(0.5, 2.0, 3)}
    assert (w * X).shape == (2, 3, 3)
    check(kv.sum((w * X) ** 2), lambda w, X: np.sum((w * X) ** 2), values)


@pytest.mark.parametrize("op, build", [
    ("matmul", lambda w: w @ w), ("inv", kv.inv), ("det", kv.det), ("trace", kv.trace),
    ("expm", kv.expm),
])
def test_matrix_ops_on_arrays_of_fewer_than_two_dimensions_raise(op, build):
    for arr in (kv.Array("w", (3,)), kv.Array("s", ())):
        with pytest.raises(kv.ShapeError) as info:
            build(arr)
        text = str(info.value)
        assert op in text and str(arr.shape) in text, text


@pytest.mark.parametrize("base, exponent", [((3, 4), (3, 1)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 4)),
                                            ((3, 4), (2, 3, 4)), ((1, 1), (3,)), ((3, 4), (4,))])
def test_powers_broadcast_as_numpy(base, exponent):
    B, E = kv.Array("B", base), kv.Array("E", exponent)
    values = {"B": RNG(12).uniform(0.5, 1.5, base), "E": RNG(13).uniform(0.5, 1.5, exponent)}
    check(B ** E, lambda B, E: B ** E, values)
    check(kv.sum(E ** B), lambda B, E: np.sum(E ** B), values)


def test_array_refuses_bad_shapes():
    with pytest.raises(kv.ShapeError):
        kv.Array("w", (0,))
    with pytest.raises(kv.ShapeError):
        kv.Array("w", (2.5,))


# ---------------------------------------------------------------- random shapes (hypothesis)
_shapes = st.sampled_from([(), (1, 1), (1, 3), (3, 1), (2, 3), (2,), (3,), (2, 1, 1), (2, 3, 3),
                           (2, 1, 3, 3)])


@settings(max_examples=40, deadline=None)
@given(x_shape=_shapes, c_shape=_shapes, fn=st.sampled_from(["exp", "tanh", "square", "sigmoid"]),
       cancel=st.booleans())
def test_random_shapes_follow_numpy(x_shape, c_shape, fn, cancel):
    """Elementwise arithmetic of a symbol with a constant of a random shape: NumPy's shape (with
    a 1-D constant next to a matrix symbol as a column), NumPy's numbers, derivatives by FD."""
    try:
        shape = np.broadcast_shapes(x_shape, c_shape)
    except ValueError:
        shape = None
    column = len(c_shape) == 1 and len(x_shape) in (0, 2)
    c_as = (c_shape[0], 1) if column else c_shape
    try:
        np_shape = np.broadcast_shapes(x_shape, c_as)
    except ValueError:
        np_shape = None
    X = kv.Array("X", x_shape)
    c = RNG(len(c_shape)).uniform(0.5, 1.5, c_shape)
    c = np.asarray(c)
    k_fn, np_fn = ELEMENTWISE[fn]
    if np_shape is None:
        with pytest.raises(kv.ShapeError):
            X * c + X
        return
    assert shape is not None or column
    body = (X - X + c) if cancel else (X * c + c)
    e = k_fn(body)
    c_np = c.reshape(c_as)
    twin = (lambda X: np_fn(X - X + c_np)) if cancel else (lambda X: np_fn(X * c_np + c_np))
    values = {"X": RNG(11).uniform(0.5, 1.5, x_shape)}
    if not cancel:
        check(e, twin, values, second=False)
        check(kv.sum(e), lambda X: np.sum(twin(X)), values, second=True)
    else:
        assert e.shape == np_shape
        np.testing.assert_allclose(kv.evaluate(kv.sum(e * 1.0), values), np.sum(twin(**values)))


_LEAF_SHAPES = [(), (1, 1), (1, 3), (3, 1), (3, 3), (3,), (2,), (2, 1, 1), (2, 3, 3), (2, 2, 3, 3)]
_UNARY = {"exp": (kv.exp, np.exp), "tanh": (kv.tanh, np.tanh), "sq": (kv.square, np.square),
          "sigmoid": (kv.sigmoid, lambda v: 1 / (1 + np.exp(-v))),
          "softplus": (kv.softplus, lambda v: np.logaddexp(0, v)),
          "cube": (lambda v: v ** 3, lambda v: v ** 3)}


def _binary(op: str, a: Any, b: Any) -> Any:
    if op == "max":
        return (kv.maximum if isinstance(a, kv.Expr) or isinstance(b, kv.Expr) else np.maximum)(a, b)
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
            "/": lambda: a / (b * b + 1.0), "**": lambda: (a * a + 1.0) ** (b / (b * b + 1.0))}[op]()


Twin = Callable[[dict], Any]


def _symbol_twin(name: str) -> Twin:
    return lambda v: v[name]


def _constant_twin(c: np.ndarray) -> Twin:
    return lambda v: c


def _binary_twin(op: str, ta: Twin, tb: Twin) -> Twin:
    return lambda v: _binary(op, ta(v), tb(v))


def _unary_twin(fn: Callable[[Any], Any], t: Twin) -> Twin:
    return lambda v: fn(t(v))


@st.composite
def _programs(draw: Any) -> tuple[kv.Expr, Twin, dict[str, np.ndarray]]:
    """A random elementwise program over 1–2 symbols of random shape classes, a per-member result
    of a stack and NumPy constants of rank 0–3, with its NumPy twin (a 1-D constant next to a
    scalar or a matrix is a column there, the v1 convention)."""
    rng = RNG(draw(st.integers(0, 10 ** 6)))
    names = ["X", "Y"][:draw(st.integers(1, 2))]
    shapes = {n: draw(st.sampled_from(_LEAF_SHAPES)) for n in names}
    per_member = draw(st.booleans())
    if per_member:  # a per-member result of a stack symbol, det(S) of shape (b,)
        shapes["S"] = (2, 2, 2)
    values = {n: rng.uniform(0.5, 1.5, s) for n, s in shapes.items()}
    if per_member:
        values["S"] = values["S"] + 2 * np.eye(2)
    syms = {n: kv.Array(n, s) for n, s in shapes.items()}
    leaves: list[tuple[Any, Twin]] = [(syms[n], _symbol_twin(n)) for n in names]
    if per_member:
        leaves.append((kv.det(syms["S"]), lambda v: np.linalg.det(v["S"])))
    for _ in range(draw(st.integers(0, 2))):
        c_shape = draw(st.sampled_from([(), (3,), (2,), (3, 3), (1, 3), (2, 1, 1), (2, 3, 3)]))
        c = np.asarray(rng.uniform(0.5, 1.5, c_shape))
        leaves.append((c, _constant_twin(c)))
    expr, twin = leaves[0]
    for leaf, leaf_twin in leaves[1:]:
        op = draw(st.sampled_from(["+", "-", "*", "/", "max", "**"]))
        if isinstance(leaf, np.ndarray) and leaf.ndim == 1 and expr.ndim in (0, 2):
            leaf_twin = _constant_twin(leaf[:, None])  # the v1 column convention
        swap = draw(st.booleans())
        a, b, ta, tb = (leaf, expr, leaf_twin, twin) if swap else (expr, leaf, twin, leaf_twin)
        twin = _binary_twin(op, ta, tb)
        try:
            expr = _binary(op, a, b)
        except kv.ShapeError:  # refused where NumPy refuses
            with pytest.raises(ValueError):
                twin(values)
            assume(False)
    k_fn, np_fn = _UNARY[draw(st.sampled_from(sorted(_UNARY)))]
    return k_fn(expr), _unary_twin(np_fn, twin), values


def _numpy_twin_shape(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ValueError:
        return None


@settings(max_examples=60, deadline=None)
@given(program=_programs(), reduce=st.sampled_from(["sum", "mean", "none"]))
def test_random_programs_follow_numpy(program, reduce):
    """NumPy's shape and values for random elementwise programs over every shape class, and their
    derivatives (Jacobians by FD and the dot-test; gradients of exactly the symbol's shape)."""
    expr, twin, values = program
    expected = _numpy_twin_shape(lambda: np.asarray(twin(values)))
    if reduce == "sum":
        expr, final = kv.sum(expr), (lambda v: np.sum(twin(v)))
    elif reduce == "mean":
        expr, final = kv.mean(expr), (lambda v: np.mean(twin(v)))
    else:
        final = twin
    assert expected is not None
    check(expr, lambda **v: final(v), values, second=reduce != "none")
