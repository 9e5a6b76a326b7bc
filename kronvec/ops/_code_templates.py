"""Pieces of the code templates (``OpSpec.code``) that :func:`kronvec.lambdify` writes:
numbers, transposes, sums, slices, the shared eigendecomposition and axis arguments."""
from __future__ import annotations

from typing import Any, Callable

from ..contexts import CodeContext

__all__ = ["code_number", "code_transpose", "code_sum", "code_slice", "code_eigh", "code_axis", "code_for"]


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
