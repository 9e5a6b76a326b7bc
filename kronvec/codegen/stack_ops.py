"""Generated code over stacks for the norms, decompositions and weights whose one-matrix code
names the two matrix axes or reads one axis argument.

Each template writes the op for a stack of shape ``(..., m, n)`` with NumPy's semantics, as
``kv.evaluate`` computes it (member by member, in one batched call):

* ‖Aᵢ‖_* and ‖Aᵢ‖₂ (the nuclear and spectral norms of every member): the library's matrix norm
  over the last two axes;
* d(Uᵢ Vᵢᵀ)[Hᵢ] (the derivative of the nuclear norm's gradient, in its Hessians), from the
  batched SVD: U ((E − Eᵀ) ⊘ (sᵢ + sⱼ)) Vᵀ with E = Uᵀ H V, plus the terms of a rectangular member;
* the weights of max and min (where each slice attains its extremum, divided by how often) over
  the node's axes of the whole stack.

Ops that cannot be written for a stack are refused by :func:`.stacks.stack_template` by name.
"""
from __future__ import annotations

from typing import Any, Callable

from ..expr import Expr
from .arrays import transposed_members

__all__ = ["STACK_OPS"]


def _matrix_norm(g: Any, e: Expr, x: str) -> str:
    """The nuclear ('nuc') or spectral (2) norm of every member: over the axes (-2, -1)."""
    order = "'nuc'" if e.op == "nuclear_norm" else "2"
    if g.name == "torch":
        return f"torch.linalg.matrix_norm({x}, {order})"
    return f"{g.linalg_module}.norm({x}, {order}, axis=(-2, -1))"


def _polar_frechet(g: Any, e: Expr, a: str, h: str) -> str:
    """d(U Vᵀ)[H] of every member, from one batched SVD (A = U diag(s) Vᵀ reduced, E = Uᵀ H V):
    U ((E − Eᵀ) ⊘ (sᵢ + sⱼ)) Vᵀ, plus ((H V − U E) ⊘ sⱼ) Vᵀ for a tall member, or
    U ((Uᵀ H − E Vᵀ) ⊘ sᵢ) for a wide one."""
    if g.name == "numpy":  # the library's own takes stacks
        own: str = g.render(e, [a, h], stacks=False)
        return own
    svd = g.let(f"{g.linalg_module}.svd({a}, full_matrices=False)", hint="svd")
    u, s, vt = f"{svd}[0]", f"{svd}[1]", f"{svd}[2]"
    ut, v = transposed_members(u), transposed_members(vt)
    inner = g.let(f"{ut} @ {h} @ {v}", hint="E")
    out = f"{u} @ (({inner} - {transposed_members(inner)}) / ({s}[..., :, None] + {s}[..., None, :])) @ {vt}"
    m, n = e.shape[-2:]
    if m > n:
        out += f" + (({h} @ {v} - {u} @ {inner}) / {s}[..., None, :]) @ {vt}"
    elif n > m:
        out += f" + {u} @ (({ut} @ {h} - {inner} @ {vt}) / {s}[..., :, None])"
    return out


def _weights(g: Any, e: Expr, x: str) -> str:
    """max_weights or min_weights over the node's axes (a tuple of axes of the whole stack): the
    one-matrix code reads them as written; ``axis=None`` means the two matrix axes there, so it
    is refused here rather than summed over the wrong axes."""
    if e.params.axis is None:
        g.unsupported(f"{e.op} over all entries of a stack (shape {e.shape})")
    own: str = g.render(e, [x], stacks=False)
    return own


def _lu_factor(g: Any, e: Expr, a: str) -> str:
    """P, L or U of every member (A = P L U): SciPy's and PyTorch's lu take stacks; JAX's
    ``jsla.lu`` takes one matrix, so it is vectorized over the stack axes."""
    if g.name != "jax":
        own: str = g.render(e, [a], stacks=False)
        return own
    m, n = e.args[0].shape[-2:]
    k = min(m, n)
    lu = g.let(f"jnp.vectorize(jsla.lu, signature='(m,n)->(m,m),(m,{k}),({k},n)')({a})", hint="plu")
    return f"{lu}[{('lu_P', 'lu_L', 'lu_U').index(e.op)}]"


def _gap_inverse(g: Any, e: Expr, x: str) -> str:
    """Fᵢⱼ = 1/(xⱼ − xᵢ) off the diagonal, 0 on it, for the column x of every member (NumPy: the
    library's own, which takes stacks and raises at a repeated value)."""
    if g.name == "numpy":
        own: str = g.render(e, [x], stacks=False)
        return own
    eye = g.let(g.eye(e.shape[-1]), hint="I")
    return f"(1.0 - {eye}) / ({transposed_members(x)} - {x} + {eye})"


STACK_OPS: dict[str, Callable[..., str]] = {
    "nuclear_norm": _matrix_norm,
    "spectral_norm": _matrix_norm,
    "polar_frechet": _polar_frechet,
    "max_weights": _weights,
    "min_weights": _weights,
    "lu_P": _lu_factor,
    "lu_L": _lu_factor,
    "lu_U": _lu_factor,
    "gapinv": _gap_inverse,
}
