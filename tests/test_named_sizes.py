"""Sizes given as names (API v1.3): one symbolic derivative, printed without numbers, bound at
any size.

Every case is built twice, with names (``("n", "m")``) and with numbers; the printed forms must
be equal with names for numbers, and the named derivative bound at two different size sets must
give the numbers of the sized derivative and of finite differences at each.
"""
from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

import kronvec as kv
from kronvec.dims import Dim
from kronvec.sizing import with_sizes
from kronvec.testing import dottest, fd_jacobian, random_values, symmetrizer
from test_op_derivatives import CASES as OP_CASES

SIZE_SETS = ({"n": 4, "m": 3, "k": 2, "b": 2}, {"n": 6, "m": 2, "k": 5, "b": 3})

_SUB = {"n": "ₙ", "m": "ₘ", "k": "ₖ"}
_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def numbered(text: str, sizes: dict[str, int]) -> str:
    """A printed form with names replaced by their numbers where sizes print (Iₙₘ → I₁₂,
    K₍ₙ,ₘ₎ → K₍₄,₃₎, I_{nm} → I_{12}, K_{(n,m)} → K_{(4,3)})."""
    back = {v: k for k, v in _SUB.items()}

    def run(match: re.Match) -> str:
        return str(int(np.prod([sizes[back[c]] for c in match.group(0)]))).translate(_DIGITS)

    text = re.sub("[" + "".join(_SUB.values()) + "]+", run, text)
    text = re.sub(r"_\{([nmk]+)\}", lambda m: "_{" + str(int(np.prod([sizes[c] for c in m.group(1)]))) + "}",
                  text)
    text = re.sub(r"_\{\(([nmk]),([nmk])\)\}", lambda m: f"_{{({sizes[m.group(1)]},{sizes[m.group(2)]})}}",
                  text)
    return re.sub(r"\((?:[nmkb], )*[nmkb],?\)", lambda m: re.sub("[nmkb]", lambda c: str(sizes[c.group(0)]),
                                                               m.group(0)), text)  # shapes: (b,)


def build(case: dict, sizes: dict[str, int] | None, inferred: bool = False) -> tuple[kv.Expr, kv.Expr]:
    """The case's expression and variable, with names (``sizes`` None), numbers, or sizes left
    to inference."""
    symbols = {}
    for name, (shape, flags) in case["symbols"].items():
        if inferred and shape in (("n", "n"), ("n", "m")):
            symbols[name] = kv.Matrix(name, **flags)
        elif inferred and shape == ("n", 1):
            symbols[name] = kv.Vector(name)
        else:
            dims = tuple(d if isinstance(d, int) or sizes is None else sizes[d] for d in shape)
            symbols[name] = kv.Matrix(name, dims, **flags)
    return case["f"](**symbols), symbols[case["wrt"]]


def _case(wrt: str, f, **symbols) -> dict:
    declared = {k: (v[0], v[1] if len(v) > 1 else {}) for k, v in symbols.items()}
    return {"wrt": wrt, "f": f, "symbols": declared}


