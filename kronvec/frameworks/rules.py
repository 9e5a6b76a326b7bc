"""The derivative rules of ``kv.jax_function`` and ``kv.torch_function`` as kronvec expressions.

For outputs F_k of the symbols X_i the JVP is, for tangents Ḣ_i (new symbols
of the shapes of the X_i),

    dF_k = Σ_i J_ki(s_i(Ḣ_i)),     J_ki = kv.jacobian(F_k, X_i),

and the VJP, for cotangents Ḡ_k of the shapes of the F_k,

    X̄_i = s_i(Σ_k J_kiᵀ(Ḡ_k)),

with s_i(H) = (H + Hᵀ)/2 for a symbol declared symmetric (or positive
definite) and s_i(H) = H otherwise: the function is f(s(X)) and its
derivatives are those of f∘s, so a finite difference of one entry of a
symmetric argument agrees with them.  ``J.apply`` writes each map applied to a
symbol as an expression, so the rules can be differentiated again.
"""
from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Sequence

from ..derivative import jacobian
from ..evaluation import symbol_table
from ..expr import Expr, as_expr
from ..lazy import optional_module
from ..ops.leaves import Matrix, Scalar
from ..sizing import PerSizes, named_symbols, read_sizes, with_sizes

__all__ = ["library", "Signature", "symmetrized", "value_shape", "check_declared", "AnySizes"]


def value_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the framework's value of an expression of ``shape``: () for a scalar or a 1×1."""
    return () if tuple(shape) in ((), (1, 1)) else tuple(shape)


def library(module: str, extra: str, what: str) -> ModuleType:
    """The module ``module``, imported now; an ImportError naming the extra ``kronvec[extra]``."""
    return optional_module(module, extra, what)


def symmetrized(x: Expr) -> Expr:
    """(X + Xᵀ)/2."""
    return 0.5 * (x + x.mT)


def check_declared(what: str, sym: Expr, value: Any, eps: float, definite: Callable[[Any], bool]) -> None:
    """Raise a ValueError naming ``sym`` if the concrete ``value`` (a JAX array or a tensor) breaks
    its declaration: far from symmetric (max |V − Vᵀ| above max(10⁻⁵, 10³ε) max |V|), or, for a
    positive definite symbol, (V + Vᵀ)/2 not positive definite (``definite`` False: its Cholesky
    factorization fails).

    The function reads the value as (V + Vᵀ)/2, so an asymmetry of the size finite differences make
    (``gradcheck`` perturbs one entry) is the derivative's business, not an error; a value that is
    not symmetric at all, or is indefinite, would silently give the numbers of another function.
    """
    flipped = value.swapaxes(-1, -2)
    gap, scale = float(abs(value - flipped).max()), float(abs(value).max())
    declared = "positive definite" if sym.params.positive_definite else "symmetric"
    if gap > max(1e-5, 1e3 * eps) * scale:
        raise ValueError(f"{what}: the value of {sym.params.name} (declared {declared}, shape "
                         f"{tuple(sym.shape)}) is not symmetric: max |V - Vᵀ| = {gap:.3g} for max |V| = "
                         f"{scale:.3g}")
    if sym.params.positive_definite and not definite((value + flipped) / 2):
        raise ValueError(f"{what}: the value of {sym.params.name} (declared positive definite, shape "
                         f"{tuple(sym.shape)}) is not positive definite (its Cholesky factorization fails)")


def _symbol_like(name: str, shape: tuple[int, ...]) -> Expr:
    """A new unstructured symbol called ``name`` of ``shape`` (a scalar, a matrix or a stack)."""
    return Scalar(name) if shape == () else Matrix(name, shape)


