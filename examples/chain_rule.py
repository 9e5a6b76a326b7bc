"""The chain rule as composition of lazy Jacobians.

F = P⁻¹ with P = XᵀV⁻¹X (the GLS covariance). Treat P as a symbol of its own:

    dF = −P⁻¹ dP P⁻¹                vec form  −P⁻ᵀ ⊗ P⁻¹       (3×3 → 3×3)
    dP = −Xᵀ V⁻¹ dV V⁻¹ X           vec form  −(V⁻¹X)ᵀ ⊗ XᵀV⁻¹  (5×5 → 3×3)

The chain rule dF/dV = (dF/dP) ∘ (dP/dV) is `J_FP @ J_PV`. It holds for the
numeric maps (composed lazily, applied right to left) and for the symbolic
ones, where the mixed-product rule (A ⊗ B)(C ⊗ D) = AC ⊗ BD merges the two
Kronecker terms into the single closed form of dF/dV computed directly:

    vec dF = ((V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)) vec dV,   F = P⁻¹.

Composing in the wrong order (or with the wrong inner derivative) is a shape
error: the left map must take what the right map gives.

Finally, `to_tensor()` gives T of shape (3, 3, 5, 5) with
T[i, j, a, b] = ∂F[i, j]/∂V[a, b], checked here entry by entry.

Run:  python examples/chain_rule.py
"""
from __future__ import annotations

import numpy as np

import kronvec as kv

N, M = 5, 3


def symbols():
    X = kv.Matrix("X", (N, M))
    V = kv.Matrix("V", (N, N))
    P = kv.Matrix("P", (M, M))
    return X, V, P


def values(rng: np.random.Generator) -> dict[str, np.ndarray]:
    X0 = rng.standard_normal((N, M))
    A = rng.standard_normal((N, N))
    V0 = A @ A.T / N + np.eye(N) + 0.3 * np.triu(np.ones((N, N)), 1)   # not symmetric
    return {"X": X0, "V": V0}


def compose_numeric(vals: dict[str, np.ndarray]) -> None:
    X, V, P = symbols()
    P_expr = X.T @ kv.inv(V) @ X
    F_full = kv.inv(P_expr).named("F")

    J_FP = kv.jacobian(kv.inv(P), P)
    J_PV = kv.jacobian(P_expr, V)
    J_FV = kv.jacobian(F_full, V)
    print("dF/dP =", J_FP, "   ", J_FP.in_shape, "->", J_FP.out_shape)
    print("dP/dV =", J_PV, "   ", J_PV.in_shape, "->", J_PV.out_shape)
    print("dF/dV =", J_FV, "   ", J_FV.in_shape, "->", J_FV.out_shape)

    P0 = kv.evaluate(P_expr, vals)
    chained = J_FP.at(P=P0) @ J_PV.at(vals)        # lazy: nothing dense is formed
    direct = J_FV.at(vals)
    print("numeric composition:", repr(chained))

    dV = np.random.default_rng(1).standard_normal((N, N))
    assert np.allclose(chained.jvp(dV), direct.jvp(dV))
    assert np.allclose(chained.vjp(np.eye(M)), direct.vjp(np.eye(M)))
    assert np.allclose(chained.to_dense(), direct.to_dense())
    print("J_FP.at(P) @ J_PV.at(X, V) == J_FV.at(X, V): ok (jvp, vjp and dense)")

    symbolic = J_FP @ J_PV
    print("symbolic composition merges to:", symbolic, f"({symbolic.nterms} term)")
    assert symbolic.nterms == 1
    assert np.allclose(symbolic.at(P=P0, **vals).to_dense(), direct.to_dense())


def wrong_composition(vals: dict[str, np.ndarray]) -> None:
    X, V, P = symbols()
    P0 = kv.evaluate(X.T @ kv.inv(V) @ X, vals)
    J_FP = kv.jacobian(kv.inv(P), P).at(P=P0)          # (3, 3) -> (3, 3)
    J_PV = kv.jacobian(X.T @ kv.inv(V) @ X, V).at(vals)  # (5, 5) -> (3, 3)
    J_inv = kv.jacobian(kv.inv(V), V).at(vals)          # (5, 5) -> (5, 5)

    for label, left, right in [("dP/dV @ dF/dP (wrong order)", J_PV, J_FP),
                               ("dF/dP @ dV⁻¹/dV (wrong inner map)", J_FP, J_inv)]:
        try:
            left @ right
        except kv.ShapeError as err:
            print(f"{label}:\n    ShapeError: {err}")
        else:
            raise AssertionError("the composition should not type-check")


def tensor_indices(vals: dict[str, np.ndarray]) -> None:
    X, V, _ = symbols()
    F = kv.inv(X.T @ kv.inv(V) @ X)
    L = kv.jacobian(F, V).at(vals)
    T = L.to_tensor()
    J = L.to_dense()
    print(f"to_dense: {J.shape}, to_tensor: {T.shape}  (T[i, j, a, b] = ∂F[i, j]/∂V[a, b])")

    # Tensor and matrix hold the same numbers: row i + p·j, column a + n·b (column-major vec).
    i, j, a, b = 2, 0, 1, 4
    assert T[i, j, a, b] == J[i + M * j, a + N * b]
    print(f"T[{i}, {j}, {a}, {b}] = J[{i + M * j}, {a + N * b}] = {T[i, j, a, b]:+.6f}")

    # Each slice T[:, :, a, b] is the derivative of F in the single entry V[a, b].
    V0, eps = vals["V"], 1e-6
    for a, b in [(0, 0), (1, 4), (4, 2)]:
        E = np.zeros((N, N))
        E[a, b] = eps
        fd = (kv.evaluate(F, vals, V=V0 + E) - kv.evaluate(F, vals, V=V0 - E)) / (2 * eps)
        assert np.allclose(T[:, :, a, b], fd, atol=1e-7)
        print(f"∂F/∂V[{a}, {b}] from to_tensor matches finite differences, e.g. "
              f"∂F[0, 0]/∂V[{a}, {b}] = {T[0, 0, a, b]:+.6f}")


def main() -> None:
    vals = values(np.random.default_rng(0))
    compose_numeric(vals)
    print()
    wrong_composition(vals)
    print()
    tensor_indices(vals)


if __name__ == "__main__":
    main()
