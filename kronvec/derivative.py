"""Jacobians, gradients and Hessians of matrix expressions.

``jacobian(F, V)`` walks the expression DAG once (forward accumulation),
composing each node's partial maps (its op's JVP rule in the registry) with
the maps of its arguments; composition simplifies Kronecker terms by the mixed-product rule,
so the result is a short sum of structured terms whose factors are
expressions.  ``grad`` applies the adjoint of that map to the scalar 1, which
gives an ordinary expression, so ``hessian(f, X) = jacobian(grad(f, X), X)``.
Gradients in several variables come from one reverse sweep
(:mod:`kronvec.reverse`) whose cotangents are expressions shared by all of them.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import expr as E
from .blockjacobian import BlockJacobian
from .caches import FIRST_USE, RecentCache, constant_bytes
from .errors import BindingError, ShapeError
from .evaluation import CHUNKED, by_name, check_mode, chunked_values
from .evaluation.derivative_binding import FactorBinding, SharedStructure, bind_derivative
from .maps import LinearMap, SumMap, ZeroMap, check_composable, identity_map
from .maps.algebra import add_maps, compose
from .maps.axes import BroadcastMap
from .ops.arithmetic import add as add_expr, scale as scale_expr, smul as smul_expr
from .ops.leaves import identity, ones, zeros
from .ops.reductions import trace
from .registry import DISPLAY, spec
from .reverse import cotangents, forward_is_cheap
from .shapes import is_plain, same_shape
from .sizing import bound_elsewhere, inferred_as, per_sizes

__all__ = ["jacobian", "grad", "hessian", "explain", "Jacobian", "BlockJacobian", "jacobian_map",
           "partial"]


def partial(node: E.Expr, i: int) -> LinearMap:
    """∂ node / ∂ node.args[i] as a linear map: the op's JVP rule from the registry.

    On stacks, a rule gives the map from argument i broadcast to the node's
    stack axes (:func:`kronvec.ops._jvp_rules.map_shapes`); the broadcast itself (a
    matrix against a stack, a scalar over the members) is composed here.
    """
    op = spec(node.op)
    if op.jvp is None:
        raise NotImplementedError(f"no derivative rule for {node.op!r}")
    arg = node.args[i]
    if not op.stacks and not (is_plain(node.shape) and is_plain(arg.shape)):
        raise NotImplementedError(f"the derivative of {node.op!r} is not implemented for stacks of "
                                  f"matrices (shapes {arg.shape} -> {node.shape})")
    m = op.jvp(node, i)
    if not same_shape(m.in_shape, arg.shape):
        m = compose(m, BroadcastMap(arg.shape, m.in_shape))
    return m


def _check_wrt(wrt: Any, what: str, f: E.Expr) -> E.Expr:
    """The symbol to differentiate by (given as a symbol or by its name)."""
    if isinstance(wrt, str):
        symbols = f.symbols()
        if wrt not in symbols:
            known = ", ".join(f"{k} {v.shape}" for k, v in symbols.items()) or "none"
            raise BindingError(f"{what}: the expression has no symbol named {wrt!r} "
                               f"(its symbols: {known}); pass the symbol itself to get the zero map")
        return symbols[wrt]
    if not isinstance(wrt, E.Expr) or wrt.op != "symbol":
        raise TypeError(f"{what}: differentiate with respect to a symbol such as "
                        f"kv.Matrix('V', (n, n)), got {wrt!r}")
    symbol = inferred_as(other := f._symbols.get(wrt.params.name), wrt)  # (no copy: runs on every call)
    if other is not None and other is not symbol:
        try:
            E.raise_name_clash(other, symbol)
        except ShapeError as err:  # its derivative in wrt would silently be the zero map
            raise ShapeError(f"{what}: the expression holds a different symbol of the name "
                             f"{symbol.params.name!r}: {err}") from None
    return symbol


def _several(wrt: Any, what: str) -> bool:
    """Whether ``wrt`` lists several variables (a list or tuple); refuses an empty one."""
    if not isinstance(wrt, (list, tuple)):
        return False
    if not wrt:
        raise ValueError(f"{what}: needs at least one variable, got an empty {type(wrt).__name__}")
    return True


def jacobian_map(f: E.Expr, wrt: E.Expr) -> LinearMap:
    """The symbolic linear map d(wrt) ↦ d(f) (``f`` without names)."""
    depends: set[E.Expr] = set()
    maps: dict[E.Expr, LinearMap] = {}
    for node in f.walk():
        if node is wrt:
            depends.add(node)
            maps[node] = identity_map(wrt.shape)
            continue
        parts = [compose(partial(node, i), maps[a])
                 for i, a in enumerate(node.args) if a in depends]
        if parts:
            depends.add(node)
            maps[node] = add_maps(*parts)
    return maps.get(f, ZeroMap(wrt.shape, f.shape))


class Jacobian:
    """The symbolic derivative dV ↦ dF of an expression F in a symbol V.

    Its factors are expressions; ``str(J)`` prints the closed form in the vec
    convention (``vec dF = J vec dV``, e.g. ``(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)``),
    :meth:`differential` the matrix form (``dF = F Xᵀ V⁻¹ dV V⁻¹ X F``) and
    :meth:`at` binds numbers, giving a lazy numeric :class:`LinearMap`.

    Attributes
    ----------
    expr, wrt : Expr
        F and V.
    map : LinearMap
        The symbolic map (a sum of structured terms).
    names : dict
        Display names of subexpressions (from ``.named``).
    """

    def __init__(self, expr: E.Expr, wrt: E.Expr, lmap: LinearMap,
                 names: Mapping[E.Expr, str] | None = None, adjoint: bool = False) -> None:
        self.expr, self.wrt, self.map = expr, wrt, lmap
        self.adjoint = adjoint
        self.names = dict(names or {})
        self._binding: FactorBinding | None = None  # made on first use
        self._structure: SharedStructure | None = None  # plans shared by the size sets, with named sizes
        self._per_sizes = per_sizes(expr, lmap)  # None unless sizes are given as names

    def __reduce__(self) -> tuple[type[Jacobian], tuple[Any, ...]]:
        """Pickle what the derivative is; what ``at`` set up is built again on first use."""
        return (Jacobian, (self.expr, self.wrt, self.map, self.names, self.adjoint))

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.map.in_shape

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.map.out_shape

    @property
    def shape(self) -> tuple[int, int]:
        return self.map.shape

    @property
    def terms(self) -> list[LinearMap]:
        """The structured terms the map is a sum of (``[]`` for the zero map)."""
        if isinstance(self.map, ZeroMap):
            return []
        return list(self.map.terms) if isinstance(self.map, SumMap) else [self.map]

    @property
    def nterms(self) -> int:
        """How many structured terms the closed form has."""
        return len(self.terms)

    def at(self, values: Mapping[str, Any] | None = None, *, check: bool | str = True,
           **kw: Any) -> LinearMap:
        """The numeric lazy map at the given values (bound by symbol name).

        Every factor is evaluated once, sharing subexpressions and
        factorizations; applying the result costs what the closed form costs.
        The map's ``value`` is F at the same point, computed with the same
        factorizations (None when a symbol of F that no factor needs has no
        value).  The numeric steps of the first binding are recorded and
        replayed for later bindings.

        ``check`` says what is checked (:mod:`kronvec.evaluation.checks`):

        * ``True`` (default): results. Plain values are checked finite (one sum), values of
          symmetric symbols exactly symmetric and finite (one pass); a failed Cholesky
          factorization, or tiny or non-finite pivots of an LU or Cholesky factorization, make
          the binding run again with every check, which raises the error naming the culprit
          (the symbol, or the singular sub-expression), or gives the values.
        * ``"full"``: also the LAPACK condition estimate of every matrix solved with.
        * ``False``: no input is checked, for values known to be finite and, for symmetric
          symbols, exactly symmetric: anything else is the caller's responsibility (the numbers
          are undefined). The checks of results still run.

        A symbol named ``check`` is bound through the mapping: ``J.at({"check": C0}, X=X0)``.

        With Dask values (stacks chunked along their stack axes) the result is
        a :class:`kronvec.chunked.ChunkedMap`: bound block by block on the
        active Dask scheduler, its ``jvp``/``vjp`` return Dask arrays.
        """
        mode = check_mode(check)
        given = by_name("J.at", values, kw)
        if self._per_sizes is not None or CHUNKED.at is not None and chunked_values(given):
            return bound_elsewhere(self, given, jacobian, CHUNKED.at, self._sized_binding)
        binding = self._binding if self._binding is not None else self._first_binding()
        return bind_derivative(binding, self.map, given, mode)

    def _first_binding(self) -> FactorBinding:
        """What binding needs, made once, also when several threads bind at the same time."""
        with FIRST_USE:
            if self._binding is None:
                self._binding = FactorBinding(self.expr, self.map)
            return self._binding

    def _sized_binding(self, sized: "Jacobian", sizes: Mapping[int, int]) -> "Jacobian":
        """``sized`` (this derivative at ``sizes`` for its names) binding with the plans of this
        symbolic structure, which every size set shares."""
        with FIRST_USE:
            if self._structure is None:
                self._structure = SharedStructure(self.expr, self.map)
        if sized.expr is not self.expr and sized._binding is None:  # (one bound before keeps its plans)
            sized._binding = self._structure.binding(sized.expr, sized.map, sizes)
        return sized

    @property
    def T(self) -> "Jacobian":
        """The symbolic adjoint (the VJP map F̄ ↦ V̄)."""
        return Jacobian(self.expr, self.wrt, self.map.T, self.names, not self.adjoint)

    def __matmul__(self, other: Any) -> "Jacobian":
        """Symbolic chain rule: self∘other, for another Jacobian or a structural map
        such as ``kv.duplication(n)`` (then the result is the Jacobian in vech V)."""
        if isinstance(other, LinearMap):
            _require_structural(other, "J @ L")
            check_composable(self.map, other)
            return Jacobian(self.expr, self.wrt, compose(self.map, other), self.names, self.adjoint)
        if not isinstance(other, Jacobian):
            return NotImplemented
        check_composable(self.map, other.map)
        return Jacobian(self.expr, other.wrt, compose(self.map, other.map),
                        {**other.names, **self.names})

    def __rmatmul__(self, other: Any) -> "Jacobian":
        """``L @ J`` for a structural map L (such as ``kv.elimination(n)``)."""
        if not isinstance(other, LinearMap):
            return NotImplemented
        _require_structural(other, "L @ J")
        check_composable(other, self.map)
        return Jacobian(self.expr, self.wrt, compose(other, self.map), self.names, self.adjoint)

    def apply(self, tangent: Any) -> E.Expr:
        """dF as an expression, for the tangent expression dV = ``tangent``."""
        tangent = E.as_expr(tangent)
        if tangent.shape != self.in_shape:
            raise ShapeError(f"apply: tangent shape {tangent.shape} differs from the map's "
                             f"input shape {self.in_shape}")
        result: E.Expr = self.map._apply(tangent)
        return result

    def differential(self) -> str:
        """The matrix form, e.g. ``dF = F Xᵀ V⁻¹ dV V⁻¹ X F``.

        For an adjoint (``J.T``) the reverse-mode form, e.g.
        ``V̄ = V⁻ᵀ X Fᵀ F̄ Fᵀ Xᵀ V⁻ᵀ`` with F̄ the cotangent of F.
        """
        return DISPLAY.differential(self)

    def steps(self, names: Mapping[E.Expr, str] | None = None, latex: bool = False) -> str:
        """The derivation step by step, as a hand derivation would write it.

        Intermediate results get letters (P = V⁻¹, M = XᵀPX, F = M⁻¹), their
        differentials follow (dP = -P dV P, ...), then everything is substituted
        back; a scalar ends with df = tr(Gᵀ dX) and its gradient G.  With
        ``latex=True``, the same steps as a LaTeX ``aligned`` block.
        """
        gradient = grad(self.expr, self.wrt) if E.is_scalar(self.expr) else None
        return DISPLAY.steps(self, gradient, names, latex)

    def __str__(self) -> str:
        return DISPLAY.map_unicode(self.map, self.names)

    def __repr__(self) -> str:
        return (f"<Jacobian of shape {self.shape} ({self.out_shape} w.r.t. "
                f"{self.wrt.params.name} {self.in_shape}): {self}>")

    def latex(self) -> str:
        """LaTeX of the closed form."""
        return DISPLAY.map_latex(self.map, self.names)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


def _bound_to_numbers(m: LinearMap) -> bool:
    return any(isinstance(f, np.ndarray) for f in m.factors()) or any(map(_bound_to_numbers, m.children()))


def _require_structural(m: LinearMap, what: str) -> None:
    """A map bound to numbers cannot join a symbolic Jacobian: say how to compose instead."""
    if _bound_to_numbers(m):
        raise TypeError(f"{what}: L is a map bound to numbers and J is symbolic; bind J first, "
                        f"e.g. J.at(values) @ L or L @ J.at(values), which compose numerically")


def jacobian(f: Any, wrt: Any) -> Any:
    """The derivative of ``f`` with respect to the symbol ``wrt`` as a lazy map.

    For F of shape (p, q) and V of shape (n, k) the map is dV ↦ dF; its dense
    matrix J has shape (pq, nk) with vec dF = J vec dV (column-major vec).
    ``wrt`` is a symbol or the name of one of ``f``'s symbols.
    A symbol that ``f`` does not contain gives the zero map.  For a symbol
    declared symmetric the map is still the unconstrained one; compose it with
    ``kv.duplication(n)`` for the derivative with respect to vech V.
    A list or tuple of variables gives a tuple of Jacobians, in the same order.

    Examples
    --------
    >>> import kronvec as kv
    >>> X, V = kv.Matrix("X", (5, 3)), kv.Matrix("V", (5, 5))
    >>> F = kv.inv(X.T @ kv.inv(V) @ X).named("F")
    >>> print(kv.jacobian(F, V))
    (V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)
    """
    f = E.as_expr(f)
    if _several(wrt, "jacobian"):
        return tuple(jacobian(f, w) for w in wrt)
    wrt = _check_wrt(wrt, "jacobian", f)
    key = (f, wrt)
    cached = _RECENT.get(key)
    if cached is not None:
        return cached
    J = Jacobian(f, wrt, jacobian_map(E.strip_names(f), wrt), E.display_names(f))
    return _RECENT.add(key, J, constant_bytes(key))


# Expressions are interned, so (F, V) identifies a derivative: recent Jacobians are
# reused with their recorded evaluation plans (``kv.jacobian(F, V).at(...)`` in a loop), within a
# byte budget for the constants they keep alive.
_RECENT: "RecentCache[Jacobian]" = RecentCache(128)


def grad(f: Any, wrt: Any) -> Any:
    """The gradient G of a scalar expression: df = tr(Gᵀ dX), G of X's shape.

    ``wrt`` is a symbol or the name of one of ``f``'s symbols; a list or tuple
    of them gives a tuple of gradients, in the same order.

    One variable: forward accumulation, Gᵀ = Jᵀ1 for the Jacobian J of f.
    Several: one reverse sweep over the expression DAG (each node's cotangent
    ∂f/∂u built once as an expression and shared by every variable below it),
    so the gradients of a program in all its parameters cost O(size of f);
    when one forward derivation per variable costs at most about as much,
    each gradient is the single-variable one instead.

    For a symbol declared ``symmetric=True`` this is the gradient in the space
    of symmetric matrices, sym(G) = (G + Gᵀ)/2 of the unconstrained G.

    Examples
    --------
    >>> import kronvec as kv
    >>> X = kv.Matrix("X", (3, 3))
    >>> a, b = kv.Vector("a", 3), kv.Vector("b", 3)
    >>> print(kv.grad(a.T @ kv.inv(X) @ b, X))
    -X⁻ᵀabᵀX⁻ᵀ
    """
    f = E.strip_names(E.as_expr(f))
    several = _several(wrt, "grad")
    variables = [_check_wrt(w, "grad", f) for w in (wrt if several else [wrt])]
    if not E.is_scalar(f):
        raise ShapeError(f"grad: needs a scalar expression (shape () or (1, 1)), got shape "
                         f"{f.shape}; use kv.jacobian for matrix-valued expressions")
    if several and not forward_is_cheap(f, variables):
        return reverse_gradients(f, variables)
    gradients = tuple(_as_gradient(_forward_gradient(f, v), v) for v in variables)
    return gradients if several else gradients[0]


def reverse_gradients(f: E.Expr, variables: list[E.Expr]) -> tuple[E.Expr, ...]:
    """The gradients of the scalar ``f`` (without names) in ``variables`` by one reverse sweep.

    ``kv.grad(f, [V₁, …, Vₖ])`` uses it when one forward derivation per
    variable would cost more than about twice the sweep
    (:func:`kronvec.reverse.forward_is_cheap`).
    """
    bars = cotangents(f, variables, partial)
    return tuple(_as_gradient(bars.get(v), v) for v in variables)


def _forward_gradient(f: E.Expr, wrt: E.Expr) -> E.Expr | None:
    """Jᵀ1 for the forward Jacobian J of the scalar f in ``wrt`` (None: f does not use it).

    Its sums print expanded, as a hand derivation writes them.
    """
    lmap = jacobian_map(f, wrt)
    return None if isinstance(lmap, ZeroMap) else lmap.T._apply(ones(f.shape))


def _as_gradient(g: E.Expr | None, wrt: E.Expr) -> E.Expr:
    """The cotangent ``g`` of ``wrt`` (None: f does not use it) in wrt's shape and space."""
    if g is None:
        return zeros(wrt.shape)
    if g.shape == (1, 1) and wrt.shape == ():
        g = trace(g)  # the 1×1 matrix as a scalar
    elif g.shape == () and wrt.shape == (1, 1):
        g = smul_expr(g, identity(1))  # the gradient has the symbol's shape
    if wrt.params.symmetric and wrt.shape != ():
        g = assume_symmetric(g)
        g = _unfold(g)
        g = scale_expr(0.5, add_expr(g, assume_symmetric(g.mT)))
    return g


