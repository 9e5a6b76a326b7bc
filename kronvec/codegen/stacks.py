"""Generated code for stacks of matrices: which ops' code broadcasts over leading axes.

Values of shape ``(..., m, n)`` are stacks of matrices with NumPy's semantics:
``@`` broadcasts over the leading axes, elementwise code is unchanged, the
transpose of each member is ``x.swapaxes(-1, -2)`` (NumPy, JAX and PyTorch
arrays all have it), traces and diagonals take ``axis1=-2, axis2=-1``, and
the backends factor every member in one batched call
(:class:`~.backends.Factor` with ``stacked``).

An op's code template is written for one matrix.  A node over a stack (the
node or one of its arguments has more than two axes) is written

* by its own template when that broadcasts as written (:data:`STACK_READY`,
  each checked against ``kv.evaluate`` on stacks by the tests);
* by the template of :data:`STACK_CODE` for ops whose code names the two
  matrix axes (a transpose, a trace, a diagonal);
* not at all otherwise: :func:`stack_template` raises ``CodegenError``
  naming the op and the node's shape, never code that would give other
  numbers than ``kv.evaluate``.
"""
from __future__ import annotations

from typing import Any, Callable

from ..expr import Expr
from ..maps.terms import expm_frechet_stack
from ..ops._code_templates import code_eigenbasis_frechet, code_eigh
from ..ops.triangular import tri_code
from ..registry import spec
from .arrays import diagonals, paren as _paren, transposed_members
from .stack_ops import STACK_OPS

__all__ = ["STACK_READY", "STACK_CODE", "stacked", "stack_template"]

# Ops whose code template broadcasts over leading axes exactly as NumPy's stack semantics do.
STACK_READY = frozenset({
    "named", "add", "scale", "smul", "multiply", "power", "matmul", "inv", "matrix_power", "det", "logdet",
    "exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "sigmoid", "softplus", "abs", "sign", "relu",
    "maximum", "minimum", "xlogy", "xdivy", "gammaln", "digamma", "erf", "erfc", "ndtr", "log_ndtr",
    "logit", "pow", "sum", "norm", "transpose", "c_order_reshape", "broadcast_to", "reduce_sum",
    "reduce_max", "reduce_min", "reduce_logsumexp", "slogdet_sign", "pinv_checked", "pinv", "ones", "zeros",
    "qr_Q", "qr_R", "expm", "adj",
    "einsum", "reshape", "expand_dims", "squeeze",  # np.einsum and np.reshape of the whole arrays
    "eigh_column", "eigh_resolvent",  # from the batched eigh of every member
    "arctan", "heaviside", "polygamma", "ndtr_ratio",  # elementwise, as written
    "expm_frechet2", "logm_frechet2",  # the library's own (NumPy) or batched block/eigenbasis code
    "abs_power", "signed_power", "power0",  # elementwise (in the derivatives of norms), as written
    "vector_norm",  # over its axes of the whole array (a tuple), as written
    "smallest_singular_value", "smallest_weights",  # [..., -1] of the batched singular values; axis -2
    "norm_gradient",  # one batched SVD; the singular values' weights broadcast as [..., None, :]
    "svd_U", "svd_Vt",  # from the batched SVD of every member
})


def _transpose(g: Any, e: Expr, x: str) -> str:
    return transposed_members(x)


def _trace(g: Any, e: Expr, x: str) -> str:
    if g.name == "torch":
        return f"{diagonals('torch', x)}.sum(-1)"
    return f"{g.array_module}.trace({x}, axis1=-2, axis2=-1)"


def _diagpart(g: Any, e: Expr, x: str) -> str:
    return f"{diagonals(g.array_module, x)}[..., None]"


def _diag(g: Any, e: Expr, x: str) -> str:
    return f"{x} * {g.eye(e.shape[-1])}"  # vᵢ δᵢⱼ: each column vector times the identity


