"""Sizes given as names: the error paths (rigid names, conflicts when values are bound,
broadcasting against a name, an allocation of a named size, a missing size for ``--dense``)."""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.cli import main


def test_names_are_rigid() -> None:
    X, Y = kv.Matrix("X", ("n", "m")), kv.Matrix("Y", ("k", "n"))
    with pytest.raises(kv.ShapeError, match=r"^matmul: \(n, m\) @ \(k, n\): m ≠ k$"):
        X @ Y
    with pytest.raises(kv.ShapeError, match=r"inv: needs a square matrix, got shape \(n, m\)"):
        kv.inv(X)
    with pytest.raises(kv.ShapeError, match=r"square, got \(n, m\)"):
        kv.Matrix("S", ("n", "m"), symmetric=True)
    with pytest.raises(kv.ShapeError, match=r"matmul: \(n, m\) @ \(3, 3\): m ≠ 3"):
        X @ np.ones((3, 3))  # a name never takes a number
    with pytest.raises(kv.ShapeError, match="two different symbols are named 'X'"):
        kv.sum(X) + kv.sum(kv.Matrix("X", ("n", "k")))


def test_inferred_sizes_unify_but_not_two_names() -> None:
    X = kv.Matrix("X")
    assert kv.inv(X).shape[0] == kv.inv(X).shape[1]
    Y = kv.Matrix("Y", ("n", "m"))
    Z = kv.Matrix("Z")
    assert (Z @ Y).shape[1] == Y.shape[1] and str(kv.jacobian(Z @ Y, Z)) == "Yᵀ ⊗ I"
    with pytest.raises(kv.ShapeError, match="not aligned|≠"):
        kv.Matrix("A", ("n", "m")) @ kv.Matrix("B", ("k", "p"))


def test_names_never_broadcast() -> None:
    X = kv.Matrix("X", ("n", "m"))
    with pytest.raises(kv.ShapeError, match=r"add: .*\(n, m\) \(k, m\)"):
        X + kv.Matrix("Y", ("k", "m"))
    with pytest.raises(kv.ShapeError, match=r"add: .*\(n, m\) \(3, 4\)"):
        X + np.ones((3, 4))
    assert str((X + kv.Matrix("r", (1, "m"))).shape) == "(n, m)"  # write 1 to broadcast
    assert str((X + kv.Matrix("c", ("n", 1))).shape) == "(n, m)"
    S = kv.Matrix("S", ("b", "n", "n"))
    with pytest.raises(kv.ShapeError):
        S + kv.Matrix("T", ("c", "n", "n"))
    assert str((S + kv.Matrix("T", (1, "n", "n"))).shape) == "(b, n, n)"


def test_conflicting_values_name_the_size_and_both_sources() -> None:
    X, V = kv.Matrix("X", ("n", "m")), kv.Matrix("V", ("n", "n"))
    F = kv.inv(X.T @ kv.inv(V) @ X)
    message = r"^n is 5 from X \(5, 3\) but 6 from V \(6, 6\)$"
    with pytest.raises(kv.ShapeError, match=message):
        kv.evaluate(F, X=np.ones((5, 3)), V=np.eye(6))
    with pytest.raises(kv.ShapeError, match=message):
        kv.jacobian(F, V).at(X=np.ones((5, 3)), V=np.eye(6))
    with pytest.raises(kv.ShapeError, match=message):
        kv.lambdify([X, V], F)(np.ones((5, 3)), np.eye(6))
    with pytest.raises(kv.ShapeError, match=r"n is 2 from V \(2, 3\) but 3 from V \(2, 3\)"):
        kv.evaluate(kv.trace(V), V=np.ones((2, 3)))
    with pytest.raises(kv.ShapeError, match=r"the value of X has shape \(5,\), but X is \(n, m\)"):
        kv.evaluate(F, X=np.ones(5), V=np.eye(5))
    with pytest.raises(kv.BindingError, match=r"missing value for V \(shape \(n, n\)\)"):
        kv.evaluate(F, X=np.ones((5, 3)))


