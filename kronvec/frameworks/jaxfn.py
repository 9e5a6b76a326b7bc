"""``kv.jax_function``: kronvec's generated JAX code as a JAX primitive with kronvec's rules.

Each signature (symbols and outputs) is a JAX primitive whose implementation
is ``kv.lambdify(args, outputs, backend="jax")`` (lowered for ``jit`` by
tracing it) and whose rules are kronvec's at every order:

* JVP: the primitive of the JVP expressions dF = Σᵢ J_Xᵢ(sᵢ(Hᵢ)) of
  :class:`.rules.Signature`, a function of the values and the tangents;
* transpose (reverse mode: ``grad``, ``vjp``, ``linear_transpose``): for the
  arguments a primitive is linear in, the primitive of its VJP expressions;
* batching (``vmap``): the same primitive on values with one more leading
  axis, which the generated code maps over.

JAX never differentiates the generated code itself, so ``jax.hessian``
(forward over reverse), ``jacrev(jacrev(...))`` and every higher order are
kronvec's derivatives (built when JAX first asks for them).  Values with more
leading axes than their symbols are stacks, as in NumPy.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..codegen import lambdify
from ..expr import Expr
from .rules import AnySizes, Signature, check_declared, library, value_shape

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
    sig = Signature(args, outputs, "kv.jax_function")
    if AnySizes.wanted(sig):  # sizes given as names: a function for each size set the calls bring
        return AnySizes("kv.jax_function", sig, lambda a, o: _stacked(
            _JaxFunction(Signature(a, o, "kv.jax_function"), jax), jax))
    return _stacked(_JaxFunction(sig, jax), jax)


class _JaxFunction:
    """The JAX primitive of one signature, with kronvec's rules for every transformation.

    Values may carry the same leading (stack) axes beyond their symbols' shapes; the
    generated code is mapped over them.  The JVP rule binds the primitive of the JVP
    expressions (of the values and the tangents), the transpose rule, for the arguments the
    function is linear in, the primitive of the VJP expressions, and the batching rule the
    same primitive with one more leading axis: no rule of JAX's own differentiates the code.
    """

    def __init__(self, sig: Signature, jax: Any) -> None:
        self.sig, self.jax, self.jnp = sig, jax, jax.numpy
        # JAX's extension points (imported with JAX, when kv.jax_function is called)
        self.ad: Any = library("jax.interpreters.ad", "jax", "kv.jax_function")
        self.batching: Any = library("jax.interpreters.batching", "jax", "kv.jax_function")
        mlir: Any = library("jax.interpreters.mlir", "jax", "kv.jax_function")
        self.shaped: Any = library("jax.core", "jax", "kv.jax_function").ShapedArray
        with jax.ensure_compile_time_eval():  # made while JAX traces: constants stay concrete arrays
            self.code = lambdify(sig.args, sig.outputs, backend="jax")
        self.shapes = [value_shape(a.shape) for a in sig.args]
        self._tangent_functions: dict[tuple[bool, ...], tuple[_JaxFunction | None, list[bool]]] = {}
        self._vjp: tuple[tuple[Expr, ...], list[Expr | None]] | None = None
        self._transposes: dict[tuple[int, ...], _JaxFunction | None] = {}
        primitive = library("jax.extend.core", "jax", "kv.jax_function").Primitive
        prim = self.prim = primitive("kronvec_" + "_".join(a.params.name for a in sig.args))
        prim.multiple_results = True
        prim.def_impl(self.impl)
        prim.def_abstract_eval(self.abstract)
        self.ad.primitive_jvps[prim] = self.jvp_rule
        self.ad.primitive_transposes[prim] = self.transpose_rule
        self.batching.primitive_batchers[prim] = self.batch_rule
        mlir.register_lowering(prim, mlir.lower_fun(self.impl, multiple_results=True))

    def lead(self, values: Sequence[Any], mapped: tuple[bool, ...]) -> tuple[int, ...]:
        """The stack axes of the mapped values (they all have the same; the others have none)."""
        i = mapped.index(True) if True in mapped else 0
        shape = tuple(values[i].shape)
        return shape[:len(shape) - len(self.shapes[i])] if True in mapped else ()

    def dtype(self, dtypes: Sequence[Any]) -> Any:
        """The outputs' dtype: the values' (float32 values give float32 whatever the constants)."""
        dtype = self.jnp.result_type(*dtypes)
        return dtype if self.jnp.issubdtype(dtype, self.jnp.floating) else self.jnp.result_type(float)

    def member(self, *values: Any) -> tuple[Any, ...]:
        """The outputs for one value per symbol: the generated code."""
        jnp = self.jnp
        dtype = self.dtype([v.dtype for v in values])
        values = tuple(0.5 * (v + jnp.swapaxes(v, -1, -2)) if s else jnp.reshape(v, (1, 1)) if one else v
                       for v, s, one in zip(values, self.sig.symmetric, self.sig.one_by_one))
        outs = self.code(*values)
        return tuple(jnp.reshape(v, shape).astype(dtype) for v, shape in zip(outs, self.sig.output_shapes))

    def impl(self, *values: Any, mapped: tuple[bool, ...]) -> list[Any]:
        run = self.member
        for _ in self.lead(values, mapped):  # the unmapped values are shared, not copied
            run = self.jax.vmap(run, in_axes=tuple(0 if m else None for m in mapped))
        return list(run(*values))

    def abstract(self, *avals: Any, mapped: tuple[bool, ...]) -> list[Any]:
        lead = self.lead(avals, mapped)
        dtype = self.dtype([a.dtype for a in avals])
        return [self.shaped(lead + tuple(shape), dtype) for shape in self.sig.output_shapes]

    def tangent_function(self, wanted: tuple[bool, ...]) -> tuple["_JaxFunction | None", list[bool]]:
        """The function (values, the ``wanted`` tangents) -> the nonzero JVPs (None when all are
        zero), and which JVPs are zero: the other tangents are zero, so their terms are left out
        (``jax.hessian`` in one argument pushes its basis through the terms of that one only)."""
        if wanted not in self._tangent_functions:
            tangents, exprs = self.sig.jvp(wanted)
            nonzero = tuple(e for e in exprs if e is not None)
            fn = _JaxFunction(Signature(self.sig.args + tangents, nonzero, "kv.jax_function"),
                              self.jax) if nonzero else None
            self._tangent_functions[wanted] = (fn, [e is None for e in exprs])
        return self._tangent_functions[wanted]

    def jvp_rule(self, primals: Sequence[Any], tangents: Sequence[Any], *,
                 mapped: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
        outs = self.prim.bind(*primals, mapped=mapped)
        wanted = tuple(type(t) is not self.ad.Zero for t in tangents)
        tf, zero = self.tangent_function(wanted)
        given = [t for t, w in zip(tangents, wanted) if w]
        given_mapped = tuple(m for m, w in zip(mapped, wanted) if w)
        parts = iter(tf.prim.bind(*primals, *given, mapped=mapped + given_mapped) if tf is not None else ())
        return outs, [self.jnp.zeros_like(o) if z else next(parts) for o, z in zip(outs, zero)]

    def transpose_function(self, linear: tuple[int, ...]) -> "_JaxFunction | None":
        """The function (values, cotangents) -> the VJPs in the arguments ``linear`` (those the
        function is linear in), or None when all are zero."""
        if linear not in self._transposes:
            if self._vjp is None:
                self._vjp = self.sig.vjp()
            cotangents, exprs = self._vjp
            wanted = [(exprs[i], self.sig.args[i]) for i in linear]
            outputs = tuple(e if e is not None else 0.0 * a for e, a in wanted)  # zero: of the arg's shape
            self._transposes[linear] = None if all(e is None for e, _ in wanted) else _JaxFunction(
                Signature(self.sig.args + cotangents, outputs, "kv.jax_function"), self.jax)
        return self._transposes[linear]

    def transpose_rule(self, cts: Sequence[Any], *args: Any, mapped: tuple[bool, ...]) -> list[Any]:
        jnp = self.jnp
        linear = tuple(i for i, a in enumerate(args) if self.ad.is_undefined_primal(a))
        # the function is linear in those: their values do not enter the VJP (zeros stand in)
        values = [jnp.zeros(a.aval.shape, a.aval.dtype) if i in linear else a for i, a in enumerate(args)]
        cts = [self.ad.instantiate_zeros(c) for c in cts]
        lead = self.lead(values, mapped)
        tf = self.transpose_function(linear)
        parts = iter(tf.prim.bind(*values, *cts, mapped=mapped + (bool(lead),) * len(cts)) if tf is not None
                     else [jnp.zeros(values[i].shape, values[i].dtype) for i in linear])
        out: list[Any] = [None] * len(args)
        for i in linear:  # an argument shared by the members: the sum of their cotangents
            part = next(parts)
            out[i] = part.sum(axis=tuple(range(len(lead)))) if lead and not mapped[i] else part
        return out

    def batch_rule(self, values: Sequence[Any], dims: Sequence[Any], *,
                   mapped: tuple[bool, ...]) -> tuple[list[Any], list[int]]:
        jnp = self.jnp
        size = next(v.shape[d] for v, d in zip(values, dims) if d is not None)
        lead = self.lead(values, mapped)
        now = tuple(m or d is not None for m, d in zip(mapped, dims))
        moved = []
        for v, d, m, shape in zip(values, dims, mapped, self.shapes):
            if d is not None:
                v = jnp.moveaxis(v, d, 0)
                if lead and not m:  # the new axis first, then the others' stack axes
                    v = jnp.broadcast_to(jnp.reshape(v, (size,) + (1,) * len(lead) + tuple(shape)),
                                         (size,) + lead + tuple(shape))
            elif m:
                v = jnp.broadcast_to(v[None], (size,) + tuple(v.shape))
            moved.append(v)
        outs = self.prim.bind(*moved, mapped=now)
        return outs, [0] * len(outs)

    def __call__(self, *values: Any, mapped: tuple[bool, ...]) -> Any:
        outs = self.prim.bind(*values, mapped=mapped)
        return tuple(outs) if self.sig.several else outs[0]


def _stacked(f: _JaxFunction, jax: Any) -> Callable[..., Any]:
    """``f`` on values broadcast to the same leading (stack) axes, a 1×1 symbol's value 0-d."""
    shapes = f.shapes
    jnp = jax.numpy
    concrete_or_error = library("jax.extend.core", "jax", "kv.jax_function").concrete_or_error

    def definite(value: Any) -> bool:  # JAX's Cholesky factor is NaN where there is none
        return not bool(jnp.isnan(jnp.linalg.cholesky(value)).any())

    def function(*values: Any) -> Any:
        if len(values) != len(shapes):
            raise TypeError(f"kv.jax_function: {len(shapes)} values expected "
                            f"({', '.join(a.params.name for a in f.sig.args)}), got {len(values)}")
        values = tuple(jnp.reshape(v, v.shape[:-2]) if one and v.ndim >= 2 and v.shape[-2:] == (1, 1) else v
                       for v, one in zip(map(jnp.asarray, values), f.sig.one_by_one))
        for i in f.sig.declared:  # concrete values only: traced ones (jit, vmap) cannot be checked
            try:
                concrete = concrete_or_error(None, values[i])
            except jax.errors.ConcretizationTypeError:
                continue
            check_declared("kv.jax_function", f.sig.args[i], concrete, float(jnp.finfo(concrete.dtype).eps),
                           definite)
        leads = [v.shape[:v.ndim - len(s)] if v.ndim > len(s) else () for v, s in zip(values, shapes)]
        mapped = tuple(bool(lead) for lead in leads)
        if any(mapped):  # stacks: the values that have leading axes, with the same ones
            lead = jnp.broadcast_shapes(*[lead for lead in leads if lead])
            values = tuple(jnp.broadcast_to(v, lead + tuple(s)) if m else v
                           for v, s, m in zip(values, shapes, mapped))
        return f(*values, mapped=mapped)

    function.__doc__ = f.code.__doc__
    function.__name__ = function.__qualname__ = "jax_function"
    return function
