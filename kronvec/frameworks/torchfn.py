"""``kv.torch_function``: kronvec's generated PyTorch code as a ``torch.autograd.Function``.

``forward`` is ``kv.lambdify(args, outputs, backend="torch")``; ``backward``
calls another such function, of the values and the cotangents, whose outputs
are the VJP expressions of :class:`.rules.Signature`, and ``jvp`` one of the
values and the tangents (both made on first use).  Because ``backward`` is
itself an autograd Function, double backward is kronvec's too.  The
generated code sees one member at a time, so ``generate_vmap_rule`` lets
``torch.func.vmap`` batch it; values with more leading axes than their
symbols are stacks, as in NumPy, mapped by ``torch.func.vmap``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..codegen import lambdify
from ..expr import Expr
from .rules import AnySizes, Signature, check_declared, library

__all__ = ["torch_function"]

TensorLike = tuple[tuple[int, ...], Any, Any]  # (shape, dtype, device): what torch.zeros needs


def torch_function(args: Sequence[Expr], outputs: Any) -> Callable[..., Any]:
    """A PyTorch function of the values of ``args`` computing ``outputs``, differentiated by kronvec.

    Parameters
    ----------
    args : sequence of symbols
        The parameters, in order.
    outputs : Expr or tuple of Expr
        One output gives one tensor, several a tuple; a scalar output is 0-d.

    Returns
    -------
    callable
        A function of tensors whose ``backward`` (double backward included),
        forward-mode ``jvp`` and ``torch.func`` transforms (``grad``, ``jvp``,
        ``vjp``, ``vmap``, ``jacrev``) use kronvec's derivatives; the
        autograd Function itself is its attribute ``function``.  A symbol
        declared symmetric is read as (X + Xᵀ)/2, so its gradient is symmetric.

    Raises
    ------
    ImportError
        PyTorch is not installed (the message names ``kronvec[torch]``).

    Examples
    --------
    >>> import torch, kronvec as kv
    >>> X = kv.Matrix("X", (3, 3))
    >>> f = kv.torch_function([X], kv.logdet(X @ X.T))
    >>> x = (2.0 * torch.eye(3, dtype=torch.float64)).requires_grad_()
    >>> f(x).backward()
    >>> bool(torch.allclose(x.grad, torch.eye(3, dtype=torch.float64)))
    True
    """
    torch = library("torch", "torch", "kv.torch_function")
    sig = Signature(args, outputs, "kv.torch_function")
    if AnySizes.wanted(sig):  # sizes given as names: a function for each size set the calls bring
        return AnySizes("kv.torch_function", sig, lambda a, o: _stacked(
            _TorchFunction(Signature(a, o, "kv.torch_function"), torch), torch))
    return _stacked(_TorchFunction(sig, torch), torch)


class _TorchFunction:
    """The autograd Function of one signature; its VJP and JVP functions are made on first use."""

    def __init__(self, sig: Signature, torch: Any) -> None:
        self.sig, self.torch = sig, torch
        with torch._C._DisableFuncTorch():  # made inside a torch.func transform: plain constant tensors
            self.code = lambdify(sig.args, sig.outputs, backend="torch")
        self._rules: dict[tuple[str, tuple[bool, ...] | None], tuple[_TorchFunction | None, list[bool]]] = {}
        self._parts: dict[str, tuple[tuple[Expr, ...], list[Expr | None]]] = {}
        # a subclass of torch.autograd.Function (PyTorch is imported on use: not named here)
        self.function: Any = type("KronvecFunction", (torch.autograd.Function,), {
            "generate_vmap_rule": True,
            "forward": staticmethod(self.forward),
            "setup_context": staticmethod(_setup_context),
            "backward": staticmethod(self.backward),
            "jvp": staticmethod(self.jvp),
        })

    def forward(self, *values: Any) -> Any:
        values = tuple(0.5 * (v + v.transpose(-1, -2)) if s else v.reshape(1, 1) if one else v
                       for v, s, one in zip(values, self.sig.symmetric, self.sig.one_by_one))
        outs = self.code(*values)
        # fresh contiguous tensors: forward-mode AD wants tangents of the primal's layout, not views
        outs = tuple(v.reshape(shape).clone(memory_format=self.torch.contiguous_format)
                     for v, shape in zip(outs, self.sig.output_shapes))
        return outs if self.sig.several else outs[0]

    def _rule(self, kind: str,
              wanted: tuple[bool, ...] | None = None) -> tuple["_TorchFunction | None", list[bool]]:
        """The function of (values, tangents or cotangents) giving the nonzero JVPs or VJPs, and
        which are zero: the JVPs for the tangents of the arguments ``wanted`` (the others are
        zero: their terms are left out), the VJPs of the arguments ``wanted`` only (the others
        are None)."""
        key = (kind, wanted)
        if key not in self._rules:
            if kind == "jvp":
                extra, exprs = self.sig.jvp(wanted)
            else:
                if kind not in self._parts:
                    self._parts[kind] = self.sig.vjp()
                extra, exprs = self._parts[kind]
                exprs = [e if wanted is None or wanted[i] else None for i, e in enumerate(exprs)]
            nonzero = tuple(e for e in exprs if e is not None)
            fn = _TorchFunction(Signature(self.sig.args + extra, nonzero, "kv.torch_function"),
                                self.torch) if nonzero else None
            self._rules[key] = (fn, [e is None for e in exprs])
        return self._rules[key]

    def _apply_rule(self, kind: str, values: tuple[Any, ...], extra: tuple[Any, ...],
                    like: Sequence[TensorLike], wanted: tuple[bool, ...] | None = None) -> tuple[Any, ...]:
        """The rule's results, zeros (of ``like``: (shape, dtype, device)) where it has none, None
        where it is not ``wanted``."""
        fn, zero = self._rule(kind, wanted)
        parts = iter(fn.function.apply(*values, *extra) if fn is not None else ())
        return tuple((None if wanted is not None and not wanted[i] else _zero_if_none(self.torch, None, x))
                     if z else next(parts) for i, (x, z) in enumerate(zip(like, zero)))

    def backward(self, ctx: Any, *grads: Any) -> Any:
        values = ctx.saved_tensors
        grads = tuple(_zero_if_none(self.torch, g, o) for g, o in zip(grads, ctx.output_like))
        # only the gradients autograd asks for (a Hessian in x alone needs no gradient in A)
        return self._apply_rule("vjp", values, grads, [_like(v) for v in values], tuple(ctx.needs_input_grad))

    def jvp(self, ctx: Any, *tangents: Any) -> Any:
        values = ctx.saved_tensors
        wanted = tuple(t is not None for t in tangents)  # the terms of the others are zero: left out
        fn, zero = self._rule("jvp", wanted)
        given = [t for t in tangents if t is not None]
        parts = iter(fn.function.apply(*values, *given) if fn is not None else ())
        outs = tuple(_zero_if_none(self.torch, None, like) if z else next(parts)
                     for like, z in zip(ctx.output_like, zero))
        return outs if self.sig.several else outs[0]


def _like(x: Any) -> TensorLike:
    """(shape, dtype, device) of a tensor: what ``torch.zeros`` needs to make zeros like it."""
    return tuple(x.shape), x.dtype, x.device


def _zero_if_none(torch: Any, t: Any, like: TensorLike) -> Any:
    return torch.zeros(like[0], dtype=like[1], device=like[2]) if t is None else t


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    ctx.save_for_backward(*inputs)
    ctx.save_for_forward(*inputs)
    ctx.output_like = [_like(o) for o in (output if isinstance(output, tuple) else (output,))]


def _stacked(f: _TorchFunction, torch: Any) -> Callable[..., Any]:
    """``f.function.apply``, mapped with ``torch.func.vmap`` over the leading axes of stacks."""
    shapes = [a.shape for a in f.sig.args]
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", lambda v: False)

    def concrete(value: Any) -> bool:
        return isinstance(value, torch.Tensor) and not wrapped(value) and not torch.compiler.is_compiling()

    def definite(value: Any) -> bool:
        return not bool(torch.linalg.cholesky_ex(value).info.any())

    def function(*values: Any) -> Any:
        if len(values) != len(shapes):
            raise TypeError(f"kv.torch_function: {len(shapes)} values expected "
                            f"({', '.join(a.params.name for a in f.sig.args)}), got {len(values)}")
        for i in f.sig.declared:  # concrete values only: not under torch.func transforms or compile
            if concrete(values[i]):
                check_declared("kv.torch_function", f.sig.args[i], values[i].detach(),
                               float(torch.finfo(values[i].dtype).eps), definite)
        leads = [tuple(v.shape[:v.dim() - len(s)]) if v.dim() > len(s) else ()
                 for v, s in zip(values, shapes)]
        if not any(leads):
            return f.function.apply(*values)
        lead = tuple(torch.broadcast_shapes(*leads))
        values = tuple(v.expand(lead + tuple(s)) for v, s in zip(values, shapes))
        mapped = f.function.apply
        for _ in lead:
            mapped = torch.func.vmap(mapped)
        return mapped(*values)

    function.__doc__ = f.code.__doc__
    function.__name__ = function.__qualname__ = "torch_function"
    function.__dict__["function"] = f.function  # the autograd.Function, as an attribute
    return function
