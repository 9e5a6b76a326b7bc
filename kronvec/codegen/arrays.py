"""Factorizations in generated code, and the code of operations on the members of stacks.

A stack ``(..., m, n)`` holds one matrix per leading index.  Every member's
transpose is ``x.swapaxes(-1, -2)`` (an array method in all three libraries,
unlike ``.mT``, which NumPy has only from 2.0) and every member's diagonal
``diagonal(x, axis1=-2, axis2=-1)`` (``dim1``/``dim2`` in PyTorch).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..evaluation.fused import ones_product_code
from ..expr import Expr

__all__ = ["Factor", "paren", "transposed_members", "diagonals", "numpy_stack_factor", "numpy_stack_solve",
           "product_code"]


@dataclass
class Factor:
    """A factorization in generated code: its kind, the variables holding it and its size.

    ``kind`` is ``"cholesky"``, ``"lu"``, ``"ldl"`` or ``"triangular"`` (then
    ``names`` is the triangular matrix itself and ``lower`` its triangle).
    ``stacked``: the number of stack axes of a stack ``(..., n, n)`` (0 for
    a matrix), factored member by member in one batched call (NumPy: ``names`` is the stack itself, with its
    lower Cholesky factors second for a positive definite one, and ``inverse``
    the variable of its inverses once a second solve formed them).
    """

    kind: str
    names: tuple[str, ...]
    n: int
    lower: bool = False
    stacked: int = 0
    solves: int = 0
    inverses: str | None = None



_SWAP = ".swapaxes(-1, -2)"
_NUMBER = re.compile(r"\(?-?[0-9.e+-]+\)?")


def paren(x: str) -> str:
    """``x`` as an operand: itself if it is a name (``W``, ``W.T``), else in parentheses.

    Examples
    --------
    >>> paren("W.T"), paren("a @ b")
    ('W.T', '(a @ b)')
    """
    return x if x.replace(".", "").replace("_", "a").isalnum() and not x[0].isdigit() else f"({x})"


def transposed_members(x: str, call: bool = False) -> str:
    """The code of the transposes of the members of the stack ``x`` (``call``: x is a call or
    a subscript, which needs no parentheses).

    Examples
    --------
    >>> transposed_members("X"), transposed_members("X.swapaxes(-1, -2)"), transposed_members("a @ b")
    ('X.swapaxes(-1, -2)', 'X', '(a @ b).swapaxes(-1, -2)')
    """
    if x.endswith(_SWAP) and x[:-len(_SWAP)].isidentifier():
        return x[:-len(_SWAP)]
    return f"{x if call else paren(x)}{_SWAP}"


def diagonals(np_name: str, x: str) -> str:
    """The code of the diagonals of the members of ``x``, one per member along the last axis."""
    axes = "dim1=-2, dim2=-1" if np_name == "torch" else "axis1=-2, axis2=-1"
    return f"{np_name}.diagonal({x}, {axes})"


def numpy_stack_factor(g: Any, kind: str, a: str, base: str, n: int, label: str, stacked: int) -> Factor:
    """A stack is factored as the evaluator factors it (no LAPACK wrapper in a loop over
    members): nothing to emit for LU, whose solves are ``np.linalg.solve``; the lower
    Cholesky factors of a positive definite stack, for its determinants."""
    if kind != "cholesky":
        return Factor("lu", (a,), n, stacked=stacked)
    (c,) = g.fresh(base + "_chol")
    g.line(f"{c} = np.linalg.cholesky({a})", f"{label} = LLᵀ, every member")
    return Factor("cholesky", (a, c), n, stacked=stacked)


def numpy_stack_solve(g: Any, f: Factor, b: str, trans: bool) -> str:
    """A⁻¹b for every member, as the evaluator computes it: the first solve by
    ``np.linalg.solve``, the inverses formed by a second and multiplied from then on."""
    f.solves += 1
    a = f.names[0]
    if f.solves == 1 and f.inverses is None:
        return f"np.linalg.solve({transposed_members(a) if trans else a}, {b})"
    if f.inverses is None:
        f.inverses = g.let(f"np.linalg.inv({a})", hint=a + "_inv", shared=False,
                           comment="the inverses of the members, for the solves that follow")
    return f"{transposed_members(f.inverses) if trans else f.inverses} @ {paren(b)}"


def product_code(backend: str, factors: Any, what: Expr | None, left: str, right: str) -> str:
    """The code of the product ``left @ right`` that computes ``what``.

    NumPy: a product with a vector of ones as the broadcast or sum it is.  JAX: Aᵀv with v a
    column (of every member of a stack) as (vᵀA)ᵀ: XLA on the CPU compiles ``A.T @ v`` into a
    loop that reads A across its rows (the gradient Xᵀσ(Xw) − Xᵀy of a logistic loss at
    (2048, 256): 1.67 ms in float32, 0.37 ms in float64), and ``v.T @ A`` into one matrix-vector
    product (0.11 ms and 0.18 ms, measured side by side).
    """
    if backend == "numpy" and what is not None:
        ones = ones_product_code(factors, left, right)
        if ones is not None:
            return ones
    if backend == "jax" and what is not None and what.shape[-1] == 1 and what.shape[-2] > 1 \
            and left.endswith(".T") and left[:-2].isidentifier() and not _NUMBER.fullmatch(right):
        return f"({transposed_members(right)} @ {left[:-2]}){_SWAP}"
    return f"{left} @ {right}"
