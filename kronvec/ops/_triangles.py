"""The triangle a node's value is known to lie in (read from the ops' ``triangular``
declarations): inverses and solves of triangular nodes become triangular solves."""
from __future__ import annotations

from ..expr import Expr
from ..registry import spec

__all__ = ["triangle"]


_FLIP = {"lower": "upper", "upper": "lower"}


def triangle(e: Expr) -> str | None:
    """``"lower"`` or ``"upper"`` when ``e``'s value is known to be triangular, else None.

    Read from the ops' ``triangular`` declarations (a Cholesky factor is
    lower triangular); a transpose flips the triangle, a scaling keeps it.
    """
    flips = False
    while e.op in ("transpose", "scale", "named"):
        flips ^= e.op == "transpose"
        e = e.args[0]
    rule = spec(e.op).triangular
    found = rule(e) if rule is not None else None
    return _FLIP[found] if found and flips else found
