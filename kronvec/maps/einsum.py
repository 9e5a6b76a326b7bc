"""Einstein summation: the subscripts of ``kv.einsum`` and the lazy map of its derivative.

A contraction ``s₁,s₂,…->o`` is multilinear in its operands, so its derivative
in operand k is the contraction itself with the tangent in slot k:

    L_k(H) = einsum(s₁, …, s_k, …, ->o)(A₁, …, H, …).

Its adjoint is again a contraction: the cotangent G (subscripts o) is
contracted with the other operands to the subscripts of slot k.  Where slot k
repeats a letter (a diagonal, ``ii``) the repeats get fresh letters tied to the
first by identity matrices δ, and a letter that only slot k holds (summed
out, ``ij->i``) is spread by a vector of ones:

    L_kᵀ(G) = einsum(s₁, …, o, δ…, 𝟙… -> s_k′)(A₁, …, G, I, …, 𝟙, …).

So the adjoint keeps the structure (it is an :class:`EinsumMap` too), and
both are applied by one opt_einsum contraction whose order is planned once
per subscripts and shapes (:func:`kronvec.maps.contract.cached_expression`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .. import registry
from ..errors import ShapeError
from ..expr import Expr
from ..shapes import Shape, as_matrix_shape, fmt
from . import factors as fx
from .base import LinearMap
from .contract import cached_expression
from .operands import Operand, dense_of

__all__ = ["Contraction", "parse_einsum", "EinsumMap", "LETTERS", "contract"]

LETTERS = "ijklmnprstuvxaeho" + "bcdfgqwyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Canonical index letters, in the order they are handed out: first those with a Unicode
subscript (so that index notation prints as Aᵢⱼ), then the rest of NumPy's 52."""


@dataclass(frozen=True)
class Contraction:
    """Explicit einsum subscripts without ellipsis: one string per operand and the output."""

    inputs: tuple[str, ...]
    output: str

    @property
    def text(self) -> str:
        """The subscripts as NumPy reads them, ``ij,jk->ik``."""
        return ",".join(self.inputs) + "->" + self.output

    @classmethod
    def read(cls, text: str) -> "Contraction":
        """The contraction of explicit subscripts ``text`` (as :attr:`text` writes them)."""
        inputs, output = text.split("->")
        return cls(tuple(inputs.split(",")), output)

    def summed(self) -> str:
        """The letters summed over (in no output), in order of first appearance."""
        out = []
        for letter in "".join(self.inputs):
            if letter not in self.output and letter not in out:
                out.append(letter)
        return "".join(out)

    def sizes(self, shapes: Sequence[Shape]) -> dict[str, int]:
        """The size of each letter, read from the operands' shapes."""
        return {letter: int(size) for subs, shape in zip(self.inputs, shapes)
                for letter, size in zip(subs, shape)}


def _fail(subscripts: str, shapes: Sequence[Shape], why: str) -> ShapeError:
    listed = ", ".join(fmt(s) for s in shapes)
    return ShapeError(f"einsum {subscripts!r} with operands of shapes {listed}: {why}")


def _terms(subscripts: str, count: int, shapes: Sequence[Shape]) -> tuple[list[str], str | None]:
    """The input terms and the output term (None: implicit) of NumPy's subscripts."""
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise _fail(subscripts, shapes, "more than one '->'")
    output: str | None = None
    inputs_text = text
    if "->" in text:
        inputs_text, output = text.split("->")
    inputs = inputs_text.split(",")
    if len(inputs) != count:
        raise ValueError(f"einsum {subscripts!r}: {len(inputs)} terms of subscripts for {count} operands")
    for term in inputs + ([output] if output is not None else []):
        rest = term.replace("...", "", 1)
        if "." in rest or not all(c.isascii() and c.isalpha() for c in rest):
            raise ValueError(f"einsum {subscripts!r}: invalid subscripts {term!r} (letters and one '...')")
    return inputs, output


