"""Generated code: ``kv.lambdify(args, outputs, backend="numpy")``.

The generated function makes the decisions the evaluator makes, because it
is written from an evaluation: the outputs are evaluated once with
representative values (random values that satisfy the declarations: SPD for
positive definite symbols, symmetric for symmetric ones, generic otherwise),
with the evaluator describing what it does (:attr:`Evaluator.described`), and
each step becomes one line (:mod:`.emit`): the evaluator's own steps
(factorizations, solves, inverses, products in the chosen order,
transposes) through the backend (:mod:`.backends`), every other node through
its op's ``code`` template in the registry.  For a Jacobian the map's
factors are evaluated the same way and its terms become one line each
(:mod:`.maps`).  So the code has one factorization per matrix (Cholesky for
positive definite symbols) reused by every solve and log-determinant,
inverses only where an inverse itself is wanted, and one assignment per value
the evaluator shares between the outputs.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..derivative import Jacobian
from ..errors import DegenerateError
from ..evaluation import Evaluator, bind_values, symbol_table
from ..expr import Expr, as_expr, display_names, strip_names
from ..maps import expression_factors
from ..printing import abbreviate, to_unicode
from ..shapes import as_matrix_shape
from ..sample_values import random_matrix
from .backends import BACKENDS, Backend, backend as backend_named
from .emit import CodegenError, Emitter, identifier
from .function import GeneratedFunction
from .maps import MAP_CODE, apply_map
from .named import NamedSizesFunction, has_named_sizes

__all__ = ["lambdify", "BACKENDS", "MAP_CODE", "CodegenError", "GeneratedFunction"]

_RESERVED = {"like", "dict"}


def lambdify(args: Sequence[Expr], outputs: Any, backend: str = "numpy") -> Callable[..., Any]:
    """A Python function computing ``outputs`` from the values of ``args``, as generated code.

    Parameters
    ----------
    args : sequence of symbols
        The function's parameters, in order (every symbol of the outputs must
        be among them).
    outputs : Expr, tuple of Expr, or Jacobian
        What the function returns: one value, a tuple of values, or, for a
        Jacobian ``J = kv.jacobian(F, V)``, the JVP dF for a tangent dV passed
        as the last argument (``J.T``: the VJP V̄ for a cotangent F̄ passed
        last).
    backend : "numpy", "jax" or "torch"
        NumPy and SciPy; ``jax.numpy`` and ``jax.scipy.linalg`` (no Python
        control flow on values, so ``jax.jit(f)`` works, on any device JAX
        uses); or ``torch.linalg`` (new arrays take the dtype and device of the
        first argument).

    Returns
    -------
    GeneratedFunction
        A callable; ``f.source`` is its code, ``f.backend`` the backend's name
        and ``f.args`` the symbols.  It checks the shape of every value it is
        given (one comparison each) and raises ``kv.ShapeError`` naming the
        parameter and its shape for any other shape, a stack included; the
        values themselves are not checked (pass symmetric ones for symmetric
        symbols).  It pickles as ``(args, outputs, backend)`` and generates its
        code again when unpickled.

    Raises
    ------
    ValueError
        An unknown backend (the message lists them), or a symbol of the
        outputs that is not among ``args``.
    ImportError
        The backend's library is not installed; the message names the extra
        (``pip install "kronvec[jax]"``).
    kronvec.codegen.CodegenError
        An operation the backend cannot write (a ``NotImplementedError``).

    Examples
    --------
    >>> import numpy as np, kronvec as kv
    >>> K = kv.Matrix("K", (3, 3), positive_definite=True)
    >>> y = kv.Vector("y", 3)
    >>> f = kv.lambdify([K, y], kv.solve(K, y))
    >>> print(f.source)
    def f(K, y):
        K_chol = lapack.dpotrf(K.T, lower=0, clean=1)[0]  # K = UᵀU (K.T: Fortran order)
        t1 = lapack.dpotrs(K_chol, y, lower=0)[0]  # K⁻¹y
        return t1
    >>> K0 = np.eye(3) * 2.0
    >>> f(K0, np.ones((3, 1))).ravel()
    array([0.5, 0.5, 0.5])
    """
    if has_named_sizes(args, outputs):  # code for each size set the calls bring
        return NamedSizesFunction(lambdify, args, outputs, backend)
    request = _request(args, outputs, backend_named(backend))
    return _compiled(request, _written(request))


@dataclass(frozen=True)
class _Request:
    """What :func:`lambdify` was asked for, checked: the backend, the parameters by their names
    in the code, the outputs (plain expressions, or a Jacobian ``jac``), the expressions the code
    evaluates (``roots``: the outputs, or the Jacobian's factors) and their display names."""

    be: Backend
    space: dict[str, Any]
    params: dict[Expr, str]
    outputs: Any
    jac: Jacobian | None
    exprs: list[Expr]
    names: dict[Expr, str]
    several: bool
    roots: list[Expr]


@dataclass(frozen=True)
class _Code:
    """The generated source of a request: the function's name, its parameter list, and whether
    it takes a stack of tangents as its last argument."""

    emitter: Emitter
    name: str
    arglist: list[str]
    source: str
    stacked_last: bool


def _request(args: Sequence[Expr], outputs: Any, be: Backend) -> _Request:
    """The request, with every symbol of the outputs among ``args`` (a ``ValueError`` naming the
    missing ones otherwise)."""
    space = be.namespace()
    params = _params(args, set(space))
    jac = outputs if isinstance(outputs, Jacobian) else None
    exprs, names, several = _outputs(outputs, jac)
    roots = list(dict.fromkeys(expression_factors(jac.map))) if jac is not None else exprs
    missing = [s for s in symbol_table(roots).values() if s not in params]
    if missing:
        raise ValueError(f"lambdify: the outputs contain {', '.join(s.params.name for s in missing)}, "
                         f"which {'is' if len(missing) == 1 else 'are'} not among the args "
                         f"({', '.join(s.params.name for s in params) or 'none'})")
    return _Request(be, space, params, outputs, jac, exprs, names, several, roots)


def _written(request: _Request) -> _Code:
    """The source of the function: the evaluator's described steps, one line each, then the
    outputs (or the Jacobian's map applied to the tangent, the last parameter)."""
    ev = _described_evaluation(request.roots)
    names = abbreviate(request.roots, request.names)
    g = Emitter(request.be, ev, names, request.params, set(request.space) | _RESERVED)
    assert ev.described is not None, "an evaluation that describes its steps"
    g.run(ev.described)
    arglist = [request.params[s] for s in request.params]
    jac = request.jac
    if jac is None:
        result = [g.value(e) for e in request.exprs]
        return _Code(g, "f", arglist, _assemble(g, "f", arglist, result, request.several), False)
    (tangent,) = g.fresh(_tangent_name(jac, names))
    arglist.append(tangent)
    h = tangent
    if as_matrix_shape(jac.in_shape) != tuple(jac.in_shape):
        h = g.let(f"{tangent}.reshape{as_matrix_shape(jac.in_shape)}", hint=tangent + "2")
    code = g.rename(apply_map(g, jac.map, h), _result_name(jac, names))
    result = [_reshaped(code, jac.out_shape)]
    name = "vjp" if jac.adjoint else "jvp"
    stacks = g.batched and h == tangent and result[0] == code  # no reshape of either end
    return _Code(g, name, arglist, _assemble(g, name, arglist, result, False), stacks)


def _compiled(request: _Request, code: _Code) -> GeneratedFunction:
    """The generated function: ``code.source`` run in the backend's namespace with the
    emitter's helpers (constants in the backend's arrays)."""
    be, jac = request.be, request.jac
    namespace = dict(request.space)
    namespace.update({k: be.constant(request.space, v) if isinstance(v, np.ndarray) else v
                      for k, v in code.emitter.helpers.items()})
    exec(compile(code.source, f"<kronvec.lambdify {code.name}>", "exec"), namespace)  # our own source
    params = tuple(request.params)
    shapes = [s.shape for s in params] + ([jac.in_shape] if jac is not None else [])
    return GeneratedFunction(namespace[code.name], code.source, be.name, params, code.arglist, shapes,
                             _docstring(request.outputs, jac, request.exprs, be),
                             stacked_last=code.stacked_last,
                             remake=(lambdify, (params, request.outputs, be.name)))


def _params(args: Sequence[Expr], reserved: set[str]) -> dict[Expr, str]:
    if isinstance(args, Expr):
        args = [args]
    out: dict[Expr, str] = {}
    for a in args:
        if not isinstance(a, Expr) or a.op != "symbol":
            raise TypeError(f"lambdify: args must be symbols (kv.Matrix, kv.Vector, kv.Scalar), got {a!r}")
        name = a.params.name
        while name in reserved or keyword.iskeyword(name) or name in out.values():
            name += "_"
        out[a] = name
    return out


def _outputs(outputs: Any, jac: Jacobian | None) -> tuple[list[Expr], dict[Expr, str], bool]:
    """(the plain output expressions, their display names, whether a tuple is returned)."""
    if jac is not None:
        return [], dict(jac.names), False
    several = isinstance(outputs, (tuple, list))
    items = list(outputs) if several else [outputs]
    if any(isinstance(o, Jacobian) or not isinstance(o, (Expr, int, float, np.ndarray)) for o in items):
        raise TypeError("lambdify: outputs must be an expression, a tuple of expressions, or one Jacobian")
    names: dict[Expr, str] = {}
    exprs = []
    for o in items:
        e = as_expr(o)
        names.update({k: v for k, v in display_names(e).items() if k not in names})
        exprs.append(strip_names(e))
    return exprs, names, several


def _representative(symbols: dict[str, Expr], seed: int, positive: bool,
                    scale: float = 1.0) -> dict[str, np.ndarray]:
    """Random values satisfying the declarations: SPD for positive definite (and symmetric)
    symbols, generic otherwise; entries in [0.5, 2] for ``positive``; all but the SPD ones
    times ``scale`` (small values keep I − c·f(X) and the like near I)."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, sym in sorted(symbols.items()):
        shape = sym.shape
        square = len(shape) >= 2 and shape[-1] == shape[-2]  # a matrix, or a stack of them
        if square and sym.params.symmetric:
            values[name] = random_matrix(rng, shape, spd=True)
        elif positive and shape != ():
            values[name] = rng.uniform(0.5, 2.0, shape) + (shape[-1] * np.eye(shape[-1]) if square else 0.0)
        else:
            values[name] = random_matrix(rng, shape, invertible=square)
        if scale != 1.0 and not (square and sym.params.symmetric):
            values[name] = scale * values[name]
    return values


def _described_evaluation(roots: list[Expr]) -> Evaluator:
    """An evaluator that evaluated ``roots`` with representative values, describing its steps."""
    symbols = symbol_table(roots)
    failure: Exception | None = None
    for seed, positive, scale in ((0, False, 1.0), (0, True, 1.0), (1, True, 1.0), (0, True, 0.1)):
        bound = bind_values(_representative(symbols, seed, positive, scale), roots, symbols)
        ev = Evaluator({}, roots, bound=bound, describe=True)
        try:
            with np.errstate(all="ignore"):
                for e in roots:
                    ev(e)
            return ev
        except (np.linalg.LinAlgError, ValueError, DegenerateError, FloatingPointError) as err:
            failure = err
    raise ValueError(f"lambdify: no representative values could be evaluated ({failure})")


def _tangent_name(jac: Jacobian, names: dict[Expr, str]) -> str:
    if not jac.adjoint:
        result: str = "d" + jac.wrt.params.name
        return result
    name = identifier(names.get(jac.expr, "")) if names.get(jac.expr) else None
    return (name or "F") + "_bar"


def _result_name(jac: Jacobian, names: dict[Expr, str]) -> str:
    if jac.adjoint:
        result: str = jac.wrt.params.name + "_bar"
        return result
    name = identifier(names.get(jac.expr, "")) if names.get(jac.expr) else None
    return "d" + (name or "F")


def _reshaped(code: str, shape: tuple[int, ...]) -> str:
    """The code of a map's result (of shape ``as_matrix_shape(shape)``) in the Jacobian's own shape."""
    shape = tuple(shape)
    return f"{code}.reshape({shape})" if shape in ((), (1, 1)) or as_matrix_shape(shape) != shape else code


def _assemble(g: Emitter, name: str, arglist: list[str], result: list[str], several: bool) -> str:
    header = []
    body, result = g.finish(result)
    if any("**like" in line for line in body + result):
        first = arglist[0] if arglist else None
        header.append(f"like = dict(dtype={first}.dtype, device={first}.device)" if first
                      else "like = dict(dtype=torch.float64)")
    returned = "(" + ", ".join(result) + ("," if len(result) == 1 else "") + ")" if several else result[0]
    lines = [f"def {name}({', '.join(arglist)}):"] + [f"    {x}" for x in header + body]
    lines.append(f"    return {returned}")
    return "\n".join(lines)


def _docstring(outputs: Any, jac: Jacobian | None, exprs: list[Expr], be: Backend) -> str:
    if jac is not None:
        what = ("the VJP of " if jac.adjoint else "the JVP of ") + to_unicode(jac.expr) + \
            f" in {jac.wrt.params.name}"
    else:
        what = ", ".join(to_unicode(e) for e in exprs)
    what = what if len(what) <= 80 else what[:79] + "…"
    return f"{what} (generated by kronvec.lambdify, backend {be.name!r}; see .source)"