NM, NN, N1, MM = ("n", "m"), ("n", "n"), ("n", 1), ("m", "m")
SYM, PD = {"symmetric": True}, {"positive_definite": True}
CASES = {
    "gls_V": _case("V", lambda X, V: kv.inv(X.T @ kv.inv(V) @ X).named("F"), X=(NM,), V=(NN,)),
    "gls_X": _case("X", lambda X, V: kv.inv(X.T @ kv.inv(V) @ X).named("F"), X=(NM,), V=(NN,)),
    "inverse": _case("X", lambda X: kv.inv(X), X=(NN,)),
    "trace_inverse": _case("X", lambda X: kv.trace(kv.inv(X)), X=(NN,)),
    "bilinear_inverse": _case("X", lambda X, a, b: a.T @ kv.inv(X) @ b, X=(NN,), a=(N1,), b=(N1,)),
    "logdet": _case("X", lambda X: kv.logdet(X), X=(NN,)),
    "det": _case("X", lambda X: kv.det(X), X=(NN,)),
    "solve": _case("A", lambda A, B: kv.solve(A, B), A=(NN,), B=(NM,)),
    "gram": _case("X", lambda X: X.T @ X, X=(NM,)),
    "transpose": _case("X", lambda X: X.T, X=(NM,)),
    "kron": _case("X", lambda X, Y: kv.kron(X, Y), X=(NM,), Y=(("k", "k"),)),
    "hadamard": _case("X", lambda X, Y: X * Y + kv.exp(X), X=(NM,), Y=(NM,)),
    "tanh_frobenius": _case("X", lambda X: kv.sum(kv.tanh(X) ** 2), X=(NM,)),
    "log_sqrt": _case("X", lambda X: kv.log(X) + kv.sqrt(X), X=(NM,)),
    "ridge": _case("X", lambda X, y: kv.inv(X.T @ X + 0.5 * kv.eye(X.shape[1])) @ X.T @ y, X=(NM,), y=(N1,)),
    "matrix_power": _case("X", lambda X: kv.matrix_power(X, 3), X=(NN,)),
    "expm": _case("X", lambda X: kv.expm(X), X=(NN,)),
    "symmetric_logdet": _case("S", lambda S, A: kv.logdet(S) + kv.trace(A @ S), S=(NN, PD), A=(NN,)),
    "quadratic_symmetric": _case("S", lambda S, a: a.T @ S @ a, S=(NN, SYM), a=(N1,)),
    "row_vector": _case("w", lambda w, X: w @ X, w=((1, "n"),), X=(NM,)),
    "diag": _case("a", lambda a, X: kv.diag(a) @ X, a=(N1,), X=(NM,)),
    "norm": _case("X", lambda X: kv.norm(X), X=(NM,)),
    "broadcast_column": _case("X", lambda X, c: X + c, X=(NM,), c=(N1,)),
    "stack_inverse": _case("X", lambda X: kv.inv(X), X=(("b", "n", "n"),)),
    "stack_logdet_sum": _case("X", lambda X: kv.sum(kv.logdet(X)), X=(("b", "n", "n"),)),
    "stack_product": _case("X", lambda X, A: X @ A, X=(("b", "n", "m"),), A=(MM,)),
}
SCALAR_CASES = ["trace_inverse", "bilinear_inverse", "logdet", "det", "tanh_frobenius", "symmetric_logdet",
                "quadratic_symmetric", "norm", "stack_logdet_sum"]


