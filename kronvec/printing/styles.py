"""What differs between Unicode and LaTeX output.

Op sections print through these methods (``p.s.func("tr", arg)``), passing
their own names for each style; the styles know only the notation shared by
every op: transposes, inverses, powers, parentheses and names.
"""
from __future__ import annotations

__all__ = ["Style", "LatexStyle", "UNICODE", "LATEX"]

_SUP = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")
_SUB = str.maketrans("0123456789()", "₀₁₂₃₄₅₆₇₈₉₍₎")


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
        """A structured matrix with its size: the identity I₉, the commutation matrix K₍₃,₂₎."""
        text = f"({dims[0]},{dims[1]})" if len(dims) == 2 else str(dims[0])
        return letter + text.translate(_SUB)


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
        text = f"({dims[0]},{dims[1]})" if len(dims) == 2 else str(dims[0])
        return f"{letter}_{{{text}}}"


UNICODE, LATEX = Style(), LatexStyle()
