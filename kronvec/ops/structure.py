"""Diagonals: diag(v) builds a diagonal matrix, diag(A) extracts one."""
from __future__ import annotations

import numpy as np

from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..maps import DiagEmbedMap, DiagExtractMap
from ..registry import Printing, SELF, inferring, register, signature_of
from ..shapes import stack_of
from ._evaluation_rules import lift
from ._printing_rules import call_printing, func_print, py_call
from .leaves import eye

__all__ = ["diag"]



@inferring
def diag(a: Operand) -> Expr:
    """diag(v) for an (n, 1) vector: the (n, n) diagonal matrix; for a square
    (n, n) matrix A: its diagonal as an (n, 1) vector.

    For a stack, the same for each member (vectors ``(b, n, 1)`` and matrices
    ``(b, n, n)``), as kronvec's other functions of matrices act on the last
    two axes.  Both are linear, so d diag(A) = diag(dA).
    """
    a = as_expr(a)
    shape = signature_of(DIAG).check("diag", [a.shape])
    if a.shape[-2:] == (1, 1):
        return a
    if shape[-1] != 1:
        if a.op == "ones" and a.ndim == 2:
            return eye(shape[0])  # diag(𝟙) = I
        return Expr.make("diag", (a,), NO_PARAMS, shape)
    if a.op == "diag":
        return a.args[0]
    return Expr.make("diagpart", (a,), NO_PARAMS, shape)


def _embed(v: np.ndarray) -> np.ndarray:
    if v.ndim == 2:
        return np.diag(v[:, 0])
    n = v.shape[-2]
    out = np.zeros(v.shape[:-1] + (n,))
    out[..., np.arange(n), np.arange(n)] = v[..., 0]
    return out


DIAG = register(
    "diag", public="diag", function=diag, signature="(n,1)->(n,n) | (n,n)->(n,1)", stacks=True,
    describe="an (n, 1) vector or a square matrix",
    evaluate=lift(_embed), code="{np}.diag({0}[:, 0])",
    jvp=lambda node, i: DiagEmbedMap(node.shape[-1], stack_of(node.shape)),
    transpose=SELF,
    printing=call_printing("diag", r"\operatorname{diag}", "diag"),
    doc="diag(v) of a vector, or the diagonal of a square matrix",
)

register(
    "diagpart", function=diag, stacks=True,
    evaluate=lift(lambda x: np.diagonal(x, axis1=-2, axis2=-1)[..., None].copy()),
    code="{np}.diagonal({0})[:, None]",
    jvp=lambda node, i: DiagExtractMap(node.args[0].shape[-1], stack_of(node.shape)),
    printing=Printing(func_print("diag"), func_print(r"\operatorname{diag}"), py_call("diag")),
    doc="the diagonal of a square matrix, as a column (built by diag)",
)