def parse_einsum(subscripts: str, shapes: Sequence[Shape]) -> tuple[Contraction, list[tuple[int, ...]]]:
    """NumPy's einsum subscripts for operands of ``shapes``, made explicit.

    Returns the contraction in canonical letters (handed out from :data:`LETTERS` in order
    of first appearance, with no ellipsis and no broadcasting) and, per operand, the axes of
    length one that broadcast against a longer axis of another operand: the caller drops
    them (NumPy broadcasts them; without them every letter has one size).
    """
    inputs, output = _terms(subscripts, len(shapes), shapes)
    used = set(subscripts)
    spare = iter(c for c in LETTERS if c not in used)
    ell_ndim = []
    for term, shape in zip(inputs, shapes):
        letters = len(term.replace("...", ""))
        if len(shape) < letters or "..." not in term and len(shape) != letters:
            raise _fail(subscripts, shapes,
                        f"the term {term!r} does not match an operand of shape {fmt(shape)}")
        ell_ndim.append(len(shape) - letters if "..." in term else 0)
    ell_letters = "".join(next(spare) for _ in range(max(ell_ndim, default=0)))
    terms = [t.replace("...", ell_letters[len(ell_letters) - e:]) for t, e in zip(inputs, ell_ndim)]
    if output is None:  # implicit: the broadcast axes, then the letters that occur once, sorted
        counts = "".join(t.replace("...", "") for t in inputs)
        output_term = ell_letters + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    else:
        if ell_letters and "..." not in output:
            raise _fail(subscripts, shapes,
                        "the operands have broadcast axes ('...') but the output names none")
        output_term = output.replace("...", ell_letters)
    if len(set(output_term)) != len(output_term):
        raise _fail(subscripts, shapes, f"the output {output!r} repeats a letter")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for letter, size in zip(term, shape):
            if size != 1:
                if sizes.get(letter, size) != size:
                    raise _fail(subscripts, shapes,
                                f"the index {letter!r} has sizes {sizes[letter]} and {size}")
                sizes[letter] = size
    missing = [c for c in output_term if not any(c in t for t in terms)]
    if missing:
        raise _fail(subscripts, shapes, f"the output index {missing[0]!r} appears in no operand")
    squeezes, kept_terms = [], []
    for term, shape in zip(terms, shapes):
        drop = tuple(k for k, (c, s) in enumerate(zip(term, shape)) if s == 1 and sizes.get(c, 1) != 1)
        squeezes.append(drop)
        kept_terms.append("".join(c for k, c in enumerate(term) if k not in drop))
    rename: dict[str, str] = {}
    for c in "".join(kept_terms) + output_term:
        rename.setdefault(c, LETTERS[len(rename)])
    canonical = Contraction(tuple("".join(rename[c] for c in t) for t in kept_terms),
                            "".join(rename[c] for c in output_term))
    return canonical, squeezes


def contract(text: str, *arrays: np.ndarray) -> np.ndarray:
    """The contraction ``text`` of ``arrays`` by opt_einsum, in the order planned once per
    subscripts and shapes."""
    result: np.ndarray = cached_expression(text, *[a.shape for a in arrays])(*arrays)
    return result


def _fresh(used: str) -> Callable[[], str]:
    spare = iter(c for c in LETTERS if c not in used)
    return lambda: next(spare)


def adjoint_contraction(c: Contraction, slot: int, sizes: dict[str, int]) -> tuple[Contraction, list[Any]]:
    """The contraction of Lₖᵀ and its extra operands, as the module docstring says.

    Returns ``(contraction, extras)``: the inputs are the other operands, the cotangent (in
    position ``slot``, subscripts ``c.output``) and then one entry per extra operand,
    ``("delta", n)`` for an identity n × n or ``("ones", n)`` for a vector of ones.
    """
    fresh = _fresh("".join(c.inputs) + c.output)
    target, extras, extra_subs = [], [], []
    for letter in c.inputs[slot]:
        if letter in target:  # a repeat: a fresh letter tied to the first by δ
            new = fresh()
            target.append(new)
            extras.append(("delta", sizes[letter]))
            extra_subs.append(letter + new)
        else:
            target.append(letter)
    others = [s for k, s in enumerate(c.inputs) if k != slot]
    covered = "".join(others) + c.output + "".join(extra_subs)
    for letter in dict.fromkeys(c.inputs[slot]):
        if letter not in covered:  # summed out by slot k alone: spread back by ones
            extras.append(("ones", sizes[letter]))
            extra_subs.append(letter)
    inputs = others[:slot] + [c.output] + others[slot:] + extra_subs
    return Contraction(tuple(inputs), "".join(target)), extras


