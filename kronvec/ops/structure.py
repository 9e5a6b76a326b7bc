"""Diagonals: diag(v) builds a diagonal matrix, diag(A) extracts one."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import DiagEmbedMap, DiagExtractMap
from ..registry import SELF, Printing, register
from ._common import call_printing, func_print, lift, py_call
from .leaves import identity

__all__ = ["diag"]

FAMILY = "structure"


def diag(a: Any) -> Expr:
    """diag(v) for an (n, 1) vector: the (n, n) diagonal matrix; for a square
    (n, n) matrix A: its diagonal as an (n, 1) vector.

    Both are linear, so d diag(A) = diag(dA).
    """
    a = as_expr(a)
    shape = DIAG.signature.check("diag", [a.shape])
    if a.shape == (1, 1):
        return a
    if shape[1] != 1:
        if a.op == "ones":
            return identity(shape[0])  # diag(𝟙) = I
        return Expr.make("diag", (a,), NO_PARAMS, shape)
    if a.op == "diag":
        return a.args[0]
    return Expr.make("diagpart", (a,), NO_PARAMS, shape)


DIAG = register(
    "diag", FAMILY, public="diag", function=diag, signature="(n,1)->(n,n) | (n,n)->(n,1)",
    describe="an (n, 1) vector or a square matrix",
    evaluate=lift(lambda v: np.diag(v[:, 0])), code="{np}.diag({0}[:, 0])",
    jvp=lambda node, i: DiagEmbedMap(node.shape[0]),
    transpose=SELF,
    printing=call_printing("diag", r"\operatorname{diag}", "diag"),
    doc="diag(v) of a vector, or the diagonal of a square matrix",
)

register(
    "diagpart", FAMILY, function=diag,
    evaluate=lift(lambda x: np.diag(x).reshape(-1, 1).copy()), code="{np}.diagonal({0})[:, None]",
    jvp=lambda node, i: DiagExtractMap(node.args[0].shape[0]),
    printing=Printing(func_print("diag"), func_print(r"\operatorname{diag}"), py_call("diag")),
    doc="the diagonal of a square matrix, as a column (built by diag)",
)