def _fresh(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    taken.add(name)
    return name


class Signature:
    """The symbols and outputs of a framework function, and its derivative rules as expressions.

    Attributes
    ----------
    args : tuple of Expr
        The symbols, in the order of the function's parameters.
    outputs : tuple of Expr
        The outputs (always a tuple here; ``several`` says whether the
        function returns one).
    symmetric : tuple of bool
        Whether each argument is declared symmetric (then it is read as (X + Xᵀ)/2).
    """

    def __init__(self, args: Sequence[Expr], outputs: Any, what: str) -> None:
        if isinstance(args, Expr):
            args = [args]
        self.args = tuple(args)
        for a in self.args:
            if not isinstance(a, Expr) or a.op != "symbol":
                raise TypeError(f"{what}: args must be symbols (kv.Matrix, kv.Vector, kv.Scalar), got {a!r}")
        self.several = isinstance(outputs, (tuple, list))
        self.outputs = tuple(as_expr(o) for o in (outputs if self.several else [outputs]))
        self.output_shapes = tuple(value_shape(o.shape) for o in self.outputs)
        # the arguments given as 0-d values whose symbols are 1×1 (cotangents of 1×1 outputs)
        self.one_by_one = tuple(tuple(a.shape) == (1, 1) for a in self.args)
        self.symmetric = tuple(bool(a.params.symmetric) and len(a.shape) >= 2 and a.shape[-1] == a.shape[-2]
                               and a.shape[-1] != 1 for a in self.args)
        # the arguments whose declared structure concrete values are checked against
        self.declared = tuple(i for i, sym in enumerate(self.symmetric) if sym)
        self._uses = [set(symbol_table([o]).values()) for o in self.outputs]
        self._taken = {a.params.name for a in self.args}

    def _jacobian(self, k: int, i: int) -> Any:
        return jacobian(self.outputs[k], self.args[i]) if self.args[i] in self._uses[k] else None

    def jvp(self, wanted: Sequence[bool] | None = None) -> tuple[tuple[Expr, ...], list[Expr | None]]:
        """(the tangent symbols, one per argument ``wanted`` (default: all); dF_k for each output, None
        where it is zero): the terms of the other arguments, whose tangents are zero, are left out."""
        wanted = [True] * len(self.args) if wanted is None else list(wanted)
        tangents = tuple(_symbol_like(_fresh("d" + a.params.name, self._taken), a.shape) for a in self.args)
        out: list[Expr | None] = []
        for k in range(len(self.outputs)):
            terms = []
            for i, h in enumerate(tangents):
                jac = self._jacobian(k, i) if wanted[i] else None
                if jac is not None:
                    terms.append(jac.apply(symmetrized(h) if self.symmetric[i] else h))
            out.append(_sum(terms))
        return tuple(h for h, w in zip(tangents, wanted) if w), out

    def vjp(self) -> tuple[tuple[Expr, ...], list[Expr | None]]:
        """(the cotangent symbols, one per output; X̄_i for each argument, None where it is zero)."""
        names = [_fresh(a.params.name + "_bar", set(self._taken)) for a in self.args]
        self._taken.update(names)
        cotangents = tuple(_symbol_like(_fresh(f"out{k}_bar", self._taken), o.shape)
                           for k, o in enumerate(self.outputs))
        out: list[Expr | None] = []
        for i in range(len(self.args)):
            terms = []
            for k, g in enumerate(cotangents):
                jac = self._jacobian(k, i)
                if jac is not None:
                    terms.append(jac.T.apply(g))
            total = _sum(terms)
            out.append(symmetrized(total) if total is not None and self.symmetric[i] else total)
        return cotangents, out


def _sum(terms: list[Expr]) -> Expr | None:
    if not terms:
        return None
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


class AnySizes:
    """A framework function of symbols with sizes given as names: it takes any sizes.

    Each call reads the sizes from the last axes of its values (the leading ones are stack axes)
    and runs the function made for the symbols and outputs with those numbers, made on the first
    call at them and kept (:class:`~kronvec.sizing.PerSizes`), so each size set generates, and
    JAX or PyTorch compiles, its code once.

    Raises
    ------
    kronvec.ShapeError
        Two values give one name two numbers (the message names the dimension and both values),
        or a value has fewer axes than its symbol.
    """

    def __init__(self, what: str, sig: Signature, make: Callable[[Sequence[Expr], Any], Callable[..., Any]]
                 ) -> None:
        self.what, self.sig, self._make = what, sig, make
        self._per_sizes: PerSizes[Callable[..., Any]] = PerSizes()
        self.__name__ = self.__qualname__ = what.removeprefix("kv.")
        self.__doc__ = (f"{', '.join(str(o) for o in sig.outputs)} for values of any sizes "
                        f"(generated by {what} for each size set)")

    @staticmethod
    def wanted(sig: Signature) -> bool:
        """Whether the signature's symbols or outputs have sizes given as names."""
        return named_symbols(sig.args) or named_symbols(sig.outputs)

    def __call__(self, *values: Any) -> Any:
        args = self.sig.args
        if len(values) != len(args):
            raise TypeError(f"{self.what}: {len(args)} values expected "
                            f"({', '.join(a.params.name for a in args)}), got {len(values)}")
        # the symbol's own axes: the last ones (a value with fewer axes is named by read_sizes)
        own = {a.params.name: SimpleNamespace(shape=tuple(v.shape)[max(len(v.shape) - len(a.shape), 0):])
               for a, v in zip(args, values)}
        sizes = read_sizes(self.what, {a.params.name: a for a in args}, own)
        return self._per_sizes.get(sizes, lambda: self._sized(sizes))(*values)

    def _sized(self, sizes: dict[int, int]) -> Callable[..., Any]:
        sized = with_sizes(list(self.sig.args) + list(self.sig.outputs), sizes)
        n = len(self.sig.args)
        outputs = tuple(sized[n:]) if self.sig.several else sized[n]
        return self._make(sized[:n], outputs)