def _unfold(g: E.Expr) -> E.Expr:
    """c·foldₗ(X) as c·X for a symmetric X: sym(foldₗ(X)) = X (a gradient through symₗ(dS))."""
    if g.op == "scale":
        inner = _unfold(g.args[0])
        return g if inner is g.args[0] else scale_expr(g.params.coef, inner)
    if g.op == "tri" and g.params.kind.startswith("fold") and g.args[0].mT is g.args[0]:
        return g.args[0]
    return g


def assume_symmetric(e: E.Expr) -> E.Expr:
    """``e`` with Vᵀ replaced by V for every symbol declared symmetric.

    Valid wherever the value of V is symmetric (as in a gradient with respect
    to a symmetric matrix); used to shorten such results, never on Jacobians.
    """
    mapping = {id(n): n.args[0] for n in e.walk()
               if n.op == "matrix_transpose" and n.args[0].op == "symbol" and n.args[0].params.symmetric}
    return E.substitute(e, mapping) if mapping else e


def hessian(f: Any, wrt: Any) -> Any:
    """The Hessian of a scalar expression: the Jacobian of its gradient.

    ``hessian(f, X).at(...)`` is a LinearMap with in and out shape X.shape;
    its ``jvp`` is a Hessian-vector product.

    For a list or tuple of variables ``[U, V]`` it is the block Hessian, a
    :class:`~kronvec.blockjacobian.BlockJacobian` with blocks
    Hᵢⱼ = ∂(∇ᵢ f)/∂Vⱼ; its ``.at(...)`` is a block map whose ``jvp`` takes a
    tuple of tangents (one per variable) and returns a tuple, and whose
    ``to_dense()`` is [[H_UU, H_UV], [H_VU, H_VV]] in the vec convention,
    the variables stacked in order.
    """
    if _several(wrt, "hessian"):
        f = E.as_expr(f)
        variables = [_check_wrt(w, "hessian", f) for w in wrt]
        gradients = grad(f, variables)
        return BlockJacobian(f, variables, [[jacobian(g, v) for v in variables] for g in gradients])
    wrt = _check_wrt(wrt, "hessian", E.as_expr(f))
    return jacobian(grad(f, wrt), wrt)


def explain(f: Any, wrt: E.Expr, names: Mapping[E.Expr, str] | None = None) -> str:
    """The derivation of d``f`` in d``wrt`` step by step (``kv.jacobian(f, wrt).steps()``).

    Examples
    --------
    >>> import kronvec as kv
    >>> X = kv.Matrix("X", (4, 4))
    >>> print(kv.explain(kv.logdet(X), X))
    f = log det(X)
    df = tr(X⁻¹ dX)
    df = tr(Gᵀ dX) with G = X⁻ᵀ
    """
    result: str = jacobian(f, wrt).steps(names)
    return result
