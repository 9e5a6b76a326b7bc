"""Structure of matrix expressions inferred from their form: symmetric, positive (semi)definite.

The evaluator asks which matrices it is about to factor are symmetric, so that
it factors them by Cholesky (with LDLᵀ or LU as the fallback when that fails)
rather than by an LU that ignores the symmetry.  The rules follow the algebra,
so the symmetry they infer is exact by construction and needs no numeric check:

* leaves: a symbol declared symmetric or whose value is exactly symmetric, I, 0, 𝟙
  (square), a constant equal to its transpose;
* S₁ + S₂, c·S, s·S (a scalar s), S ⊙ T, Sᵀ, S⁻¹, Sᵏ of symmetric S, T; A + Aᵀ;
* palindromic products A₁A₂⋯A₂ᵀA₁ᵀ, e.g. AᵀA, AᵀSA, XᵀS⁻¹X, with a symmetric middle factor.

Positive definiteness follows where it is implied: a declared positive definite
symbol and I are positive definite; AᵀA and AᵀSA (S positive semidefinite) are
positive semidefinite; a sum of positive semidefinite terms with at least one
positive definite term, a positive multiple, an inverse and a power of a positive
definite matrix are positive definite.  A scalar symbol's sign is unknown, so
s·Kx + t·I is symmetric but not known to be positive definite.
"""
from __future__ import annotations

from typing import Collection

import numpy as np

from ..expr import Expr
from ..ops.products import matrix_transpose

__all__ = ["Structure"]

# ops whose value is symmetric when every matrix argument is
_SYMMETRIC_WHEN_ARGS = frozenset({"multiply", "named", "matrix_transpose", "inv", "matrix_power", "scale"})


class Structure:
    """What is known of square matrix expressions: ``symmetric(e)``, ``positive_definite(e)``.

    Parameters
    ----------
    symmetric_symbols : collection of Expr
        Symbols whose bound values are exactly symmetric (declared or not).

    Answers are memoized per instance; an evaluator keeps one for its binding.
    """

    def __init__(self, symmetric_symbols: Collection[Expr] = ()) -> None:
        self._symbols = symmetric_symbols
        self._symmetric: dict[Expr, bool] = {}
        self._definite: dict[Expr, int] = {}  # 0 unknown, 1 positive semidefinite, 2 positive definite

    # ------------------------------------------------------------ symmetry
    def symmetric(self, e: Expr) -> bool:
        """Whether ``e`` (a 2-D matrix) equals its transpose for every value of its symbols."""
        memo = self._symmetric
        if e not in memo:
            for node in e.walk():  # children first: no recursion on deep expressions
                if node not in memo:
                    memo[node] = self._symmetric_node(node)
        return memo[e]

    def _symmetric_node(self, e: Expr) -> bool:
        if e.ndim != 2 or e.shape[0] != e.shape[1]:
            return False
        if e.shape == (1, 1):
            return True
        op, memo = e.op, self._symmetric
        if op == "symbol":
            return bool(e.params.symmetric) or e in self._symbols
        if op in ("eye", "zeros", "ones"):
            return True
        if op == "const":
            value = np.asarray(e.params.value.array)
            return value.ndim == 2 and bool((value == value.T).all())
        if op == "smul":
            return memo[e.args[1]]
        if op == "add":  # every term symmetric, or with its transpose among the terms: A + Aᵀ
            terms = set(e.args)
            return all(memo[a] or matrix_transpose(a) in terms for a in e.args)
        if op in _SYMMETRIC_WHEN_ARGS:
            return all(memo[a] for a in e.args)
        if op == "matmul":
            return self.palindrome(e.args)
        return False

    def palindrome(self, factors: tuple[Expr, ...]) -> bool:
        """Whether A₁⋯Aₖ has Aₖ₊₁₋ᵢ = Aᵢᵀ and a symmetric middle factor (k odd)."""
        k = len(factors)
        for i in range(k // 2):
            a, b = factors[i], factors[k - 1 - i]
            if b is not matrix_transpose(a) and not (a is b and self.symmetric(a)):
                return False
        return k % 2 == 0 or self.symmetric(factors[k // 2])

    # ------------------------------------------------------- definiteness
    def positive_definite(self, e: Expr) -> bool:
        """Whether ``e`` is symmetric positive definite for every value of its symbols
        (that the values of symbols declared so satisfy their declaration)."""
        return self._definiteness(e) == 2

    def positive_semidefinite(self, e: Expr) -> bool:
        """Whether ``e`` is symmetric positive semidefinite for every value of its symbols."""
        return self._definiteness(e) >= 1

    def _definiteness(self, e: Expr) -> int:
        memo = self._definite
        if e not in memo:
            for node in e.walk():
                if node not in memo:
                    memo[node] = self._definite_node(node) if self.symmetric(node) else 0
        return memo[e]

    def _definite_node(self, e: Expr) -> int:
        op, memo = e.op, self._definite
        if op == "symbol":
            return 2 if e.params.positive_definite else 0
        if op == "eye":
            return 2
        if op == "zeros":
            return 1
        if op in ("named", "inv"):
            return memo[e.args[0]] if op == "named" or memo[e.args[0]] == 2 else 0
        if op == "scale":
            return memo[e.args[0]] if e.params.coef > 0 else 0
        if op == "add":
            levels = [memo[a] for a in e.args]
            return 0 if min(levels) == 0 else max(levels)
        if op == "matrix_power":
            base, k = e.args[0], e.params.k
            return memo[base] if memo[base] == 2 else (1 if k % 2 == 0 else memo[base])
        if op == "matmul":  # AᵀA, AᵀSA: palindromes (symmetric, checked above) with a PSD middle
            k = len(e.args)
            return 1 if k % 2 == 0 or memo[e.args[k // 2]] >= 1 else 0
        return 0
