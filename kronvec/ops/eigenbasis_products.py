"""Products in the eigenbasis of ``eigh``, recognised when a product is built (``matmul``).

* V diag(g) Vᵀ and V_G diag(g_G) V_Gᵀ (V_G a block of columns of V) become
  ``eigfun(A, g)`` (g placed at G, zero elsewhere), and V_G V_Gᵀ, the spectral
  projector of the columns G, becomes ``eigfun(A, 𝟙_G)``.  Their derivative is
  Daleckii–Krein's, V (Γ ⊙ Vᵀ dAₛ V) Vᵀ with the divided differences Γ of g, which
  exists also where eigenvalues repeat provided g is equal on each tied group (as for
  the projector onto whole groups and for g = φ(w) elementwise).  Differentiated
  factor by factor, the same product goes through dV, which does not exist there.
* V eⱼ (eⱼ the constant unit column, V of a matrix or of a stack) becomes column j,
  ``eigh_column``, which differentiates where its eigenvalue is simple.

The nodes are looked up in the registry by name (their modules build products).
"""
from __future__ import annotations

import numpy as np

from ..expr import Expr
from ..registry import function as registry_function
from .leaves import Constant

__all__ = ["eigenbasis_sandwiches"]


def _eigenvector_columns(f: Expr) -> tuple[Expr, range] | None:
    """(V, columns) when ``f`` is eigh's V (of a matrix or of a stack) or a block of its columns V[:, G]
    (of a matrix), else None."""
    if f.op == "eigh_vectors":
        return f, range(f.shape[-1])
    if f.op == "index" and f.args[0].op == "eigh_vectors" and f.args[0].ndim == 2 and \
            f.params.rows == range(f.args[0].shape[0]) and len(f.params.cols) > 1:
        return f.args[0], f.params.cols
    return None


def _eigenbasis_sandwich(left: Expr, middle: Expr | None, right: Expr) -> Expr | None:
    """V_G diag(g) V_Gᵀ (or V_G V_Gᵀ, the spectral projector of the columns G) as ``eigfun(A, g)``
    with g placed at G (zero elsewhere), whose derivative is Daleckii–Krein's: defined also where
    eigenvalues repeat (within a tied group it needs g equal on the group, as a projector onto
    whole groups)."""
    found = _eigenvector_columns(left)
    if found is None or right is not left.mT:
        return None
    V, cols = found
    n = V.shape[-1]
    if middle is None:
        inside = np.zeros((n, 1))
        inside[list(cols)] = 1.0
        g = Constant(inside)
    else:
        if middle.op == "diag":
            g = middle.args[0]
        elif n == 1 and middle.shape[-2:] == (1, 1):
            g = middle  # diag(g) = g for 1×1 members
        else:
            return None
        if len(cols) == n and g.shape != V.shape[:-1] + (1,):
            g = _broadcast_constant(g, V.shape[:-1] + (1,))
            if g is None:  # diag(g) of a stack that V is not: the product broadcasts V
                return None
        if len(cols) < n:
            g = registry_function("place")(g, cols, range(1), (n, 1))
    return registry_function("eigfun")(V.args[0], g, V.params.UPLO)


def _broadcast_constant(g: Expr, shape: tuple[int, ...]) -> Expr | None:
    """The constant column g broadcast to ``shape`` (the same g for every member of a stack), or None
    when g is not a constant that broadcasts to it."""
    if g.op != "const" or np.broadcast_shapes(g.shape, shape) != shape:
        return None
    return Constant(np.broadcast_to(g.params.value.array, shape).copy())


def _unit_column(f: Expr) -> int | None:
    """j when ``f`` is the constant unit column eⱼ (n, 1), else None."""
    if f.op != "const" or f.ndim != 2 or f.shape[-1] != 1:
        return None
    value = f.params.value.array
    hits = np.flatnonzero(value != 0)
    return int(hits[0]) if len(hits) == 1 and value.reshape(-1)[hits[0]] == 1.0 else None


def eigenbasis_sandwiches(flat: list[Expr]) -> list[Expr]:
    """Replace V diag(g) Vᵀ and V_G V_Gᵀ in a flat product by ``eigfun`` nodes (see above), and V eⱼ
    (V of eigh, also of a stack) by its column j, ``eigh_column``."""
    if not any(f.op == "eigh_vectors" or f.op == "index" and f.args[0].op == "eigh_vectors" for f in flat):
        return flat
    out: list[Expr] = []
    i = 0
    while i < len(flat):
        j = _unit_column(flat[i + 1]) if flat[i].op == "eigh_vectors" and i + 1 < len(flat) else None
        if j is not None:
            V = flat[i]
            out.append(registry_function("eigh_column")(V.args[0], j, V.params.UPLO))
            i += 2
            continue
        for width in (3, 2):
            parts = flat[i:i + width]
            if len(parts) == width:
                found = _eigenbasis_sandwich(parts[0], parts[1] if width == 3 else None, parts[-1])
                if found is not None:
                    out.append(found)
                    i += width
                    break
        else:
            out.append(flat[i])
            i += 1
    return out