def values_at(case: dict, sizes: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    f, _ = build(case, sizes)
    positive = case is CASES["log_sqrt"]
    return random_values(f, np.random.default_rng(seed), positive=positive, invertible=set(f.symbols()))


@pytest.mark.parametrize("name", CASES)
def test_printed_forms_equal_the_sized_ones_with_names(name: str) -> None:
    case = CASES[name]
    sizes = SIZE_SETS[0]
    (f, x), (fs, xs) = build(case, None), build(case, sizes)
    J, Js = kv.jacobian(f, x), kv.jacobian(fs, xs)
    assert numbered(str(J), sizes) == str(Js)
    assert numbered(J.latex(), sizes) == Js.latex()
    assert J.differential() == Js.differential()
    assert numbered(str(J.T), sizes) == str(Js.T)
    if name in SCALAR_CASES:
        assert str(kv.grad(f, x)) == str(kv.grad(fs, xs))
        assert numbered(str(kv.hessian(f, x)), sizes) == str(kv.hessian(fs, xs))


@pytest.mark.parametrize("name", CASES)
def test_one_symbolic_derivative_serves_two_size_sets(name: str) -> None:
    case = CASES[name]
    f, x = build(case, None)
    J = kv.jacobian(f, x)
    for seed, sizes in enumerate(SIZE_SETS):
        fs, xs = build(case, sizes)
        values = values_at(case, sizes, seed)
        L, Ls = J.at(values), kv.jacobian(fs, xs).at(values)
        assert L.in_shape == xs.shape and L.out_shape == fs.shape
        dense = L.to_dense()
        np.testing.assert_allclose(dense, Ls.to_dense(), rtol=1e-10, atol=1e-12)
        reference = fd_jacobian(fs, xs, values)
        projected = dense @ symmetrizer(xs.shape[-1], xs.shape[:-2]) if xs.params.symmetric else dense
        scale = max(1.0, np.abs(reference).max())
        np.testing.assert_allclose(projected, reference, rtol=1e-5, atol=1e-6 * scale)
        rng = np.random.default_rng(seed)
        H, G = rng.standard_normal(xs.shape), rng.standard_normal(fs.shape)
        np.testing.assert_allclose(L.jvp(H), Ls.jvp(H), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(L.vjp(G), Ls.vjp(G), rtol=1e-10, atol=1e-12)
        dottest(L)
        np.testing.assert_allclose(kv.evaluate(f, values), kv.evaluate(fs, values), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(L.value, Ls.value, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SCALAR_CASES)
def test_gradient_and_hessian_at_two_size_sets(name: str) -> None:
    case = CASES[name]
    f, x = build(case, None)
    G, Hm = kv.grad(f, x), kv.hessian(f, x)
    for seed, sizes in enumerate(SIZE_SETS):
        fs, xs = build(case, sizes)
        values = values_at(case, sizes, seed)
        g = kv.evaluate(G, values)
        assert g.shape == xs.shape
        np.testing.assert_allclose(g, kv.evaluate(kv.grad(fs, xs), values), rtol=1e-10, atol=1e-12)
        H = np.random.default_rng(seed).standard_normal(xs.shape)
        np.testing.assert_allclose(Hm.at(values).jvp(H), kv.hessian(fs, xs).at(values).jvp(H),
                                   rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", [k for k in CASES if not k.startswith("stack")])
def test_generated_code_runs_at_two_sizes(name: str) -> None:
    case = CASES[name]
    f, x = build(case, None)
    symbols = list(f.symbols().values())
    value_fn = kv.lambdify(symbols, f)
    jvp_fn = kv.lambdify(symbols, kv.jacobian(f, x))
    for seed, sizes in enumerate(SIZE_SETS):
        fs, xs = build(case, sizes)
        values = values_at(case, sizes, seed)
        args = [values[s.params.name] for s in symbols]
        np.testing.assert_allclose(value_fn(*args), kv.evaluate(fs, values), rtol=1e-10, atol=1e-12)
        H = np.random.default_rng(seed).standard_normal(xs.shape)
        np.testing.assert_allclose(jvp_fn(*args, H), kv.jacobian(fs, xs).at(values).jvp(H),
                                   rtol=1e-9, atol=1e-11)
    assert pickle.loads(pickle.dumps(value_fn))(*args).shape == fs.shape


INFERRED = ["gls_V", "inverse", "trace_inverse", "bilinear_inverse", "logdet", "gram", "hadamard",
            "symmetric_logdet", "quadratic_symmetric"]


@pytest.mark.parametrize("name", INFERRED)
def test_inferred_sizes_print_and_bind_as_named_ones(name: str) -> None:
    case = CASES[name]
    (f, x), (fn, xn) = build(case, None, inferred=True), build(case, None)
    J = kv.jacobian(f, x)
    assert str(J) == str(kv.jacobian(fn, xn))
    assert J.differential() == kv.jacobian(fn, xn).differential()
    for seed, sizes in enumerate(SIZE_SETS):
        fs, xs = build(case, sizes)
        values = values_at(case, sizes, seed)
        np.testing.assert_allclose(J.at(values).to_dense(), kv.jacobian(fs, xs).at(values).to_dense(),
                                   rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the seed questions
def test_seed_questions_without_sizes() -> None:
    X, V = kv.Matrix("X"), kv.Matrix("V")
    a, b = kv.Vector("a"), kv.Vector("b")
    assert str(kv.jacobian(kv.inv(X), X)) == "-X⁻ᵀ ⊗ X⁻¹"
    assert str(kv.grad(a.T @ kv.inv(X) @ b, X)) == "-X⁻ᵀabᵀX⁻ᵀ"
    assert str(kv.grad(kv.trace(kv.inv(X)), X)) == "-(X⁻²)ᵀ"
    Y = kv.Matrix("Y")
    F = kv.inv(Y.T @ kv.inv(V) @ Y).named("F")
    assert str(kv.jacobian(F, V)) == "(V⁻¹YF)ᵀ ⊗ (FYᵀV⁻¹)"
    assert kv.jacobian(F, "Y").in_shape == kv.jacobian(F, "V").in_shape[:1] + F.shape[:1]


def test_readme_example_with_names() -> None:
    X, V = kv.Matrix("X", ("n", "m")), kv.Matrix("V", ("n", "n"))
    F = kv.inv(X.T @ kv.inv(V) @ X).named("F")
    J = kv.jacobian(F, V)
    assert str(J) == "(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)"
    assert J.differential() == "dF = F Xᵀ V⁻¹ dV V⁻¹ X F"
    assert J.nterms == 1
    assert str(J.in_shape) == "(n, n)" and str(J.out_shape) == "(m, m)" and str(J.shape) == "(m*m, n*n)"
    rng = np.random.default_rng(0)
    for n, m in ((6, 3), (9, 4)):
        X0, V0 = rng.standard_normal((n, m)), np.eye(n) + 0.1 * np.ones((n, n))
        L = J.at(X=X0, V=V0)
        assert (L.in_shape, L.out_shape, L.shape) == ((n, n), (m, m), (m * m, n * n))
        W = np.linalg.solve(V0, X0) @ kv.evaluate(F, X=X0, V=V0)
        np.testing.assert_allclose(L.to_dense(), np.kron(W.T, W.T), rtol=1e-10, atol=1e-12)
    Xs, a, b = kv.Matrix("X", ("n", "n")), kv.Vector("a", "n"), kv.Vector("b", "n")
    assert str(kv.grad(a.T @ kv.inv(Xs) @ b, Xs)) == "-X⁻ᵀabᵀX⁻ᵀ"


# ---------------------------------------------------------------- sized structure prints names
def test_structured_matrices_print_with_names() -> None:
    X = kv.Matrix("X", ("n", "m"))
    assert str(kv.jacobian(X, X)) == "Iₙₘ" and kv.jacobian(X, X).latex() == "I_{nm}"
    assert str(kv.jacobian(X.T, X)) == "K₍ₙ,ₘ₎" and kv.jacobian(X.T, X).latex() == "K_{(n,m)}"
    assert str(kv.commutation("n", "m")) == "K₍ₙ,ₘ₎"
    assert str(kv.duplication("n")) == "Dₙ"
    Q = kv.Matrix("Q", ("q", "b"))
    assert str(kv.jacobian(Q.T, Q)) == "K_(q,b)"  # Unicode has no subscript q or b
    assert kv.jacobian(Q.T, Q).latex() == "K_{(q,b)}"
    assert str(kv.trace(kv.eye("n"))) == "n"
    assert str(kv.jacobian(kv.Matrix("Y", (5, 3)).T, "Y")) == "K₍₅,₃₎"  # numbers print as before


def test_shapes_hold_names() -> None:
    X = kv.Matrix("X", ("b", "n", "m"))
    assert X.shape == (kv.Matrix("Y", ("b", "n", "m")).shape) and str(X.shape) == "(b, n, m)"
    assert repr(kv.eye("n")) == "<kronvec expression eye(n) of shape (n, n)>"
    assert str(kv.zeros("n", 3).shape) == "(n, 3)" and str(kv.ones(("n", "m")).shape) == "(n, m)"
    assert str(kv.Vector("a", "n").shape) == "(n, 1)" and str(kv.Array("w", "n").shape) == "(n,)"
    assert pickle.loads(pickle.dumps(X)) is X


# ------------------------------------- a size-free version of every op's derivative case
N, M, K = Dim("n"), Dim("m"), Dim("k")
# Cases whose sizes are not names: sizes that only numbers give (the
# eigenvector columns, eigh_column and eigh_resolvent, pick a column by a number).  Indexing,
# assembly (sizes such as m + k) and the 2-norm's gradient derive with names; the cases below that
# need numbers raise ShapeError saying so: a step of 2 over a named axis (place: X[1:, ::2]) and
# offset diagonals of (n + 1, k + 1) planes (min(n + 1, k) entries).
_EIGEN = "an eigenvector column picked by a number, or the eigen-decomposition's numeric ties"
NOT_NAMED = {"eigfun": _EIGEN, "eigh": _EIGEN, "eigh_column": _EIGEN, "eigh_resolvent": _EIGEN,
             "eigh_vectors": _EIGEN, "eigvalsh": _EIGEN,
             "divdiff": "the case builds a NumPy constant of n entries (np.arange(n))",
             "gapinv": "the case builds a NumPy constant of n entries (np.arange(n))",
             "kron_contract": "the case's values do not fix every size of its derivative",
             "place": "X[1:, ::2]: a step of 2 over a named axis (test_ops_that_need_numbers_say_so; "
                      "test_named_sizes_more covers place without steps)",
             "diagonal": "min(n + 1, k) entries (test_named_sizes_more covers diagonals of (n, n))",
             "offset_trace": "min(n + 1, k) entries (test_named_sizes_more covers traces of (n, n))"}
NEEDS_NUMBERS = ["place", "diagonal", "offset_trace"]


@pytest.mark.parametrize("op", sorted(set(OP_CASES) - set(NOT_NAMED)))
def test_every_op_derivative_with_names(op: str) -> None:
    f, wrt, positive = OP_CASES[op](N, M, K)
    J = kv.jacobian(f, wrt)
    for seed, (n, m, k) in enumerate([(3, 2, 4), (2, 4, 3)]):
        fs, ws = with_sizes([f, wrt], {int(N): n, int(M): m, int(K): k})
        values = random_values(fs, np.random.default_rng(seed), positive=positive)
        Js = kv.jacobian(fs, ws)  # (printed forms: sizes used as numbers, n·I, print as names)
        L = J.at(values)
        dense = L.to_dense()
        np.testing.assert_allclose(dense, Js.at(values).to_dense(), rtol=1e-9, atol=1e-11)
        if seed:
            continue  # finite differences at the first size set (the sized twin checks the second)
        reference = fd_jacobian(fs, ws, values)
        if ws.params.symmetric and ws.shape[-1] > 1:
            dense = dense @ symmetrizer(ws.shape[-1], ws.shape[:-2])
        scale = max(1.0, np.abs(reference).max())
        if not np.allclose(dense, reference, rtol=1e-5, atol=1e-6 * scale):
            reference = fd_jacobian(fs, ws, values, eps=1e-4, points=5)
        np.testing.assert_allclose(dense, reference, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("op", NEEDS_NUMBERS)
def test_ops_that_need_numbers_say_so(op: str) -> None:
    with pytest.raises(kv.ShapeError, match="sizes are names.*give the sizes as numbers"):
        f, wrt, _ = OP_CASES[op](N, M, K)
        kv.jacobian(f, wrt)


def test_dask_values_fix_the_sizes() -> None:
    da = pytest.importorskip("dask.array")
    X, V = kv.Matrix("X", ("b", "n", "m")), kv.Matrix("V", ("b", "n", "n"))
    F = kv.inv(X.mT @ kv.inv(V) @ X)
    J = kv.jacobian(F, V)
    rng = np.random.default_rng(0)
    for b, n, m in ((4, 5, 3), (2, 3, 2)):
        X0, V0 = rng.standard_normal((b, n, m)), np.eye(n) * 2 + 0.1 * rng.standard_normal((b, n, n))
        Xd, Vd = da.from_array(X0, chunks=(1, n, m)), da.from_array(V0, chunks=(1, n, n))
        np.testing.assert_allclose(kv.evaluate(F, X=Xd, V=Vd).compute(), kv.evaluate(F, X=X0, V=V0))
        H = rng.standard_normal((b, n, n))
        np.testing.assert_allclose(np.asarray(J.at(X=Xd, V=Vd).jvp(H)), J.at(X=X0, V=V0).jvp(H))