def _cholesky(g: Any, e: Expr, a: str) -> str:
    factor = g.bound_cholesky(e.args[0])  # a positive definite symbol: its one factorization
    if factor is not None:
        lower: str = g.backend.cholesky_lower(factor)
        return lower
    return {"numpy": "np.linalg.cholesky({0})", "jax": "jnp.linalg.cholesky({0}, symmetrize_input=False)",
            "torch": "torch.linalg.cholesky({0})"}[g.name].format(a)


def _matrix_function(g: Any, e: Expr, a: str) -> str:
    """sqrtm or logm of a stack of symmetric members: NumPy's helper takes stacks; the others in
    the eigenbasis of every member, V f(Λ) Vᵀ."""
    if g.name == "numpy":
        own: str = g.render(e, [a], stacks=False)
        return own
    if not g.symmetric(e.args[0]):
        g.unsupported(f"{e.op} of a stack whose members are not symmetric")
    w, V = f"{code_eigh(g, a)}[0]", f"{code_eigh(g, a)}[1]"
    module = g.array_module
    f = f"{module}.sqrt(({w} + {module}.abs({w})) / 2)" if e.op == "sqrtm" else f"{module}.log({w})"
    return f"({V} * {_paren(f)}[..., None, :]) @ {transposed_members(V)}"


def _adjugate_frechet(g: Any, e: Expr, a: str, h: str) -> str:
    """det(A) (tr(A⁻¹H) A⁻¹ − A⁻¹ H A⁻¹) for every member (invertible members, batched inverses)."""
    np_ = g.array_module
    inv = g.let(f"{np_}.linalg.inv({a})", hint="inv")
    trace = _trace(g, e, f"{inv} @ {_paren(h)}")
    return (f"{np_}.linalg.det({a})[..., None, None] * ({_paren(trace)}[..., None, None] * {inv} - "
            f"{inv} @ {_paren(h)} @ {inv})")


def _tri(g: Any, e: Expr, x: str) -> str:
    return tri_code(g, e.params.kind, x, e.shape[-1], members_diagonal=diagonals(g.array_module, x))


def _solve_triangular(g: Any, e: Expr, a: str, b: str) -> str:
    if g.name != "torch":  # SciPy's and JAX's take stacks
        own: str = g.render(e, [a, b], stacks=False)
        return own
    p = e.params
    t = transposed_members(a) if p.trans else a
    upper = p.lower if p.trans else not p.lower
    return f"torch.linalg.solve_triangular({t}, {b}, upper={upper}, unitriangular={p.unit})"


def _identity(g: Any, e: Expr) -> str:
    """A stack of identities: I spread over the leading axes."""
    eye = g.eye(e.shape[-1])
    return f"{eye}.expand({tuple(e.shape)})" if g.name == "torch" else \
        f"{g.array_module}.broadcast_to({eye}, {tuple(e.shape)})"


def _column(g: Any, e: Expr, *args: str) -> str:
    """The op's own code, which returns one column ``[:, None]``: a column per member."""
    code: str = g.render(e, list(args), stacks=False)
    if not code.endswith("[:, None]"):
        g.unsupported(f"{e.op} of a stack (shape {e.args[0].shape})")
    return code[:-len("[:, None]")] + "[..., None]"


def _normalized(g: Any, e: Expr, x: str) -> str:
    """softmax or log_softmax of a stack over the node's axes (a tuple: every entry of the whole
    stack, or some axes), as ``scipy.special``'s: S = exp(X − lse), log S = X − lse with
    lse = logsumexp(X) over those axes (kept), the max-shifted logsumexp of each library."""
    axes = tuple(e.params.axis)
    if g.name != "torch":  # SciPy's and JAX's take a tuple of axes
        own: str = g.render(e, [x], stacks=False).replace(f"axis={e.params.axis}", f"axis={axes}")
        return own
    lse = g.let(f"torch.logsumexp({x}, dim={axes}, keepdim=True)", hint="lse")
    return f"torch.exp({x} - {lse})" if e.op == "softmax" else f"{x} - {lse}"


