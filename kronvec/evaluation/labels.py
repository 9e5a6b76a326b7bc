"""How errors name a factored matrix and a solve with it, made only when an error is raised."""
from __future__ import annotations

import numpy as np

from ..expr import Expr
from ..ops.norms import singular_logabsdet
from ..registry import DISPLAY

__all__ = ["inverse_label", "solve_label", "solve_named"]


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


def solve_named(err: np.linalg.LinAlgError, f: Expr) -> np.linalg.LinAlgError:
    """A singular A met as the factor inv(A) of a derivative, named as the solve of ``f`` that
    holds it (``solve(A, B)``, which is how ``kv.solve`` reads), when ``f`` has one."""
    text = str(err)
    for node in f.walk():
        if node.op == "matmul" and node.args[0].op == "inv":
            label = DISPLAY.python(node.args[0])
            if text.startswith(label + ": "):
                a = DISPLAY.python(node.args[0].args[0])
                solve = f"solve({a}, {' @ '.join(DISPLAY.python(x) for x in node.args[1:])})"
                rest = text[len(label) + 2:].replace("the matrix is", f"{a} is", 1)
                return np.linalg.LinAlgError(f"{solve}: {rest} (met while binding the derivative)")
    return singular_logabsdet(err, f) or err  # A⁻¹ of d log|det A|: a DegenerateError naming slogdet
