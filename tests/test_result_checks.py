"""``J.at`` checks results, not inputs: no condition estimate on the happy path, and every
singular, near-singular or non-finite input still raises the error a full check raises, naming
the same culprit (``check="full"`` is the full check); ``check=False`` skips the input checks."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import lapack

import kronvec as kv
from _lapack import count_lapack_calls
from kronvec.evaluation import binding
from kronvec.evaluation.checks import PIVOT_GATE, pivots_balanced


def gls(n=6, m=2, pd=True, symmetric=False, stack=()):
    X = kv.Matrix("X", stack + (n, m))
    V = kv.Matrix("V", stack + (n, n), positive_definite=pd, symmetric=symmetric)
    inner = X.mT @ kv.solve(V, X) if stack else X.T @ kv.inv(V) @ X
    return kv.jacobian(kv.inv(inner), V)


def values(n=6, m=2, seed=0, stack=()):
    rng = np.random.default_rng(seed)
    R = rng.standard_normal(stack + (n, n))
    V = R @ np.swapaxes(R, -1, -2) / n + np.eye(n)
    return rng.standard_normal(stack + (n, m)), (V + np.swapaxes(V, -1, -2)) / 2


def error_of(J, check, **vals):
    with pytest.raises(Exception) as info:
        J.at(check=check, **vals)
    return type(info.value), str(info.value)


@pytest.fixture
def condition_estimates(monkeypatch):
    return count_lapack_calls(monkeypatch, ("dpocon", "dgecon", "dlange"))


@pytest.mark.parametrize("pd", [True, False])
def test_the_happy_path_takes_no_condition_estimate_and_gives_the_full_numbers(pd, condition_estimates):
    J = gls(pd=pd)
    X0, V0 = values()
    H = np.random.default_rng(1).standard_normal((6, 6))
    full = J.at(X=X0, V=V0, check="full")
    assert condition_estimates  # the full check estimates condition numbers
    for _ in range(3):  # recorded, replayed stepwise, compiled
        condition_estimates.clear()
        L = J.at(X=X0, V=V0)
        assert condition_estimates == []
        np.testing.assert_allclose(L.jvp(H), full.jvp(H), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(L.vjp(H[:2, :2]), full.vjp(H[:2, :2]), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(L.value, full.value, rtol=1e-12, atol=1e-14)


def near_singular(n=6, rcond=1e-18):
    """A symmetric positive semi-definite matrix singular to working precision (tiny last pivot)."""
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V = (Q * np.r_[np.ones(n - 1), rcond]) @ Q.T
    return (V + V.T) / 2


@pytest.mark.parametrize("pd", [True, False])
@pytest.mark.parametrize("case", ["singular", "near-singular", "zero"])
def test_singular_values_raise_the_full_checks_error(pd, case):
    J = gls(pd=pd)
    X0, _ = values()
    V = {"singular": near_singular(rcond=0.0), "near-singular": near_singular(),
         "zero": np.zeros((6, 6))}[case]
    full = error_of(J, "full", X=X0, V=V)
    assert error_of(J, True, X=X0, V=V) == full
    assert error_of(J, False, X=X0, V=V) == full  # the checks of results stay on
    assert issubclass(full[0], (np.linalg.LinAlgError, ValueError))
    assert "V" in full[1]


def test_a_singular_inner_matrix_is_named_as_the_full_check_names_it():
    J = gls()
    X0, V0 = values()
    X0[:, 1] = X0[:, 0]  # XᵀV⁻¹X is singular
    full = error_of(J, "full", X=X0, V=V0)
    assert full[0] is np.linalg.LinAlgError and "singular to working precision" in full[1]
    assert error_of(J, True, X=X0, V=V0) == full


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf - inf, before the error
@pytest.mark.parametrize("where", ["X", "V diagonal", "V off-diagonal", "V lower only"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("pd", [True, False])
def test_non_finite_values_raise_the_same_named_error(where, bad, pd):
    J = gls(pd=pd, symmetric=not pd)
    X0, V0 = values()
    if where == "X":
        X0[3, 1] = bad
    elif where == "V diagonal":
        V0[2, 2] = bad
    elif where == "V off-diagonal":
        V0[1, 4] = V0[4, 1] = bad
    else:
        V0[4, 1] = bad
    full = error_of(J, "full", X=X0, V=V0)
    assert full[0] is ValueError and full[1].startswith("value for " + where[0])
    assert error_of(J, True, X=X0, V=V0) == full


@pytest.mark.parametrize("pd", [True, False])
def test_values_not_symmetric_or_symmetric_to_rounding(pd):
    J = gls(pd=pd, symmetric=not pd)
    X0, V0 = values()
    rounded = V0.copy()
    rounded[0, 1] += 1e-14  # symmetric to rounding: made exactly symmetric, as a full check does
    np.testing.assert_allclose(J.at(X=X0, V=rounded).value, J.at(X=X0, V=rounded, check="full").value,
                               rtol=0, atol=0)
    skewed = V0.copy()
    skewed[0, 1] += 0.1
    full = error_of(J, "full", X=X0, V=skewed)
    assert full[0] is ValueError and "not symmetric" in full[1]
    assert error_of(J, True, X=X0, V=skewed) == full


def test_a_value_that_is_not_positive_definite_is_named():
    J = gls()
    X0, V0 = values()
    full = error_of(J, "full", X=X0, V=-V0)
    assert full[0] is ValueError and "not positive definite" in full[1]
    assert error_of(J, True, X=X0, V=-V0) == full
    assert error_of(J, False, X=X0, V=-V0) == full  # a failed Cholesky factorization is a result


def test_an_ill_conditioned_but_regular_value_gives_the_full_numbers():
    """Tiny pivots send the binding to the full check, which finds the matrix regular."""
    J = gls()
    X0, _ = values()
    V = near_singular(rcond=1e-11)
    assert not pivots_balanced(np.linalg.cholesky(V).T, squared=True)
    L, full = J.at(X=X0, V=V), J.at(X=X0, V=V, check="full")
    H = np.random.default_rng(3).standard_normal((6, 6))
    np.testing.assert_allclose(L.jvp(H), full.jvp(H), rtol=1e-12)


def test_balanced_pivots_of_a_singular_matrix_need_the_full_check():
    """Kahan's matrix R (1 on the diagonal, -1 above) has balanced pivots and κ(RᵀR) ≈ 4ⁿ: the
    pivots cannot see it (documented in kronvec.evaluation.checks); check="full" does."""
    n = 40
    R = np.eye(n) - np.triu(np.ones((n, n)), 1)
    V = R.T @ R
    assert pivots_balanced(np.linalg.cholesky(V).T, squared=True)
    J = gls(n=n)
    X0 = np.random.default_rng(4).standard_normal((n, 2))
    with pytest.raises(np.linalg.LinAlgError, match="singular to working precision"):
        J.at(X=X0, V=V, check="full")


def test_pivots_balanced_reads_nan_inf_and_zero_pivots():
    assert pivots_balanced(np.diag([1.0, 2.0, 3.0]), squared=False)
    assert not pivots_balanced(np.diag([1.0, 0.0, 3.0]), squared=False)
    assert not pivots_balanced(np.diag([1.0, PIVOT_GATE / 2, 1.0]), squared=False)
    assert not pivots_balanced(np.diag([np.nan, 1.0, 3.0]), squared=False)
    assert not pivots_balanced(np.diag([1.0, np.nan, 3.0]), squared=False)
    assert not pivots_balanced(np.diag([1.0, np.inf]), squared=True)
    assert not pivots_balanced(np.diag(np.r_[np.ones(300), np.nan]), squared=False)  # the NumPy path
    assert pivots_balanced(np.diag(np.r_[np.ones(300), 2.0]), squared=True)
    assert pivots_balanced(np.zeros((0, 0)), squared=True)


def test_check_false_skips_the_input_checks():
    """check=False: values are the caller's responsibility; a value that is not symmetric for a
    symbol declared symmetric is not looked at (the map reads what it reads), valid values give
    the checked numbers."""
    J = gls(pd=False, symmetric=True)
    X0, V0 = values()
    H = np.random.default_rng(5).standard_normal((6, 6))
    np.testing.assert_allclose(J.at(X=X0, V=V0, check=False).jvp(H), J.at(X=X0, V=V0).jvp(H), rtol=1e-13)
    skewed = V0.copy()
    skewed[0, 1] += 0.1
    with pytest.raises(ValueError, match="not symmetric"):
        J.at(X=X0, V=skewed)
    J.at(X=X0, V=skewed, check=False)  # not checked: the caller's responsibility


def test_a_symbol_named_check_is_bound_through_the_mapping():
    check = kv.Matrix("check", (3, 3))
    J = kv.jacobian(kv.inv(check), check)
    C0 = np.eye(3) * 2.0
    L = J.at({"check": C0})
    np.testing.assert_allclose(L.value, np.eye(3) / 2)
    np.testing.assert_allclose(J.at({"check": C0}, check=False).value, np.eye(3) / 2)
    with pytest.raises(TypeError, match=r"J.at\(\{'check': value\}\)"):
        J.at(check=C0)
    with pytest.raises(TypeError, match="check= takes True"):
        J.at({"check": C0}, check="results")


@pytest.mark.parametrize("case", ["singular member", "nan member"])
def test_stacks_name_the_member_as_the_full_check_does(case):
    J = gls(pd=False, symmetric=True, stack=(4,))
    X0, V0 = values(stack=(4,))
    if case == "singular member":
        V0[2] = near_singular()
    else:
        V0[1, 0, 0] = np.nan
    full = error_of(J, "full", X=X0, V=V0)
    assert "V" in full[1] and (case == "nan member" or "member 2" in full[1]), full
    assert error_of(J, True, X=X0, V=V0) == full


def test_stacks_give_the_full_numbers(condition_estimates):
    J = gls(pd=False, symmetric=True, stack=(5,))
    X0, V0 = values(stack=(5,))
    H = np.random.default_rng(6).standard_normal((5, 6, 6))
    full = J.at(X=X0, V=V0, check="full").jvp(H)
    for _ in range(3):
        np.testing.assert_allclose(J.at(X=X0, V=V0).jvp(H), full, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pd", [True, False])
def test_a_read_only_stack_bound_again_skips_its_checks(pd, monkeypatch):
    """A read-only stack that passed the checks is not compared with its transpose again (its
    Cholesky factors, when positive definite, are reused); a writeable one is, every time."""
    J = gls(pd=pd, symmetric=not pd, stack=(3,))
    X0, V0 = values(stack=(3,))
    frozen = V0.copy()
    frozen.flags.writeable = False
    reference = J.at(X=X0, V=frozen).value  # checked, and remembered
    compared = []
    original = binding._exactly_symmetric
    monkeypatch.setattr(binding, "_exactly_symmetric", lambda v: compared.append(v.shape) or original(v))
    np.testing.assert_array_equal(J.at(X=X0, V=frozen).value, reference)
    assert compared == []
    J.at(X=X0, V=V0)
    assert compared == [V0.shape]  # a writeable value is checked every time


def test_pivots_balanced_reads_a_nan_cholesky_pivot_anywhere():
    """OpenBLAS's potrf passes a NaN on as a pivot (reference LAPACK stops): Python's min and
    max skip it when it is neither first nor largest; the check must not."""
    assert not pivots_balanced(np.diag([1.0, np.nan, 3.0]), squared=True)
    assert not pivots_balanced(np.diag([2.0, 1.0, np.nan]), squared=True)
    c, info = lapack.dpotrf(np.array([[4.0, 1.0, 0.0], [1.0, 3.0, np.nan], [0.0, np.nan, 2.0]]), lower=0)
    assert info != 0 or not pivots_balanced(c, squared=True)


@pytest.mark.parametrize("n", [3, 20, 120])
def test_a_nan_pair_in_a_positive_definite_value_is_named_without_a_finiteness_pass(n):
    """A positive definite value is checked finite by the pivots of its Cholesky factor; a NaN
    or inf pair anywhere off the diagonal still raises the full check's error."""
    J = gls(n=n)
    for i, j in [(0, 1), (n - 2, n - 1), (0, n - 1)]:
        for bad in (np.nan, np.inf, -np.inf):
            X0, V0 = values(n=n)
            V0[i, j] = V0[j, i] = bad
            with np.errstate(invalid="ignore"):
                full = error_of(J, "full", X=X0, V=V0)
                assert full[0] is ValueError and full[1].startswith("value for V")
                assert error_of(J, True, X=X0, V=V0) == full


