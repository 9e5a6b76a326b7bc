"""``kv.jax_function``: kronvec's generated JAX code with kronvec's derivatives as its JVP rule.

The function is a ``jax.custom_jvp`` whose primal is ``kv.lambdify(args,
outputs, backend="jax")`` and whose JVP rule calls another such function, of
the values and the tangents, whose outputs are the JVP expressions of
:class:`.rules.Signature` (built when JAX first asks for it).  So a Hessian,
or any higher derivative, is kronvec's at every order.  The JVP code is
linear in the tangents and written with ``jax.numpy`` operations, so JAX
transposes it for ``grad``, ``vjp`` and ``linear_transpose``; ``vmap`` batches
the generated code, which sees one member at a time.  Values with more
leading axes than their symbols are stacks, as in NumPy: the function is
mapped over the (broadcast) leading axes.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..codegen import lambdify
from ..expr import Expr
from .rules import Signature, check_declared, library

__all__ = ["jax_function"]


def jax_function(args: Sequence[Expr], outputs: Any) -> Callable[..., Any]:
    """A JAX function of the values of ``args`` computing ``outputs``, differentiated by kronvec.

    Parameters
    ----------
    args : sequence of symbols
        The parameters, in order.
    outputs : Expr or tuple of Expr
        One output gives one array, several a tuple; a scalar output is 0-d.

    Returns
    -------
    callable
        A function JAX can ``jit``, ``vmap``, ``grad``, ``jvp``, ``vjp`` and
        differentiate to any order.  Its JVP for tangents Hᵢ is
        Σᵢ kv.jacobian(F, Xᵢ)(sᵢ(Hᵢ)), with s(H) = (H + Hᵀ)/2 for a symbol
        declared symmetric (whose value is read as (X + Xᵀ)/2) and s(H) = H
        otherwise.

    Raises
    ------
    ImportError
        JAX is not installed (the message names ``kronvec[jax]``).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, kronvec as kv
    >>> X = kv.Matrix("X", (3, 3))
    >>> f = kv.jax_function([X], kv.logdet(X @ X.T))
    >>> g = jax.grad(f)(jnp.eye(3) * 2.0)
    >>> bool(jnp.allclose(g, jnp.eye(3)))
    True
    """
    jax = library("jax", "jax", "kv.jax_function")
    return _stacked(_JaxFunction(Signature(args, outputs, "kv.jax_function"), jax), jax)


class _JaxFunction:
    """The custom_jvp function of one signature; its JVP function is made on first use."""

    def __init__(self, sig: Signature, jax: Any) -> None:
        self.sig, self.jax, self.jnp = sig, jax, jax.numpy
        self.code = lambdify(sig.args, sig.outputs, backend="jax")
        self._tangent_function: _JaxFunction | None = None
        self._tangent_zero: list[bool] = []
        self.fn = jax.custom_jvp(self.primal)
        self.fn.defjvp(self.rule)

    def primal(self, *values: Any) -> Any:
        jnp = self.jnp
        values = tuple(0.5 * (v + jnp.swapaxes(v, -1, -2)) if s else jnp.reshape(v, (1, 1)) if one else v
                       for v, s, one in zip(values, self.sig.symmetric, self.sig.one_by_one))
        outs = self.code(*values)
        outs = tuple(jnp.reshape(v, shape) for v, shape in zip(outs, self.sig.output_shapes))
        return outs if self.sig.several else outs[0]

    def tangent_function(self) -> "_JaxFunction | None":
        """The function (values, tangents) -> the nonzero JVPs, or None when every JVP is zero."""
        if not self._tangent_zero:
            tangents, exprs = self.sig.jvp()
            self._tangent_zero = [e is None for e in exprs]
            nonzero = tuple(e for e in exprs if e is not None)
            if nonzero:
                self._tangent_function = _JaxFunction(Signature(self.sig.args + tangents, nonzero,
                                                                "kv.jax_function"), self.jax)
        return self._tangent_function

    def rule(self, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        out = self.primal(*primals)
        outs = out if self.sig.several else (out,)
        tf = self.tangent_function()
        parts = iter(tf.fn(*primals, *tangents) if tf is not None else ())
        touts = tuple(self.jnp.zeros_like(o) if zero else next(parts)
                      for o, zero in zip(outs, self._tangent_zero))
        return out, touts if self.sig.several else touts[0]


def _stacked(f: _JaxFunction, jax: Any) -> Callable[..., Any]:
    """``f.fn``, mapped with ``jax.vmap`` over the leading axes of values that are stacks."""
    shapes = [a.shape for a in f.sig.args]
    jnp = jax.numpy
    concrete_or_error = library("jax.extend.core", "jax", "kv.jax_function").concrete_or_error

    def definite(value: Any) -> bool:  # JAX's Cholesky factor is NaN where there is none
        return not bool(jnp.isnan(jnp.linalg.cholesky(value)).any())

    def function(*values: Any) -> Any:
        if len(values) != len(shapes):
            raise TypeError(f"kv.jax_function: {len(shapes)} values expected "
                            f"({', '.join(a.params.name for a in f.sig.args)}), got {len(values)}")
        values = tuple(jnp.asarray(v) for v in values)
        for i in f.sig.declared:  # concrete values only: traced ones (jit, vmap) cannot be checked
            try:
                concrete = concrete_or_error(None, values[i])
            except jax.errors.ConcretizationTypeError:
                continue
            check_declared("kv.jax_function", f.sig.args[i], concrete, float(jnp.finfo(concrete.dtype).eps),
                           definite)
        leads = [v.shape[:v.ndim - len(s)] if v.ndim > len(s) else () for v, s in zip(values, shapes)]
        if not any(leads):
            return f.fn(*values)
        lead = jnp.broadcast_shapes(*leads)
        values = tuple(jnp.broadcast_to(v, lead + tuple(s)) for v, s in zip(values, shapes))
        mapped = f.fn
        for _ in lead:
            mapped = jax.vmap(mapped)
        return mapped(*values)

    function.__doc__ = f.code.__doc__
    function.__name__ = function.__qualname__ = "jax_function"
    return function
