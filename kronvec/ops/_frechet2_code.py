"""JAX and PyTorch code for the second Fréchet derivatives of expm and logm (in Hessians through them).

Both templates broadcast over leading (stack) axes, so one matrix and a stack are written alike:

* L²_expm(A; H, E) = B₁₃(H, E) + B₁₃(E, H), B₁₃(X, Y) the (1, 3) block of
  exp [[A, X, 0], [0, A, Y], [0, 0, A]]: both orders by one batched matrix exponential, with H and
  E scaled to unit Frobenius norm first (L² is bilinear; the scales are multiplied back), as
  :func:`kronvec.maps.expm_second.expm_second` does;
* L²_logm(A; H, E) for a symmetric A = V diag(w) Vᵀ: V B Vᵀ with
  Bᵢⱼ = Σₖ log[wᵢ, wₖ, wⱼ] (H'ᵢₖ E'ₖⱼ + E'ᵢₖ H'ₖⱼ), H' = Vᵀ H V, E' = Vᵀ E V, and the second divided
  differences of log, log[wᵢ, wₖ, wⱼ] = (G_ik − G_kj)/(wᵢ − wⱼ), with their confluent limits
  (1/wᵢ − G_ik)/(wᵢ − wₖ) at wᵢ = wⱼ and −1/(2wᵢ²) at wᵢ = wₖ = wⱼ (G the first divided
  differences, 1/wᵢ at ties), as :func:`kronvec.maps.frechet.logm_second` does.
"""
from __future__ import annotations

from ..contexts import CodeContext
from ..expr import Expr
from ._code_templates import code_eigh

__all__ = ["code_expm_second", "code_logm_second"]


def _members_transposed(x: str) -> str:
    return f"{x}.swapaxes(-1, -2)"


def code_expm_second(g: CodeContext, e: Expr, a: str, h: str, x: str) -> str:
    """L²_expm(A; H, E) in JAX or PyTorch code (A, H and E broadcast to the node's shape)."""
    n, shape = e.shape[-1], tuple(e.shape)
    torch = g.name == "torch"
    np_ = g.array_module
    cat, stack = ("torch.cat", "torch.stack") if torch else ("jnp.concatenate", "jnp.stack")
    exp = "torch.linalg.matrix_exp" if torch else "jsla.expm"
    spread = "torch.broadcast_to({0}, {1})" if torch else "jnp.broadcast_to({0}, {1})"
    norm = "torch.linalg.matrix_norm({0}, keepdim=True)" if torch else \
        "jnp.linalg.norm({0}, axis=(-2, -1), keepdims=True)"
    A = g.let(spread.format(a, shape), hint="A")
    units, scales = [], []
    for direction, hint in ((h, "H"), (x, "E")):
        size = g.let(norm.format(direction), hint="size")
        scale = g.let(f"{np_}.where({size} > 0, {size}, 1.0)", hint="scale")
        units.append(g.let(spread.format(f"{direction} / {scale}", shape), hint=hint + "_unit"))
        scales.append(scale)
    Z = g.let(f"{np_}.zeros_like({A})", hint="Z")

    def blocks(first: str, second: str) -> str:
        rows = [", ".join(row) for row in ([A, first, Z], [Z, A, second], [Z, Z, A])]
        return f"{cat}([{', '.join(f'{cat}([{row}], -1)' for row in rows)}], -2)"
    corner = g.let(f"{exp}({stack}([{blocks(*units)}, {blocks(*units[::-1])}]))[..., :{n}, {2 * n}:]",
                   hint="corner")
    return f"({corner}[0] + {corner}[1]) * ({scales[0]} * {scales[1]})"


def code_logm_second(g: CodeContext, e: Expr, a: str, h: str, x: str) -> str:
    """L²_logm(A; H, E) in JAX or PyTorch code, in the eigenbasis of a symmetric A (of every
    member of a stack); an A that is not symmetric is refused by name."""
    if not g.symmetric(e.args[0]):
        g.unsupported("logm_frechet2 (the second derivative of logm) at a matrix that is not symmetric")
    np_ = g.array_module
    eigh = code_eigh(g, a)
    w, V = g.let(f"{eigh}[0]", hint="w"), f"{eigh}[1]"
    wi, wt = g.let(f"{w}[..., :, None]", hint="wi"), g.let(f"{w}[..., None, :]", hint="wj")
    gap = g.let(f"{wi} - {wt}", hint="gap")
    ties = f"({gap} == 0)"
    G = g.let(f"{np_}.where({ties}, 1.0 / ({wi} + 0.0 * {wt}), {np_}.log1p({gap} / {wt}) / ({gap} + {ties}))",
              hint="G")
    li, lk, lj = (g.let(f"{w}[..., {s}]", hint=hint) for s, hint in
                  ((":, None, None", "li"), ("None, :, None", "lk"), ("None, None, :", "lj")))
    # ties within a relative 1e-8 in float64 (as the library's), √eps-sized ones in float32
    rel = g.let(f"(1e-8 if {np_}.finfo({w}.dtype).bits == 64 else 3e-4)", hint="rel")
    far = f"({G}[..., :, :, None] - {G}[..., None, :, :]) / ({li} - {lj})"
    confluent = f"(1.0 / {li} - {G}[..., :, :, None]) / ({li} - {lk})"
    near_k = f"{np_}.abs({li} - {lk}) <= {rel} * {np_}.maximum({np_}.abs({li}), {np_}.abs({lk}))"
    apart = f"{np_}.abs({li} - {lj}) > {rel} * {np_}.maximum({np_}.abs({li}), {np_}.abs({lj}))"
    T = g.let(f"{np_}.where({apart}, {far}, {np_}.where({near_k}, -0.5 / {li} ** 2, {confluent}))", hint="T")
    Vt = _members_transposed(V)
    hp, ep = (g.let(f"{Vt} @ {d} @ {V}", hint=hint) for d, hint in ((h, "Hp"), (x, "Ep")))
    inner = "'...ikj,...ik,...kj->...ij'"
    return f"{V} @ ({np_}.einsum({inner}, {T}, {hp}, {ep}) + {np_}.einsum({inner}, {T}, {ep}, {hp})) @ {Vt}"