def test_a_named_size_is_never_allocated() -> None:
    with pytest.raises(kv.ShapeError, match="sizes are names"):
        kv.evaluate(kv.trace(kv.eye("n")) * kv.Matrix("A", (2, 2)), A=np.eye(2))
    with pytest.raises(kv.ShapeError, match="sizes are names"):
        kv.commutation("n", "m").to_dense()
    with pytest.raises(kv.ShapeError, match="sizes are names"):
        kv.commutation("n", "m").jvp(np.ones((2, 3)))
    X = kv.Matrix("X", ("n", "m"))
    with pytest.raises(kv.ShapeError, match=r"give values for X \(n, m\)"):
        kv.jacobian(X @ kv.Matrix("A", ("m", 2)), X).at(A=np.ones((3, 2)))


def test_sizes_from_values_in_expressions_with_size_constants() -> None:
    X = kv.Matrix("X", ("n", "m"))
    f = kv.trace(kv.eye("n") + X @ X.T)  # tr(Iₙ) is n, a number only once values are bound
    for n, m in ((3, 2), (5, 4)):
        X0 = np.arange(n * m, dtype=float).reshape(n, m)
        assert kv.evaluate(f, X=X0) == pytest.approx(n + np.sum(X0 * X0))
        assert kv.evaluate(kv.mean(X), X=X0) == pytest.approx(X0.mean())
        g = kv.grad(kv.mean(X) + kv.sum(X * X), X)
        np.testing.assert_allclose(kv.evaluate(g, X=X0), np.full((n, m), 1 / (n * m)) + 2 * X0)
    with pytest.raises(kv.ShapeError, match=r"sizes \(n, m\) are names that no symbol of the expression"):
        kv.evaluate(kv.grad(kv.mean(X), X), X=np.ones((2, 2)))  # 𝟙/(nm) holds no symbol


def test_command_line_derives_without_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "trace(inv(X))", "--wrt", "X"]) == 0
    assert "∇_X f = -(X⁻²)ᵀ" in capsys.readouterr().out
    assert main(["derive", "a.T @ inv(X) @ b", "--wrt", "X"]) == 0
    out = capsys.readouterr().out
    assert "∇_X f = -X⁻ᵀabᵀX⁻ᵀ" in out and "a: n×1, X: n×n, b: n×1" in out
    assert main(["derive", "inv(X.T @ inv(V) @ X)", "--wrt", "V", "--check"]) == 0
    out = capsys.readouterr().out
    assert "vec dF = ((V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)) vec dV" in out
    assert "checked at n = 4, m = 3: max error" in out
    assert main(["derive", "inv(X)", "--wrt", "X", "--check", "--latex"]) == 0
    out = capsys.readouterr().out
    assert "vec dF = (-Fᵀ ⊗ F) vec dX" in out and "checked at n = 4: max error" in out
    assert main(["derive", "a.T @ X @ b", "--wrt", "X", "--shape", "a=3"]) == 0  # --shape still decides
    assert "a: 3×1, X: 3×n, b: n×1" in capsys.readouterr().out


def test_command_line_dense_asks_for_sizes(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    target = tmp_path / "J.npy"
    assert main(["derive", "inv(X.T @ inv(V) @ X)", "--wrt", "V", "--dense", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--dense needs sizes, and m, n are names" in err
    assert "--shape X=4x3 --shape V=4x4" in err and not target.exists()
    assert main(["derive", "inv(X.T @ inv(V) @ X)", "--wrt", "V", "--shape", "X=4x3",
                 "--dense", str(target)]) == 0
    assert np.load(target).shape == (9, 16)


@pytest.mark.parametrize("question", ["inv(X)", "a.T @ inv(X) @ b", "trace(inv(X))", "inv(X.T @ inv(V) @ X)",
                                      "logdet(X)", "det(X)", "trace(A @ X @ B)", "a.T @ X @ b", "X.T @ X",
                                      "kron(X, Y)", "exp(X) * X", "inv(X.T @ X + 2 * eye(3))"])
def test_seed_questions_derive_and_check_without_sizes(question: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", question, "--wrt", "X", "--check"]) == 0, capsys.readouterr().err
    assert "(passed)" in capsys.readouterr().out