@pytest.mark.parametrize("stack", [(), (70,), (2, 3)])
def test_exact_symmetry_is_read_from_the_bits_member_by_member(stack):
    """Values compared as bytes with their transposes: an asymmetric member in a later chunk is
    found, -0.0 against 0.0 (equal numbers, other bits) gives the values of the full check."""
    n = 20
    J = gls(n=n, pd=False, symmetric=True, stack=stack)
    X0, V0 = values(n=n, stack=stack)
    skewed = V0.copy()
    skewed[(-1,) * len(stack) + (3, 5)] += 0.5
    full = error_of(J, "full", X=X0, V=skewed)
    assert "not symmetric" in full[1] and error_of(J, True, X=X0, V=skewed) == full
    zeros = V0.copy()
    zeros[..., 0, 1], zeros[..., 1, 0] = 0.0, -0.0
    np.testing.assert_array_equal(J.at(X=X0, V=zeros).value, J.at(X=X0, V=zeros, check="full").value)
    assert binding.mirror_equal(V0) and not binding.mirror_equal(skewed) and not binding.mirror_equal(zeros)
    for bad in (np.nan, np.inf):  # a pair in the last member: equal bits, not finite
        pair = V0.copy()
        pair[(-1,) * len(stack) + (4, 2)] = pair[(-1,) * len(stack) + (2, 4)] = bad
        with np.errstate(invalid="ignore"):
            full = error_of(J, "full", X=X0, V=pair)
            assert "NaN or inf" in full[1] and error_of(J, True, X=X0, V=pair) == full


