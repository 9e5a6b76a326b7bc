"""kv.einsum against np.einsum: values and shapes, derivatives (finite differences of the JVP
and VJP, to second order, and the adjoint dot-test), printing, code generation, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.maps.contract import cached_expression
from kronvec.maps.einsum import EinsumMap
from kronvec.testing import check_jacobian, dottest, fd_jacobian

from _backends import BACKENDS

# (subscripts, operand shapes): implicit and explicit output, '...', repeated letters,
# 0-D, 1-D, 1×1 and stacks, broadcasting of length-one axes
SPECS = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ijk,kl->ijl", [(2, 3, 4), (4, 5)]),
    ("bij,bj->bi", [(2, 3, 4), (2, 4)]),
    ("i,i", [(4,), (4,)]),
    ("i,j", [(3,), (2,)]),
    ("ii->i", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(3, 4)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("...ij,...jk", [(2, 3, 4), (4, 2)]),
    ("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 2)]),
    ("...i,...i", [(2, 3, 4), (4,)]),
    ("i...->...", [(2, 3, 4)]),
    (",ij->ij", [(), (2, 3)]),
    ("ij,ij->", [(1, 1), (1, 1)]),
    ("ij,jk,kl->il", [(1, 3), (3, 1), (1, 2)]),
    ("abc,cd,b->ad", [(2, 3, 4), (4, 2), (3,)]),
    ("ij,ij,ij->ij", [(3, 2), (3, 2), (3, 2)]),
    ("bii->b", [(2, 3, 3)]),
    ("ij,kl->ijkl", [(2, 1), (1, 3)]),
]


def _symbols(shapes):
    return [kv.Array(f"A{k}", shape) for k, shape in enumerate(shapes)]


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {f"A{k}": rng.standard_normal(shape) for k, shape in enumerate(shapes)}


@pytest.mark.parametrize("subscripts,shapes", SPECS, ids=[s for s, _ in SPECS])
def test_values_and_shapes_equal_numpy(subscripts, shapes):
    values = _values(shapes)
    expected = np.einsum(subscripts, *values.values())
    e = kv.einsum(subscripts, *_symbols(shapes))
    assert e.shape == expected.shape
    got = kv.evaluate(e, values)
    assert np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("subscripts,shapes", SPECS, ids=[s for s, _ in SPECS])
def test_numpy_constants_of_every_rank_mix_in(subscripts, shapes):
    """Every operand but the first a NumPy constant (a 1-D array stays 1-D)."""
    values = _values(shapes, 1)
    arrays = list(values.values())
    e = kv.einsum(subscripts, kv.Array("A0", shapes[0]), *arrays[1:])
    np.testing.assert_allclose(kv.evaluate(e, A0=arrays[0]), np.einsum(subscripts, *arrays), atol=1e-12)


@pytest.mark.parametrize("subscripts,shapes", SPECS, ids=[s for s, _ in SPECS])
def test_jacobian_in_every_operand_matches_finite_differences(subscripts, shapes):
    """The JVP against central differences, the VJP by the adjoint dot-test (check_jacobian)."""
    symbols, values = _symbols(shapes), _values(shapes, 2)
    e = kv.einsum(subscripts, *symbols)
    for s in symbols:
        check_jacobian(e, s, values)


@pytest.mark.parametrize("subscripts,shapes", SPECS, ids=[s for s, _ in SPECS])
def test_gradient_and_hessian_match_finite_differences(subscripts, shapes):
    """Second order: the Hessian of Σ F ⊙ F ⊙ W against differences of the gradient, in each
    operand (the gradient is an einsum itself, differentiated again)."""
    symbols, values = _symbols(shapes), _values(shapes, 3)
    e = kv.einsum(subscripts, *symbols)
    W = kv.Array("W", e.shape)
    values["W"] = np.random.default_rng(4).standard_normal(e.shape)
    f = kv.sum(W * e * e)
    for s in symbols:
        g = kv.grad(f, s)
        assert kv.evaluate(g, values).shape == s.shape
        np.testing.assert_allclose(kv.evaluate(g, values).reshape(-1, order="F"),
                                   fd_jacobian(f, s, values).reshape(-1), rtol=1e-6, atol=1e-7)
        H = kv.hessian(f, s).at(values)
        np.testing.assert_allclose(H.to_dense(), fd_jacobian(g, s, values), rtol=1e-5, atol=1e-6)
        dottest(H)


def test_derivative_is_a_lazy_einsum_map_with_an_einsum_adjoint():
    T, X, w = kv.Array("T", (2, 3, 4)), kv.Matrix("X", (4, 5)), kv.Array("w", 3)
    J = kv.jacobian(kv.einsum("ijk,kl,j->il", T, X, w), X)
    assert isinstance(J.map, EinsumMap)
    assert isinstance(J.map.T, EinsumMap)
    assert str(J) == "H ↦ [Σⱼₖ TᵢⱼₖHₖₗwⱼ]ᵢₗ"
    assert str(J.T) == "H ↦ [Σᵢⱼ TᵢⱼₖHᵢₗwⱼ]ₖₗ"
    L = J.at(T=np.ones((2, 3, 4)), X=np.ones((4, 5)), w=np.ones(3))
    assert isinstance(L, EinsumMap) and isinstance(L.T, EinsumMap)
    dottest(L)


def test_repeated_and_solo_indices_have_adjoints_that_place_and_spread():
    """ii->i (a diagonal) and ij->i (a letter only the tangent holds): the adjoint places the
    cotangent on the diagonal and spreads it along the summed axis."""
    S, A = kv.Matrix("S", (3, 3)), kv.Matrix("A", (3, 4))
    for e, s, shape in ((kv.einsum("ii->i", S), S, (3, 3)), (kv.einsum("ij->i", A), A, (3, 4))):
        L = kv.jacobian(e, s).at({s.params.name: np.zeros(shape)})
        g = np.arange(1.0, 4.0)
        expected = np.diag(g) if shape == (3, 3) else np.repeat(g[:, None], 4, axis=1)
        np.testing.assert_allclose(L.vjp(g), expected)


def test_contraction_orders_are_planned_once_per_subscripts_and_shapes():
    T, X, w = kv.Array("T", (5, 6, 7)), kv.Matrix("X", (7, 3)), kv.Array("w", 6)
    e = kv.einsum("ijk,kl,j->il", T, X, w)
    rng = np.random.default_rng(0)
    values = {"T": rng.standard_normal((5, 6, 7)), "X": rng.standard_normal((7, 3)),
              "w": rng.standard_normal(6)}
    kv.evaluate(e, values)
    before = cached_expression.cache_info()
    for _ in range(3):
        kv.evaluate(e, values)
    after = cached_expression.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 3


# ------------------------------------------------------------------ printing
def test_matrix_operations_print_as_themselves():
    A, B, S = kv.Matrix("A", (3, 4)), kv.Matrix("B", (4, 2)), kv.Matrix("S", (3, 3))
    C = kv.Matrix("C", (3, 4))
    assert str(kv.einsum("ij,jk->ik", A, B)) == "AB"
    assert str(kv.einsum("jk,ij->ik", B, A)) == "AB"
    assert str(kv.einsum("ji,jk", A, C)) == "AᵀC"
    assert str(kv.einsum("ii", S)) == "tr(S)"
    assert str(kv.einsum("ij,ij->ij", A, C)) == "A ⊙ C"
    assert str(kv.einsum("ij->ji", A)) == "Aᵀ"
    assert str(kv.einsum("ji", A)) == "Aᵀ"
    assert str(kv.einsum("ij,ij", A, C)) == "tr(AᵀC)"
    assert kv.einsum("ij,jk->ik", A, B).latex() == "A B"


def test_products_of_stacks_are_matmuls():
    T, B, S = kv.Array("T", (2, 3, 4)), kv.Matrix("B", (4, 5)), kv.Array("S", (2, 5, 4))
    A, U = kv.Matrix("A", (3, 4)), kv.Array("U", (2, 4, 5))
    cases = [("...ij,...jk", (T, B), "TB"), ("bij,bkj->bik", (T, S), "TSᵀ"), ("bij,bkj->bki", (T, S), "STᵀ"),
             ("ij,bjk->bik", (A, U), "AU")]
    rng = np.random.default_rng(0)
    for subscripts, operands, text in cases:
        e = kv.einsum(subscripts, *operands)
        assert e.op in ("matmul", "matrix_transpose") and str(e) == text
        values = [rng.standard_normal(x.shape) for x in operands]
        got = kv.evaluate(e, {x.params.name: v for x, v in zip(operands, values)})
        np.testing.assert_allclose(got, np.einsum(subscripts, *values), atol=1e-12)


def test_other_contractions_print_in_index_notation():
    T, X, w = kv.Array("T", (2, 3, 4)), kv.Matrix("X", (4, 5)), kv.Array("w", 3)
    e = kv.einsum("ijk,kl,j->il", T, X, w)
    assert str(e) == "[Σⱼₖ TᵢⱼₖXₖₗwⱼ]ᵢₗ"
    assert str(e.T) == "[Σⱼₖ TᵢⱼₖXₖₗwⱼ]ₗᵢ" and e.T.op == "einsum"  # the output letters swapped
    assert e.latex() == r"\left[\sum_{jk} T_{ijk} X_{kl} w_{j}\right]_{il}"
    assert str(kv.einsum("i,i", w, w)) == "Σᵢ wᵢwᵢ"
    assert str(kv.einsum("ii->i", kv.Matrix("S", (3, 3)))) == "[Sᵢᵢ]ᵢ"
    assert str(kv.einsum("ijk,kl,j->il", T, 2 * X, w)) == "2[Σⱼₖ TᵢⱼₖXₖₗwⱼ]ᵢₗ"
    assert repr(e) == "<kronvec expression einsum('ijk,kl,j->il', T, X, w) of shape (2, 5)>"


def test_an_einsum_of_einsums_is_one_contraction():
    T, w = kv.Array("T", (2, 3, 4)), kv.Array("w", 4)
    inner = kv.einsum("bij,j->bi", T, w)
    outer = kv.einsum("bi,bi->", inner, inner)
    assert outer.op == "einsum" and all(a.op == "symbol" for a in outer.args)
    assert str(outer) == "Σᵢⱼₖₗ TᵢⱼₖwₖTᵢⱼₗwₗ"


# ------------------------------------------------------------------ errors
def test_errors_name_the_subscripts_shapes_and_index():
    A, B = kv.Matrix("A", (3, 4)), kv.Matrix("B", (5, 2))
    culprit = r"einsum 'ij,jk' with operands of shapes \(3, 4\), \(5, 2\).*'j'.*4 and 5"
    with pytest.raises(kv.ShapeError, match=culprit):
        kv.einsum("ij,jk", A, B)
    with pytest.raises(kv.ShapeError, match="does not match an operand of shape"):
        kv.einsum("ijk", A)
    with pytest.raises(kv.ShapeError, match="appears in no operand"):
        kv.einsum("ij->k", A)
    with pytest.raises(ValueError, match="2 terms of subscripts for 1 operands"):
        kv.einsum("ij,jk", A)
    with pytest.raises(TypeError, match="subscripts as a string"):
        kv.einsum(A, [0, 1])


# ------------------------------------------------------------------ generated code
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b in ("numpy", "jax")])
def test_lambdify_writes_the_contraction_and_its_derivatives(backend):
    """Matrices (generated code takes no 1-D arrays or stacks yet); a diagonal, whose adjoint
    holds an identity δ, and a three-operand contraction."""
    S, X, Y = kv.Matrix("S", (3, 3)), kv.Matrix("X", (3, 5)), kv.Matrix("Y", (3, 5))
    rng = np.random.default_rng(0)
    values = {s.params.name: rng.standard_normal(s.shape) for s in (S, X, Y)}
    for e in (kv.einsum("ij,jl,jl->il", S, X, Y), kv.einsum("ii,ij->ij", S, X)):
        assert e.op == "einsum"
        f = kv.lambdify([S, X, Y], e, backend=backend)
        np.testing.assert_allclose(np.asarray(f(*values.values())), kv.evaluate(e, values), atol=1e-12)
        for s in (S, X):
            J = kv.jacobian(e, s)
            L = J.at(values)
            H = rng.standard_normal(s.shape)
            jvp = kv.lambdify([S, X, Y], J, backend=backend)
            np.testing.assert_allclose(np.asarray(jvp(*values.values(), H)), L.jvp(H), atol=1e-12)
            G = rng.standard_normal(e.shape)
            vjp = kv.lambdify([S, X, Y], J.T, backend=backend)
            np.testing.assert_allclose(np.asarray(vjp(*values.values(), G)), L.vjp(G), atol=1e-12)


# ------------------------------------------------------------------ random subscripts
@st.composite
def contractions(draw):
    """Random operands (0 to 3 axes, letters from a small pool, so that some repeat within an
    operand or between operands) and an implicit or a random explicit output."""
    pool = "ijkl"
    sizes = {c: draw(st.integers(1, 3)) for c in pool}
    count = draw(st.integers(1, 3))
    terms = [draw(st.text(alphabet=pool, min_size=0, max_size=3)) for _ in range(count)]
    present = sorted(set("".join(terms)))
    if draw(st.booleans()):
        output = "".join(draw(st.permutations(present))[:draw(st.integers(0, len(present)))])
        subscripts = ",".join(terms) + "->" + output
    else:
        subscripts = ",".join(terms)
    shapes = [tuple(sizes[c] for c in t) for t in terms]
    return subscripts, shapes


@settings(max_examples=40, deadline=None)
@given(spec=contractions(), seed=st.integers(0, 2 ** 16))
def test_random_contractions_equal_numpy_with_exact_derivatives(spec, seed):
    subscripts, shapes = spec
    symbols, values = _symbols(shapes), _values(shapes, seed)
    expected = np.einsum(subscripts, *values.values())
    e = kv.einsum(subscripts, *symbols)
    assert e.shape == expected.shape
    np.testing.assert_allclose(kv.evaluate(e, values), expected, atol=1e-12)
    for s in symbols:
        check_jacobian(e, s, values)
