"""The function :func:`kronvec.lambdify` returns: generated code behind a shape check.

Generated code is written for one value per symbol, of the symbol's shape.
Arrays of other shapes would not always fail: NumPy's ``@`` broadcasts over
leading axes while ``x.T`` reverses all of them, so a stack of tangents would
give scrambled numbers.  :class:`GeneratedFunction` compares the shape of
every argument with its symbol's before running the code (one tuple
comparison per argument) and refuses any other shape, naming the argument and
the shape it expects.  It pickles as what it was made from (the arguments, the
outputs and the backend) and generates its code again when unpickled.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ShapeError
from ..shapes import fmt

__all__ = ["GeneratedFunction"]


class GeneratedFunction:
    """A function written by :func:`kronvec.lambdify`; call it with one value per parameter.

    Attributes
    ----------
    source : str
        The generated code.
    backend : str
        ``"numpy"``, ``"jax"`` or ``"torch"``.
    args : tuple of Expr
        The symbols, in the order of the parameters (a Jacobian's tangent is
        the last parameter and not among them).
    shapes : tuple of tuple
        The shape each parameter must have (sizes given as names match any
        size, the same size wherever the name recurs).
    stacked_last : bool
        Whether the last parameter (a Jacobian's tangent) may be a stack of
        them, of any leading axes: the code of the map broadcasts over them and
        returns the stack of results, as a bound map's ``jvp`` does.
    """

    def __init__(self, fn: Callable[..., Any], source: str, backend: str, args: Sequence[Any],
                 params: Sequence[str], shapes: Sequence[tuple[int, ...]], doc: str,
                 remake: tuple[Callable[..., Any], tuple[Any, ...]], stacked_last: bool = False) -> None:
        self._fn, self.source, self.backend, self.args = fn, source, backend, tuple(args)
        self.params, self.shapes = tuple(params), tuple(tuple(s) for s in shapes)
        self.__name__ = self.__qualname__ = fn.__name__
        self.__doc__ = doc
        self._remake = remake
        self.stacked_last = stacked_last
        self._call = _checked(fn, self.params, self.shapes, self._check)

    def __call__(self, *values: Any) -> Any:
        return self._call(*values)

    def _check(self, *values: Any) -> Any:
        """``fn(*values)`` after the full check: refuse a value whose shape is not its
        parameter's; numbers for scalars and any size for a size given as a name pass."""
        sizes: dict[str, tuple[int, str]] = {}
        last = len(self.shapes) - 1
        for k, (value, shape, param) in enumerate(zip(values, self.shapes, self.params)):
            got = tuple(getattr(value, "shape", None) or np.shape(value))
            if k == last and self.stacked_last and len(got) > len(shape):
                got = got[len(got) - len(shape):]  # a stack of tangents: the code broadcasts
            fits = len(got) == len(shape)
            for size, want in zip(got, shape) if fits else ():
                if isinstance(want, str):
                    first = sizes.setdefault(want, (size, param))
                    fits = fits and first[0] == size
                else:
                    fits = fits and size == want
            if not fits:
                got = tuple(getattr(value, "shape", None) or np.shape(value))
                raise ShapeError(f"{self.__name__}: the value of {param} has shape {fmt(got)}, but "
                                 f"{param} is {fmt(shape)}{_stack_hint(got, shape)}")
        return self._fn(*values)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """Pickle as (args, outputs, backend); the code is generated again when unpickled."""
        make, made_from = self._remake
        return (make, made_from)

    def __repr__(self) -> str:
        return f"<kronvec.lambdify {self.__name__}({', '.join(self.params)}), backend {self.backend!r}>"


def _checked(fn: Callable[..., Any], params: tuple[str, ...], shapes: tuple[tuple[int, ...], ...],
             check: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` behind one comparison of the arguments' shapes with ``shapes`` (the full check
    ``check`` where they differ or an argument has no ``shape``), with ``fn``'s parameters."""
    names = ", ".join(params)
    fn_, shapes_, check_ = (_free(base, params) for base in ("fn", "shapes", "check"))
    got = "(" + "".join(f"{p}.shape, " for p in params) + ")"
    source = (f"def {fn.__name__}({names}):\n"
              f"    try:\n"
              f"        if {got} == {shapes_}:\n"
              f"            return {fn_}({names})\n"
              f"    except AttributeError:\n"
              f"        pass\n"
              f"    return {check_}({names})\n")
    namespace: dict[str, Any] = {fn_: fn, shapes_: shapes, check_: check}
    exec(compile(source, f"<kronvec.lambdify {fn.__name__}, checked>", "exec"), namespace)
    checked: Callable[..., Any] = namespace[fn.__name__]
    return checked


def _free(name: str, taken: tuple[str, ...]) -> str:
    """``name`` with underscores appended until no parameter has it."""
    while name in taken:
        name += "_"
    return name


def _stack_hint(got: tuple[int, ...], shape: tuple[int, ...]) -> str:
    if len(got) > len(shape) and tuple(got[len(got) - len(shape):]) == tuple(shape):
        return (" (this function takes one value per parameter, not a stack of them; a bound map "
                "J.at(...) applies jvp/vjp to stacks of tangents, and kv.evaluate takes stacks)")
    return ""
