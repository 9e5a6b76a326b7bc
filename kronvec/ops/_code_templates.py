"""Pieces of the code templates (``OpSpec.code``) that :func:`kronvec.lambdify` writes:
numbers, transposes, sums, slices, the shared eigendecomposition and axis arguments."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..contexts import CodeContext

__all__ = ["code_number", "code_transpose", "code_sum", "code_slice", "code_eigh", "code_eigenbasis_frechet",
           "code_second_divided_differences", "code_second_frechet", "code_axis", "code_for"]


def code_number(c: float) -> str:
    """A number in generated code (a float literal; negative ones in parentheses)."""
    text = repr(float(c))
    return f"({text})" if text.startswith("-") else text


def code_transpose(x: str) -> str:
    """The code of xᵀ for the code of x.

    Examples
    --------
    >>> code_transpose("W"), code_transpose("W.T"), code_transpose("a @ b")
    ('W.T', 'W', '(a @ b).T')
    """
    if x.endswith(".T") and x[:-2].isidentifier():
        return x[:-2]
    return f"{x}.T" if x.isidentifier() else f"({x}).T"


def code_sum(terms: list[tuple[float, str]]) -> str:
    """c₁x₁ + c₂x₂ + ⋯ as code, for (coefficient, code) pairs.

    Examples
    --------
    >>> code_sum([(1.0, "a"), (-0.5, "b"), (2.0, "c")])
    'a - 0.5 * b + 2.0 * c'
    """
    out = []
    for k, (c, x) in enumerate(terms):
        sign, c = ("-", -c) if c < 0 else ("+", c)
        term = x if c == 1.0 else f"{repr(float(c))} * {x}"
        out.append((f"-{term}" if sign == "-" else term) if k == 0 else f" {sign} {term}")
    return "".join(out)


def code_slice(r: range, size: int) -> str:
    """The slice taking the positions ``r`` of an axis of ``size``, as code.

    Examples
    --------
    >>> code_slice(range(4), 4), code_slice(range(1, 3), 4), code_slice(range(3, -1, -1), 4)
    (':', '1:3', '3::-1')
    """
    if r == range(size):
        return ":"
    stop = r.stop if r.stop >= 0 else None
    text = f"{'' if r.start == 0 and r.step > 0 else r.start}:{'' if stop is None else stop}"
    return text + (f":{r.step}" if r.step != 1 else "")


def code_eigh(g: CodeContext, a: str, uplo: str = "L") -> str:
    """The variable holding ``eigh(a, UPLO)`` (w, V) in generated code, computed once."""
    extra = ", symmetrize_input=False" if g.name == "jax" else ""  # read one triangle, as NumPy
    return g.let(f"{g.linalg_module}.eigh({a}, UPLO={uplo!r}{extra})", hint="eigh")


def code_eigenbasis_frechet(g: CodeContext, fn: str, a: str, h: str, transposed: Callable[[str], str],
                            column: str) -> str:
    """L_f(A, H) = V (G ⊙ Vᵀ H V) Vᵀ of ``fn`` (sqrtm or logm) in the eigenbasis of a symmetric A
    (Daleckii–Krein), with the divided differences Gᵢⱼ = 1/(√wᵢ + √wⱼ), or log(wᵢ/wⱼ)/(wᵢ − wⱼ)
    and 1/wᵢ at ties (exact there).  ``transposed`` writes the transpose (of a matrix or of the
    members of a stack) and ``column`` the subscript that makes w a column (``[:, None]``)."""
    w, V = f"{code_eigh(g, a)}[0]{column}", f"{code_eigh(g, a)}[1]"
    np_ = g.array_module
    if fn == "sqrtm":
        r = g.let(f"{np_}.sqrt(({w} + {np_}.abs({w})) / 2)", hint="root")
        G = f"1.0 / ({r} + {transposed(r)})"
    else:
        wi = g.let(w, hint="w")
        diff = g.let(f"{wi} - {transposed(wi)}", hint="gap")
        ties = f"({diff} == 0)"
        G = (f"{np_}.where({ties}, 1.0 / ({wi} + 0.0 * {transposed(wi)}), "
             f"{np_}.log1p({diff} / {transposed(wi)}) / ({diff} + {ties}))")
    G = g.let(G, hint="G")
    Vt = transposed(V)
    return f"{V} @ ({G} * ({Vt} @ {h} @ {V})) @ {Vt}"


def code_second_divided_differences(g: CodeContext, w: str, f: str, fp: str, fpp: str) -> str:
    """Tᵢₖⱼ = φ[wᵢ, wₖ, wⱼ] in generated code, the rule of
    :func:`kronvec.maps.eigen_frechet.second_divided_differences` written with ``where``: from the
    first divided differences Γ (the quotient apart, (φ'ᵢ + φ'ⱼ)/2 within ε^⅓ of a tie), the
    quotient (Γ[a, b] − Γ[b, c])/(a − c) over the pair (a, c) of the three lying farthest apart, and
    (φ''ᵢ + φ''ₖ + φ''ⱼ)/6 where all three are tied.  ``w``, ``f``, ``fp``, ``fpp``: columns (n, 1),
    or stacks of them (then T of every member)."""
    np_ = g.array_module
    close = float(np.finfo(float).eps ** (1 / 3))
    ws, fs, fps, fpps = (g.let(f"{x}[..., 0]", hint=hint) for x, hint in
                         ((w, "w"), (f, "f"), (fp, "fp"), (fpp, "fpp")))
    keep = "dim=-1, keepdim=True" if g.name == "torch" else "axis=-1, keepdims=True"
    tol = g.let(f"{close!r} * {np_}.amax({np_}.abs({ws}), {keep})[..., None]", hint="tol")  # per member
    dw = g.let(f"{ws}[..., :, None] - {ws}[..., None, :]", hint="gap")
    near = g.let(f"{np_}.abs({dw}) <= {tol}", hint="near")
    G = g.let(f"{np_}.where({near}, ({fps}[..., :, None] + {fps}[..., None, :]) / 2, "
              f"({fs}[..., :, None] - {fs}[..., None, :]) / {np_}.where({near}, 1.0, {dw}))", hint="G")
    Gt = g.let(f"{G}.swapaxes(-1, -2)", hint="Gt")
    wi, wk, wj = f"{ws}[..., :, None, None]", f"{ws}[..., None, :, None]", f"{ws}[..., None, None, :]"
    ij, ik, kj = (g.let(f"{np_}.abs({a} - {b})", hint=hint) for a, b, hint in
                  ((wi, wj, "gap_ij"), (wi, wk, "gap_ik"), (wk, wj, "gap_kj")))
    by_ij = f"({G}[..., :, :, None] - {G}[..., None, :, :]) / {np_}.where({ij} == 0, 1.0, {wi} - {wj})"
    by_ik = f"({G}[..., :, None, :] - {Gt}[..., None, :, :]) / {np_}.where({ik} == 0, 1.0, {wi} - {wk})"
    by_kj = f"({Gt}[..., :, :, None] - {G}[..., :, None, :]) / {np_}.where({kj} == 0, 1.0, {wk} - {wj})"
    apart = f"{np_}.where(({ij} >= {ik}) & ({ij} >= {kj}), {by_ij}, " \
            f"{np_}.where({ik} >= {kj}, {by_ik}, {by_kj}))"
    confluent = f"({fpps}[..., :, None, None] + {fpps}[..., None, :, None] + {fpps}[..., None, None, :]) / 6"
    tied = f"({np_}.maximum({np_}.maximum({ij}, {ik}), {kj}) <= {tol}[..., None])"
    return g.let(f"{np_}.where({tied}, {confluent}, {apart})", hint="T")


def code_second_frechet(g: CodeContext, V: str, T: str, h: str, e: str) -> str:
    """L²(A; H, E) = V B Vᵀ, Bᵢⱼ = Σₖ Tᵢₖⱼ (H'ᵢₖ E'ₖⱼ + E'ᵢₖ H'ₖⱼ), H' = Vᵀ H V, E' = Vᵀ E V, in
    generated code (of every member of a stack)."""
    np_ = g.array_module
    Vt = g.let(f"{V}.swapaxes(-1, -2)", hint="Vt")
    hp, ep = g.let(f"{Vt} @ {h} @ {V}", hint="Hp"), g.let(f"{Vt} @ {e} @ {V}", hint="Ep")
    b = f"{np_}.einsum('...ikj,...kj,...ik->...ij', {T}, {ep}, {hp}) + " \
        f"{np_}.einsum('...ikj,...ik,...kj->...ij', {T}, {ep}, {hp})"
    return f"{V} @ ({b}) @ {Vt}"


def code_axis(g: CodeContext, axis: int | None, keep: bool) -> str:
    """The axis arguments of a reduction in generated code (``", axis=0, keepdims=True"``; PyTorch's
    ``dim=``/``keepdim=``); nothing for ``axis=None`` (all entries, except in PyTorch's logsumexp)."""
    torch = g.name == "torch"
    if axis is None:
        return ", dim=(0, 1)" if torch and keep else ""
    return f", dim={axis}, keepdim={keep}" if torch else f", axis={axis}, keepdims={keep}"


def code_for(**by_backend: Any) -> dict[str, Any]:
    """A code template by backend (``numpy=``, ``jax=``, ``torch=``; ``other=`` for the rest)."""
    return {("*" if k == "other" else k): v for k, v in by_backend.items()}
