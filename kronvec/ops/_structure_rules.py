"""Structure rules: the triangle a node's value is known to lie in (read from the ops'
``triangular`` declarations; inverses and solves of triangular nodes become triangular
solves), and the transpose rule of ops that act entry by entry."""
from __future__ import annotations

from ..expr import Expr
from ..registry import Transpose, spec
from ..shapes import matrix_transposed

__all__ = ["triangle", "transposed_alike", "through"]


def _rebuilt_transposed(node: Expr, transposed: list[Expr]) -> Expr:
    """The node rebuilt by its constructor with the transposed arguments in their places."""
    op = spec(node.op)
    args = list(node.args)
    assert op.transpose is not None, "called as the op's transpose rule"
    positions = range(len(args)) if op.transpose.args is None else op.transpose.args
    for i, t in zip(positions, transposed):
        args[i] = t
    return op.rebuilt(node, args)


def through(*positions: int) -> Transpose:
    """op(…)ᵀ = op(…ᵀ): a transpose passes to the arguments at ``positions`` (to all of them
    when none are given), and the node is rebuilt with them by its constructor
    (``OpSpec.rebuilt``): (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ is ``through(0, 1)``."""
    return Transpose(positions or None, _rebuilt_transposed)


def transposed_alike(node: Expr, transposed: list[Expr]) -> Expr:
    """f(A)ᵀ = f(Aᵀ) for an op f acting entry by entry: the same op, with the same
    parameters, on the transposed argument (``Transpose((0,), transposed_alike)``)."""
    return Expr.make(node.op, (transposed[0],), node.params, matrix_transposed(node.shape))


_FLIP = {"lower": "upper", "upper": "lower"}


def triangle(e: Expr) -> str | None:
    """``"lower"`` or ``"upper"`` when ``e``'s value is known to be triangular, else None.

    Read from the ops' ``triangular`` declarations (a Cholesky factor is
    lower triangular); a transpose flips the triangle, a scaling keeps it.
    """
    flips = False
    while e.op in ("matrix_transpose", "scale", "named"):
        flips ^= e.op == "matrix_transpose"
        e = e.args[0]
    rule = spec(e.op).triangular
    found = rule(e) if rule is not None else None
    return _FLIP[found] if found and flips else found