def _block_frechet(g: Any, e: Expr, a: str, h: str) -> str:
    """L(A, H) of expm for every member: the upper right block of exp [[A, H], [0, A]] (one batched
    exponential of the (…, 2n, 2n) block matrices; A and H broadcast to the node's stack)."""
    n, shape = e.shape[-1], tuple(e.shape)
    if g.name == "numpy":  # the library's own, which also scales each H to unit norm
        return f"{g.helper('expm_frechet_stack', expm_frechet_stack)}({a}, {h})"
    jax = g.name == "jax"
    spread, cat, exp = (("jnp.broadcast_to({0}, {1})", "jnp.concatenate", "jsla.expm") if jax
                        else ("{0}.expand({1})", "torch.cat", "torch.linalg.matrix_exp"))
    a_, h_ = (g.let(spread.format(x, shape), hint=hint) for x, hint in ((a, "A"), (h, "H")))
    zeros = f"{g.array_module}.zeros_like({a_})"
    top, bottom = f"{cat}([{a_}, {h_}], -1)", f"{cat}([{zeros}, {a_}], -1)"
    return f"{exp}({cat}([{top}, {bottom}], -2))[..., :{n}, {n}:]"


def _spectral_frechet(g: Any, e: Expr, a: str, h: str) -> str:
    """L_f(A, H) of sqrtm or logm for every member: NumPy by the library's map (which takes stacks);
    the others in the eigenbasis of each symmetric member, V (G ⊙ Vᵀ H V) Vᵀ with the divided
    differences Gᵢⱼ = 1/(√wᵢ + √wⱼ), or log(wᵢ/wⱼ)/(wᵢ − wⱼ) and 1/wᵢ at ties (exact there)."""
    fn = e.op.removesuffix("_frechet")
    if g.name == "numpy":
        own: str = g.render(e, [a, h], stacks=False)
        return own
    if not g.symmetric(e.args[0]):
        g.unsupported(f"the derivative of {fn} at a stack whose members are not symmetric")
    return code_eigenbasis_frechet(g, fn, a, _paren(h), transposed_members, "[..., :, None]")


# Templates for stacks of the ops whose one-matrix code names the two matrix axes.
STACK_CODE: dict[str, Callable[..., str]] = {
    "matrix_transpose": _transpose,
    "trace": _trace,
    "diagpart": _diagpart,
    "diag": _diag,
    "cholesky": _cholesky,
    "adj_frechet": _adjugate_frechet,
    "tri": _tri,
    "eye": _identity,
    "solve_triangular": _solve_triangular,
    "eigvalsh": _column,
    "sqrtm": _matrix_function,
    "logm": _matrix_function,
    "svdvals": _column,
    "softmax": _normalized,
    "log_softmax": _normalized,
    "expm_frechet": _block_frechet,
    "sqrtm_frechet": _spectral_frechet,
    "logm_frechet": _spectral_frechet,
    **STACK_OPS,
}


def stacked(node: Expr) -> bool:
    """Whether the node or one of its arguments is a stack (more than two axes)."""
    return len(node.shape) > 2 or any(len(a.shape) > 2 for a in node.args)


def stack_template(g: Any, node: Expr) -> Callable[..., str] | None:
    """The template writing ``node`` over stacks: None for the op's own (it broadcasts), one of
    :data:`STACK_CODE`, or a ``CodegenError`` naming the op and the shape."""
    if node.op in STACK_READY:
        return None
    template = STACK_CODE.get(node.op)
    if template is None:
        shape = node.shape if len(node.shape) > 2 else next(a.shape for a in node.args if len(a.shape) > 2)
        g.unsupported(f"{node.op} ({spec(node.op).doc}) of a stack, shape {shape}: its code is written for "
                      f"one matrix (kv.evaluate and bound maps take stacks)")
    return template