def _extra_operand(kind: str, n: int, symbolic: bool) -> Any:
    if symbolic:
        return registry.function("eye")(n) if kind == "delta" else registry.function("ones")(n)
    return np.eye(n) if kind == "delta" else np.ones(n)


class EinsumMap(LinearMap):
    """H ↦ einsum(subscripts)(A₁, …, H, …): a contraction with the tangent in one slot.

    Parameters
    ----------
    contraction : Contraction
        Explicit subscripts (:func:`parse_einsum`).
    operands : sequence
        The operands, expressions or arrays, with None in the tangent's slot.
    in_shape, out_shape : tuple
        The tangent's shape (the slot's operand) and the contraction's.

    Notes
    -----
    Tangents arrive in their matrix form (:func:`kronvec.shapes.as_matrix_shape`), possibly with
    leading batch axes; they are read in ``in_shape``, the batch becomes one more letter of
    the contraction, and the result is written in the matrix form of ``out_shape``.
    """

    def __init__(self, contraction: Contraction, operands: Sequence[Any], in_shape: Shape,
                 out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        self.contraction = contraction
        self.operands = tuple(operands)
        self.slot = next(k for k, x in enumerate(self.operands) if x is None)
        sizes = contraction.sizes([self.in_shape if x is None else np.shape(x) for x in self.operands])
        self.operand_shapes = tuple(tuple(sizes[c] for c in subs) for subs in contraction.inputs)
        self._batch_letter = _fresh("".join(contraction.inputs) + contraction.output)()

    def factors(self) -> tuple[Any, ...]:
        return tuple(x for x in self.operands if x is not None)

    def memberwise(self) -> bool:
        return False

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        bound = []
        for x, shape in zip(self.operands, self.operand_shapes):
            if isinstance(x, Expr):
                v = value(x)
                x = np.reshape(dense_of(v) if isinstance(v, Operand) else np.asarray(v, dtype=float), shape)
            bound.append(x)
        return EinsumMap(self.contraction, bound, self.in_shape, self.out_shape)

    def _apply(self, h: Any) -> Any:
        c, k = self.contraction, self.slot
        if fx.is_symbolic(h, *self.factors()):
            if not isinstance(h, Expr):
                h = registry.function("const")(h, column=False)
            h = registry.function("c_order_reshape")(h, self.in_shape)
            operands = [h if x is None else x for x in self.operands]
            return registry.function("einsum")(c.text, *operands)
        h = np.asarray(h, dtype=float)
        lead = h.shape[:h.ndim - len(as_matrix_shape(self.in_shape))]
        if not lead:
            operands = [h.reshape(self.in_shape) if x is None else x for x in self.operands]
            return contract(c.text, *operands).reshape(as_matrix_shape(self.out_shape))
        b = self._batch_letter
        inputs = list(c.inputs)
        inputs[k] = b + inputs[k]
        text = ",".join(inputs) + "->" + b + c.output
        batch = math.prod(lead)
        operands = [h.reshape((batch,) + self.in_shape) if x is None else x for x in self.operands]
        return contract(text, *operands).reshape(lead + as_matrix_shape(self.out_shape))

    def _adjoint(self) -> LinearMap:
        sizes = self.contraction.sizes(self.operand_shapes)
        adjoint, extras = adjoint_contraction(self.contraction, self.slot, sizes)
        symbolic = self.symbolic
        others = [x for x in self.operands if x is not None]
        operands = others[:self.slot] + [None] + others[self.slot:] + \
            [_extra_operand(kind, n, symbolic) for kind, n in extras]
        return EinsumMap(adjoint, operands, self.out_shape, self.in_shape)
