"""How errors name a factored matrix and a solve with it, made only when an error is raised."""
from __future__ import annotations

from ..expr import Expr
from ..registry import DISPLAY

__all__ = ["inverse_label", "solve_label"]


def inverse_label(a: Expr) -> str:
    """``inv(A)`` for the factorization of A."""
    return f"inv({DISPLAY.python(a)})"


def solve_label(factors: tuple[Expr, ...], i: int, k: int, j: int) -> str:
    """``solve(A, B)`` (or ``B @ inv(A)``) for the product of factors[i..k] and factors[k+1..j]."""
    left, right = factors[i:k + 1], factors[k + 1:j + 1]

    def text(fs: tuple[Expr, ...]) -> str:
        return " @ ".join(DISPLAY.python(f) for f in fs)
    if len(left) == 1 and left[0].op == "inv":
        return f"solve({DISPLAY.python(left[0].args[0])}, {text(right)})"
    if len(right) == 1 and right[0].op == "inv":
        return f"{text(left)} @ {DISPLAY.python(right[0])}"
    return text(left + right)