def test_finiteness_by_a_sum_lets_large_finite_values_through():
    """A sum that overflows reads as not finite: the exact pass then decides."""
    big = np.full((4, 3), 1e308)
    with np.errstate(over="ignore"):  # (NumPy's sum warned of the overflow too)
        assert not binding.looks_finite(big)
        np.testing.assert_array_equal(binding.convert_value("X", big, (4, 3)), big)
    assert binding.looks_finite(np.ones((3, 4)).T) and not binding.looks_finite(np.r_[1.0, np.nan][::-1])
    with np.errstate(invalid="ignore"):  # inf - inf
        assert not binding.looks_finite(np.r_[np.inf, -np.inf])
    assert not binding.looks_finite(np.full((300, 300), np.inf))
    X = kv.Matrix("X", (4, 3))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(kv.evaluate(X.T, X=big), big.T)


@pytest.mark.parametrize("first", ["full", True])
def test_a_read_only_singular_value_remembered_by_the_full_binding_still_raises(first):
    """A Cholesky factor that the quick binding takes from a value bound before has balanced
    pivots, whichever binding remembered it (the full one does not check pivots): a read-only
    matrix singular to working precision raises the full check's error on every binding."""
    V_ = kv.Matrix("V", (6, 6), positive_definite=True)
    J = kv.jacobian(kv.inv(V_), V_)  # V's factor is the only one
    V = near_singular(rcond=1e-17)
    V.flags.writeable = False
    errors = [error_of(J, check, V=V) for check in (first, True, True, "full")]
    assert errors[0][0] is np.linalg.LinAlgError and "singular to working precision" in errors[0][1]
    assert errors == [errors[0]] * 4


def test_stack_members_of_very_different_scales_are_judged_member_by_member():
    """The whole stack's largest |aᵢᵢ| times its largest ‖Aᵢ⁻¹‖ answers for every member only
    when small enough: members scaled by 1e5 and 1e-5 (each well conditioned) give the full
    check's numbers, and a singular member among them is still named."""
    J = gls(pd=False, symmetric=True, stack=(3,))
    X0, V0 = values(stack=(3,))
    V0[0] *= 1e5
    V0[2] *= 1e-5
    L, full = J.at(X=X0, V=V0), J.at(X=X0, V=V0, check="full")
    H = np.random.default_rng(3).standard_normal((3, 6, 6))
    np.testing.assert_allclose(L.jvp(H), full.jvp(H), rtol=1e-12, atol=0)
    V0[1] = near_singular(rcond=0.0)
    expected = error_of(J, "full", X=X0, V=V0)
    assert "member 1" in expected[1] and error_of(J, True, X=X0, V=V0) == expected
