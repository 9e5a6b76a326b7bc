"""Generated code for sizes given as names: one function that takes any sizes.

``kv.lambdify([X, V], F)`` with ``X`` of shape ``("n", "m")`` returns a
:class:`NamedSizesFunction`: each call reads the sizes from its arguments
(a conflict names the dimension and both arguments), and runs the code
generated for those sizes, written on the first call at them and kept.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..derivative import Jacobian, jacobian
from ..expr import Expr, as_expr
from ..sizing import PerSizes, read_sizes, sized_jacobian, with_sizes

__all__ = ["NamedSizesFunction", "has_named_sizes"]


def has_named_sizes(args: Sequence[Expr], outputs: Any) -> bool:
    """Whether the parameters or the outputs of a function hold sizes given as names."""
    if isinstance(outputs, Jacobian):
        return outputs._per_sizes is not None
    items = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    exprs = [a for a in (list(args) if not isinstance(args, Expr) else [args]) if isinstance(a, Expr)]
    exprs += [as_expr(o) for o in items if isinstance(o, Expr)]
    return any(d >= 2 ** 40 for e in exprs for s in [e, *e.symbols().values()] for d in s.shape)


class NamedSizesFunction:
    """A function of :func:`kronvec.lambdify` whose sizes are names: it takes any sizes.

    Attributes
    ----------
    args : tuple of Expr
        The symbols, in the order of the parameters (sizes as names).
    backend : str
        The backend the code is written for.
    source : str or None
        The code generated for the sizes of the latest call (None before the first).
    """

    def __init__(self, make: Callable[..., Any], args: Sequence[Expr], outputs: Any, backend: str) -> None:
        self._make = make
        self.args = tuple([args] if isinstance(args, Expr) else args)
        self.outputs, self.backend = outputs, backend
        self._per_sizes: PerSizes[Any] = PerSizes()
        self._latest: Any = None

    @property
    def source(self) -> str | None:
        return None if self._latest is None else self._latest.source

    def __call__(self, *values: Any) -> Any:
        symbols = {a.params.name: a for a in self.args}
        given = dict(zip(symbols, values))
        jac = self.outputs if isinstance(self.outputs, Jacobian) else None
        if jac is not None and len(values) == len(self.args) + 1:  # the tangent fixes sizes too
            tangent = jac.wrt if not jac.adjoint and jac.in_shape == jac.wrt.shape else None
            if tangent is not None:
                symbols = {**symbols, "(tangent)": tangent}
                given["(tangent)"] = values[-1]
        sizes = read_sizes("lambdify", symbols, given, required=False)
        fn = self._per_sizes.get(sizes, lambda: self._sized(sizes))
        self._latest = fn
        return fn(*values)

    def _sized(self, sizes: dict[int, int]) -> Any:
        args = with_sizes(list(self.args), sizes)
        if isinstance(self.outputs, Jacobian):
            outputs: Any = sized_jacobian(self.outputs, sizes, jacobian)  # (composed as J is)
        elif isinstance(self.outputs, (tuple, list)):
            outputs = tuple(with_sizes([as_expr(o) for o in self.outputs], sizes))
        else:
            outputs = with_sizes([as_expr(self.outputs)], sizes)[0]
        return self._make(args, outputs, self.backend)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self._make, (self.args, self.outputs, self.backend))

    def __repr__(self) -> str:
        params = ", ".join(a.params.name for a in self.args)
        return f"<kronvec.lambdify f({params}) for any sizes, backend {self.backend!r}>"
