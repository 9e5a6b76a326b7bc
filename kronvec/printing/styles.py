"""What differs between Unicode and LaTeX output.

Op sections print through these methods (``p.s.func("tr", arg)``), passing
their own names for each style; the styles know only the notation shared by
every op: transposes, inverses, powers, parentheses and names.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterable, Iterator

from ..dims import BASE, LETTERING, letters_for, size_text

__all__ = ["Style", "LatexStyle", "UNICODE", "LATEX", "free_letters"]

_LETTERS: ContextVar[Any] = LETTERING  # size_text reads it too (keys such as [:n, m])


@contextmanager
def free_letters(shapes: Iterable[Any]) -> Iterator[None]:
    """Within this block, inferred sizes print with the letters their order of appearance in
    ``shapes`` gives (the first free letter of n, m, p, q, r, k)."""
    token = _LETTERS.set(letters_for(s for shape in shapes for s in shape))
    try:
        yield
    finally:
        _LETTERS.reset(token)


def _size(d: Any) -> str:
    return str(d) if d < BASE else size_text(d, "", _LETTERS.get()).replace(" ", "")  # m+k, n+1

_SUP = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")
_SUB = str.maketrans("0123456789()aehijklmnoprstuvx+-", "₀₁₂₃₄₅₆₇₈₉₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₊₋")
_SUBSCRIPTABLE = set("0123456789(),aehijklmnoprstuvx+-")


class Style:
    """Unicode notation."""

    latex = False
    transpose = "ᵀ"
    inverse = "⁻¹"
    inverse_t = "⁻ᵀ"
    minus = "-"
    kron = " ⊗ "
    hadamard = " ⊙ "
    divide = " ⊘ "
    identity = "I"
    ones = "𝟙"
    zero = "0"
    sqrt = "sqrt"

    def sup(self, text: str) -> str:
        return text.translate(_SUP)

    def func(self, name: str, *args: str) -> str:
        return f"{name}({', '.join(args)})"

    def norm(self, arg: str) -> str:
        return f"‖{arg}‖"

    def paren(self, s: str) -> str:
        return f"({s})"

    def name(self, s: str) -> str:
        return s

    def join(self, parts: list[str], spaced: bool) -> str:
        return (" " if spaced else "").join(parts)

    def scalar_times(self, s: str, m: str) -> str:
        return f"{s} {m}"

    def elem_power(self, base: str, p: str) -> str:
        return f"{base}∘{self.sup(p)}"

    def fraction(self, k: str) -> str:
        """1/k as a coefficient."""
        return f"1/{k}"

    def sized(self, letter: str, *dims: int) -> str:
        """A structured matrix with its size: the identity I₉, the commutation matrix K₍₃,₂₎;
        sizes given as names print with them (Iₙₘ, K₍ₙ,ₘ₎; I_q where Unicode has no subscript q)."""
        sizes = [_size(d) for d in dims]
        text = f"({sizes[0]},{sizes[1]})" if len(sizes) == 2 else sizes[0]
        if set(text) <= _SUBSCRIPTABLE and "min" not in text:  # min(n,m) stays legible
            return letter + text.translate(_SUB)
        return f"{letter}_{text}"


class LatexStyle(Style):
    """LaTeX notation; function names given without a backslash become ``\\operatorname``."""

    latex = True
    transpose = "^{\\top}"
    inverse = "^{-1}"
    inverse_t = "^{-\\top}"
    kron = " \\otimes "
    hadamard = " \\odot "
    divide = " \\oslash "
    ones = "\\mathbf{1}"
    sqrt = "\\sqrt"

    def sup(self, text: str) -> str:
        return f"^{{{text}}}"

    def func(self, name: str, *args: str) -> str:
        if name == self.sqrt:
            return f"\\sqrt{{{args[0]}}}"
        head = name if name.startswith("\\") else "\\operatorname{" + name + "}"
        return head + "\\left(" + ", ".join(args) + "\\right)"

    def norm(self, arg: str) -> str:
        return f"\\left\\|{arg}\\right\\|_F"

    def paren(self, s: str) -> str:
        return f"\\left({s}\\right)"

    def name(self, s: str) -> str:
        if s.endswith("ᵀ"):
            return self.name(s[:-1]) + self.transpose
        if len(s) > 1 and not s.startswith("\\"):
            return f"\\mathrm{{{s}}}" if s.isalpha() else s
        return s

    def join(self, parts: list[str], spaced: bool) -> str:
        return " ".join(parts)

    def scalar_times(self, s: str, m: str) -> str:
        return f"{s} \\, {m}"

    def elem_power(self, base: str, p: str) -> str:
        return f"{base}^{{\\circ {p}}}"

    def fraction(self, k: str) -> str:
        return f"\\frac{{1}}{{{k}}}"

    def sized(self, letter: str, *dims: int) -> str:
        sizes = [_size(d) for d in dims]
        text = f"({sizes[0]},{sizes[1]})" if len(sizes) == 2 else sizes[0]
        return f"{letter}_{{{text.replace('min(', chr(92) + 'min(')}}}"


UNICODE, LATEX = Style(), LatexStyle()
