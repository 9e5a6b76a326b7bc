"""The structured terms a derivative is made of.

Each term is a small class: its action on a tangent H, its adjoint (which
keeps the structure), its dense form in the column-major vec convention, and
(where it has one) an einsum form used to contract compositions.

=====================  =====================  ================================
term                   action H ↦             dense (vec convention)
=====================  =====================  ================================
``KronMap(A, B)``      A H B                  Bᵀ ⊗ A
``KronTMap(A, B)``     A Hᵀ B                 (Bᵀ ⊗ A) K
``TraceMap(C, M)``     tr(C H) · M            vec(M) vec(Cᵀ)ᵀ
``ElementwiseMap(D)``  D ⊙ H                  diag(vec D)
``DiagEmbedMap``       diag(h)                (n, 1) → (n, n)
``DiagExtractMap``     diag(H) as a column    (n, n) → (n, 1)
``KronFactorMap``      H ⊗ B, A ⊗ H and the   the derivatives of kron and
                       contractions adjoint   of its adjoints
``ExpmFrechetMap(A)``  L(A, H)                Fréchet derivative of e^A
=====================  =====================  ================================

``None`` as a factor stands for an identity that is never built; K is the
commutation matrix (K vec H = vec Hᵀ).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.linalg as sla

from .. import registry
from ..expr import Expr, as_expr, is_scalar
from ..shapes import Shape, as_matrix_shape, matrix_transposed
from . import factors as fx
from .base import LinearMap, bind_factor
from .operands import dense_of, write_into

__all__ = ["KronMap", "KronTMap", "TraceMap", "ElementwiseMap", "DiagEmbedMap",
           "DiagExtractMap", "KronFactorMap", "ExpmFrechetMap", "expm_frechet_stack", "identity_map",
           "commutation_map"]


def identity_map(shape: Shape) -> "KronMap":
    """H ↦ H."""
    return KronMap(None, None, shape, shape)


def commutation_map(in_shape: Shape) -> "KronTMap":
    """H ↦ Hᵀ (the commutation matrix K with K vec H = vec Hᵀ; each member for a stack)."""
    inner = as_matrix_shape(in_shape)
    return KronTMap(None, None, inner, matrix_transposed(inner))


class _FactorTerm(LinearMap):
    """A term defined by a few factor matrices (rebuilt with new factors by ``bind``)."""

    def _with(self, *factors: Any) -> LinearMap:
        make: Callable[..., LinearMap] = type(self)  # a term's constructor: (*factors, in_shape, out_shape)
        return make(*factors, self.in_shape, self.out_shape)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return self._with(*[bind_factor(value, f) for f in self.factors()])

    def _copy_with(self, **factors: Any) -> LinearMap:
        """This term with its factors bound to numbers of the same shapes (no shape logic is
        redone)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(factors, _adj=None, _symbolic=False, value=None)
        return new

    def relabel(self, in_shape: Shape, out_shape: Shape) -> LinearMap | None:
        make: Callable[..., LinearMap] = type(self)
        return make(*self.factors(), in_shape, out_shape)


class KronMap(_FactorTerm):
    """H ↦ A H B, i.e. vec H ↦ (Bᵀ ⊗ A) vec H.

    Parameters
    ----------
    A : (p, n) factor or None (identity, p = n)
    B : (k, q) factor or None (identity, k = q)
    in_shape, out_shape : the shapes (n, k) of H and (p, q) of A H B.

    Notes
    -----
    Bound to numbers, the product is taken in the cheaper order,
    (A H) B or A (H B), chosen once from the shapes.
    """

    def __init__(self, A: Any, B: Any, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        self.A, self.B = A, B
        (n, k), (p, q) = as_matrix_shape(self.in_shape)[-2:], as_matrix_shape(self.out_shape)[-2:]
        self._left_first = p * n * k + p * k * q <= n * k * q + p * n * q

    def factors(self) -> tuple[Any, ...]:
        return (self.A, self.B)

    def is_identity(self) -> bool:
        return self.A is None and self.B is None

    def columnwise(self) -> bool:
        return self.B is None

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return self._copy_with(A=bind_factor(value, self.A), B=bind_factor(value, self.B))

    def absorb(self, c: Any) -> LinearMap | None:
        return _absorb_kron(self, c)

    def _apply(self, h: Any) -> Any:
        A, B = self.A, self.B
        if type(h) is not np.ndarray or self._symbolic is not False and self.symbolic:
            return fx.product(A, h, B)
        if A is None:
            return h if B is None else h @ B
        if B is None:
            return A @ h
        return (A @ h) @ B if self._left_first else A @ (h @ B)

    def vjp(self, G: Any) -> np.ndarray:
        """Lᵀ(G) = Aᵀ G Bᵀ.  On a bound map of small matrix factors whose adjoint is not built
        yet, the product is taken at once with the transposed views the adjoint would hold
        (the first VJP of a map bound at (20, 5) then costs two products, not a new map)."""
        A, B = self.A, self.B
        if self._adj is None and type(G) is np.ndarray and G.dtype is _FLOAT64 \
                and G.shape == self.out_shape and self._direct \
                and type(A) is np.ndarray and type(B) is np.ndarray and A.ndim == 2 == B.ndim \
                and A.size <= _COPIED_FROM and B.size <= _COPIED_FROM and self._symbolic is False \
                and type(self) is KronMap:
            (p, q), (n, k) = self.out_shape, self.in_shape  # the adjoint maps (p, q) to (n, k)
            left_first = n * p * q + n * q * k <= p * q * k + n * p * k  # as the adjoint would choose
            out: np.ndarray = (A.T @ G) @ B.T if left_first else A.T @ (G @ B.T)
            return out
        return super().vjp(G)

    def _adjoint(self) -> LinearMap:
        A, B = _transposed_copy(self.A), _transposed_copy(self.B)
        if self._symbolic is not False or not self._direct or type(self) is not KronMap:
            return KronMap(A, B, self.out_shape, self.in_shape)
        (n, k), (p, q) = self.out_shape, self.in_shape  # bound, of plain shapes: no shape logic redone
        new = object.__new__(KronMap)
        new.__dict__.update(in_shape=self.out_shape, out_shape=self.in_shape, _adj=None, _symbolic=False,
                            _direct=True, _plain=self._plain, A=A, B=B,
                            _left_first=p * n * k + p * k * q <= n * k * q + p * n * q)
        return new

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        (n, k), (p, q) = as_matrix_shape(self.in_shape), as_matrix_shape(self.out_shape)
        if self.B is None and k == q == 1 and self.A is not None:  # Bᵀ ⊗ A is A itself
            write_into(self.A, out, coef, assign)
            return
        A = np.eye(p) if self.A is None else np.ascontiguousarray(dense_of(self.A))
        Bt = np.eye(q) if self.B is None else np.ascontiguousarray(dense_of(self.B).T)
        if coef != 1.0:
            if A.size <= Bt.size:
                A = coef * A
            else:
                Bt = coef * Bt
        _outer_into(out.reshape(q, p, k, n), Bt[:, None, :, None], A[None, :, None, :], assign)

    def einsum_form(self, i: str, j: str, a: str, b: str) -> list[tuple[str, Any]]:
        """Operands of out[i, j] = Σ A[i, a] H[a, b] B[b, j]."""
        n, k = as_matrix_shape(self.in_shape)
        return [(i + a, _or_eye(self.A, n)), (b + j, _or_eye(self.B, k))]


class KronTMap(_FactorTerm):
    """H ↦ A Hᵀ B, i.e. vec H ↦ (Bᵀ ⊗ A) K vec H with K the commutation matrix.

    Parameters
    ----------
    A : (p, k) factor or None;  B : (n, q) factor or None,
    for H of shape (n, k) and a result of shape (p, q).
    The adjoint is G ↦ B Gᵀ A.
    """

    def __init__(self, A: Any, B: Any, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        self.A, self.B = A, B

    def factors(self) -> tuple[Any, ...]:
        return (self.A, self.B)

    def absorb(self, c: Any) -> LinearMap | None:
        return _absorb_kron(self, c)

    def _apply(self, h: Any) -> Any:
        return fx.product(self.A, fx.transposed(h), self.B) if self.A is not None or self.B is not None \
            else fx.transposed(h)

    def _adjoint(self) -> LinearMap:
        return KronTMap(self.B, self.A, self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        (n, k), (p, q) = as_matrix_shape(self.in_shape), as_matrix_shape(self.out_shape)
        A = coef * (np.eye(p) if self.A is None else dense_of(self.A))
        Bt = np.eye(q) if self.B is None else dense_of(self.B).T
        _outer_into(out.reshape(q, p, k, n), Bt[:, None, None, :], A[None, :, :, None], assign)

    def einsum_form(self, i: str, j: str, a: str, b: str) -> list[tuple[str, Any]]:
        """Operands of out[i, j] = Σ A[i, b] H[a, b] B[a, j]."""
        n, k = as_matrix_shape(self.in_shape)
        return [(i + b, _or_eye(self.A, k)), (a + j, _or_eye(self.B, n))]


class TraceMap(_FactorTerm):
    """H ↦ tr(C H) · M, i.e. vec H ↦ vec(M) vec(Cᵀ)ᵀ vec H (rank one).

    Parameters
    ----------
    C : (k, n) factor or None (identity) for H of shape (n, k).
    M : factor of the output's shape.
    The adjoint is G ↦ tr(Mᵀ G) · Cᵀ.
    """

    def __init__(self, C: Any, M: Any, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        # tr(C H) (sM) = tr((sC) H) M: scalar factors of M live in C, where they can cancel
        # (‖A‖⁻¹ against ‖A‖) and det(A)·A⁻¹ is one factor (the adjugate, defined at singular A)
        if isinstance(C, Expr) and isinstance(M, Expr):
            shape = M.shape
            while M.op in ("scale", "smul") or is_scalar(M) and M.op != "const":
                if M.op == "scale":
                    C, M = fx.mul(M.params.coef, C), M.args[0]
                elif M.op == "smul":
                    C, M = fx.mul(M.args[0], C), M.args[1]
                else:
                    C, M = fx.mul(M, C), fx.constant(1.0)
            if M.shape != shape:  # a (1, 1) output stays a matrix: the factor I₁ keeps its shape
                M = fx.mul(M, fx.eye(1, M))
        self.C: Any = C  # factors: expressions, or arrays and operands once bound
        self.M: Any = M

    def factors(self) -> tuple[Any, ...]:
        return (self.C, self.M)

    def absorb(self, c: Any) -> LinearMap:
        return TraceMap(self.C, fx.mul(c, self.M), self.in_shape, self.out_shape)

    def _apply(self, h: Any) -> Any:
        t = fx.trace_prod(self.C, h)
        if fx.is_symbolic(t, self.M):
            if np.ndim(t) == 1 and np.ndim(self.M) == 2:  # per-member scalars times a matrix: a stack
                return fx.member_mul(as_expr(t), as_expr(self.M))
            if is_scalar(as_expr(self.M)):
                return fx.mul(self.M, t)  # det(A) tr(A⁻¹ dA): the coefficient first
            return fx.mul(t, self.M)
        return np.asarray(t)[..., None, None] * dense_of(self.M)

    def c_transposed(self) -> Any:
        """Cᵀ, built where C stands for an identity (the scalar 1 for a scalar input)."""
        if self.C is not None:
            return fx.transposed(self.C)
        if len(self.in_shape) < 2 and fx.is_symbolic(self.M):
            return fx.constant(1.0)  # a scalar, or per-member scalars of a stack
        return fx.eye(as_matrix_shape(self.in_shape)[-2], self.M)

    def _adjoint(self) -> LinearMap:
        return TraceMap(fx.transposed(self.M), self.c_transposed(), self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        (n, k), (p, q) = as_matrix_shape(self.in_shape), as_matrix_shape(self.out_shape)
        C = np.eye(n) if self.C is None else dense_of(self.C)
        Mt = coef * dense_of(self.M).T
        _outer_into(out.reshape(q, p, k, n), Mt[:, :, None, None], C[None, None, :, :], assign)

    def einsum_form(self, i: str, j: str, a: str, b: str) -> list[tuple[str, Any]]:
        """Operands of out[i, j] = M[i, j] Σ C[b, a] H[a, b]."""
        n = as_matrix_shape(self.in_shape)[0]
        return [(i + j, np.asarray(self.M)), (b + a, _or_eye(self.C, n))]


class ElementwiseMap(_FactorTerm):
    """H ↦ D ⊙ H, i.e. vec H ↦ diag(vec D) vec H.  Self-adjoint."""

    def __init__(self, D: Any, in_shape: Shape, out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape if out_shape is None else out_shape)
        if isinstance(D, Expr) and D.ndim == 1 and len(self.out_shape) >= 2:
            # a 1-D D against a matrix or a stack is aligned as NumPy aligns it, with the last
            # axis (bound 1-D factors are per-member scalars, so it is given all the axes)
            D = registry.function("c_order_reshape")(D, (1,) * (len(self.out_shape) - 1) + D.shape)
        self.D: Any = D  # an expression, or an array once bound

    def factors(self) -> tuple[Any, ...]:
        return (self.D,)

    def absorb(self, c: Any) -> LinearMap:
        return ElementwiseMap(fx.mul(c, self.D), self.in_shape, self.out_shape)

    def columnwise(self) -> bool:
        return np.ndim(self.D) < 2 or np.shape(self.D)[-1] == 1

    def _apply(self, h: Any) -> Any:
        return fx.elementwise_product(self.D, h)

    def _adjoint(self) -> LinearMap:
        return ElementwiseMap(self.D, self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        d = coef * np.asarray(self.D).reshape(-1, order="F")
        idx = np.arange(d.size)
        if assign:
            out[...] = 0.0
            out[idx, idx] = d
        else:
            out[idx, idx] += d

    def einsum_form(self, i: str, j: str, a: str, b: str) -> list[tuple[str, Any]]:
        """Operands of out[i, j] = D[i, j] H[i, j], with Kronecker deltas tying a to i, b to j."""
        n, k = as_matrix_shape(self.in_shape)
        return [(i + j, np.asarray(self.D)), (i + a, np.eye(n)), (j + b, np.eye(k))]


class DiagEmbedMap(LinearMap):
    """h ↦ diag(h): an (n, 1) vector to the (n, n) diagonal matrix (each member of a stack
    ``stack + (n, 1)``)."""

    def __init__(self, n: int, stack: Shape = ()) -> None:
        super().__init__(tuple(stack) + (n, 1), tuple(stack) + (n, n))
        self.stack = tuple(stack)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return registry.function("diag")(h)
        n = self.in_shape[-2]
        out = np.zeros(np.shape(h)[:-2] + (n, n))
        idx = np.arange(n)
        out[..., idx, idx] = h[..., :, 0]
        return out

    def _adjoint(self) -> LinearMap:
        return DiagExtractMap(self.in_shape[-2], self.stack)


class DiagExtractMap(LinearMap):
    """H ↦ diag(H): the diagonal of an (n, n) matrix as an (n, 1) vector (each member of a
    stack ``stack + (n, n)``)."""

    def __init__(self, n: int, stack: Shape = ()) -> None:
        super().__init__(tuple(stack) + (n, n), tuple(stack) + (n, 1))
        self.stack = tuple(stack)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return registry.function("diag")(h)
        return np.diagonal(h, axis1=-2, axis2=-1)[..., None].copy()

    def _adjoint(self) -> LinearMap:
        return DiagEmbedMap(self.out_shape[-2], self.stack)


# The trilinear form ⟨Big, A ⊗ B⟩ = Σ Big[ip+k, jq+l] A[i, j] B[k, l] gives six
# linear maps: fix one slot, map a second to the dual of the third.
_SLOT_INDEX = {"a": "ij", "b": "kl", "big": "ikjl"}


class KronFactorMap(_FactorTerm):
    """The linear maps of the Kronecker product's trilinear form.

    With A of shape (m, n), B of shape (p, q) and Big = A ⊗ B of shape
    (mp, nq), ``KronFactorMap(F, fixed, src, dst, dims=(m, n, p, q))`` holds the
    matrix F in slot ``fixed`` and maps a tangent in slot ``src`` to slot
    ``dst``.  For example (fixed="b", src="a", dst="big") is H ↦ H ⊗ B, the
    derivative of A ⊗ B in A; its adjoint (fixed="b", src="big", dst="a") is
    G ↦ Σₖₗ G[ip+k, jq+l] B[k, l].
    """

    def __init__(self, F: Any, fixed: str, src: str, dst: str, dims: tuple[int, ...],
                 in_shape: Shape | None = None, out_shape: Shape | None = None) -> None:
        m, n, p, q = dims
        shapes = {"a": (m, n), "b": (p, q), "big": (m * p, n * q)}
        super().__init__(shapes[src], shapes[dst])
        self.F, self.fixed, self.src, self.dst, self.dims = F, fixed, src, dst, dims

    def factors(self) -> tuple[Any, ...]:
        return (self.F,)

    def _with(self, *factors: Any) -> LinearMap:
        return KronFactorMap(factors[0], self.fixed, self.src, self.dst, self.dims)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def _apply(self, h: Any) -> Any:
        m, n, p, q = self.dims
        F = self.F
        if fx.is_symbolic(F, h):
            F, h = as_expr(F), as_expr(h)
            kron, contract = registry.function("kron"), registry.function("kron_contract")
            if self.dst == "big":
                return kron(h, F) if self.src == "a" else kron(F, h)
            if self.fixed == "big":
                return contract(F, h, self.out_shape, self.dst)
            return contract(h, F, self.out_shape, self.dst)
        big4 = (m, p, n, q)
        Fv = F.reshape(big4) if self.fixed == "big" else F
        hv = h.reshape(h.shape[:-2] + big4) if self.src == "big" else h
        spec = f"{_SLOT_INDEX[self.fixed]},...{_SLOT_INDEX[self.src]}->...{_SLOT_INDEX[self.dst]}"
        out = np.einsum(spec, Fv, hv)
        return out.reshape(out.shape[:-4] + (m * p, n * q)) if self.dst == "big" else out

    def _adjoint(self) -> LinearMap:
        return KronFactorMap(self.F, self.fixed, self.dst, self.src, self.dims)


class ExpmFrechetMap(_FactorTerm):
    """H ↦ L(A, H), the Fréchet derivative of the matrix exponential at A.

    L(A, H) = ∫₀¹ e^{sA} H e^{(1-s)A} ds; its adjoint is L(Aᵀ, ·) (member by
    member for a stack).  Applied with ``scipy.linalg.expm_frechet`` for a
    matrix, and for a stack by :func:`expm_frechet_stack` (one batched
    exponential of the 2n × 2n block matrices, no loop over the members).
    """

    def __init__(self, A: Any, in_shape: Shape, out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape)
        self.A = A

    def factors(self) -> tuple[Any, ...]:
        return (self.A,)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(self.A, h):
            return registry.function("expm_frechet")(as_expr(self.A), as_expr(h))
        h = np.asarray(h)
        if np.ndim(self.A) > 2 or len(self.in_shape) > 2:
            return expm_frechet_stack(self.A, h)
        flat = h.reshape((-1,) + h.shape[-2:])
        out = np.stack([sla.expm_frechet(self.A, x, compute_expm=False, check_finite=False)
                        for x in flat])
        return out.reshape(h.shape)

    def _adjoint(self) -> LinearMap:
        return ExpmFrechetMap(fx.transposed(self.A), self.in_shape)


def expm_frechet_stack(A: Any, h: Any) -> np.ndarray:
    """L(A, H) for every member of a stack at once (H may have more leading axes than A).

    The block identity expm([[A, H], [0, A]]) = [[e^A, L(A, H)], [0, e^A]]:
    one batched ``scipy.linalg.expm`` of the (…, 2n, 2n) block matrices, the
    upper right blocks taken.  L is linear in H, so each member's H is scaled
    to unit norm first (its scale multiplied back), which keeps the blocks'
    norms, and so the scaling and squaring, those of A.
    """
    A, h = np.asarray(A, dtype=float), np.asarray(h, dtype=float)
    n = h.shape[-1]
    shape = np.broadcast_shapes(A.shape, h.shape)
    size = np.linalg.norm(h, axis=(-2, -1), keepdims=True)
    size = np.where(size > 0, size, 1.0)
    big = np.zeros(shape[:-2] + (2 * n, 2 * n))
    big[..., :n, :n] = A
    big[..., n:, n:] = A
    big[..., :n, n:] = h / size
    return np.ascontiguousarray(sla.expm(big)[..., :n, n:] * size)


def _transposed_copy(x: Any) -> Any:
    """xᵀ for the adjoint of a bound product term: a C-ordered copy of a bound factor of more
    than 2¹⁰ and at most 2²⁰ entries (OpenBLAS multiplies by a transposed view more slowly at
    some shapes: W G Wᵀ at (200, 20), 37 µs with the view, 28 µs with a copy; smaller factors
    multiply as fast as views, and their copy would be a third of a first VJP at (20, 5))."""
    t = fx.transposed(x)
    if type(t) is np.ndarray and t.ndim >= 2 and _COPIED_FROM < t.size <= 1 << 20 \
            and not t.flags.c_contiguous:
        return np.ascontiguousarray(t)
    return t


_COPIED_FROM = 1 << 10
_FLOAT64 = np.dtype(np.float64)


def _absorb_kron(m: "KronMap | KronTMap", c: Any) -> LinearMap | None:
    """c·(A H B) as (cA) H B (or A H (cB) when A is an identity); None for the identity."""
    if m.A is not None:
        return type(m)(fx.mul(c, m.A), m.B, m.in_shape, m.out_shape)
    if m.B is not None:
        return type(m)(m.A, fx.mul(c, m.B), m.in_shape, m.out_shape)
    return None


def _or_eye(f: Any, n: int) -> np.ndarray:
    return np.eye(n) if f is None else dense_of(f)


def _outer_into(out4: np.ndarray, x: np.ndarray, y: np.ndarray, assign: bool) -> None:
    """out4 = x·y (broadcast), or out4 += x·y one leading slice at a time."""
    if assign:
        np.multiply(x, y, out=out4)
        return
    for s in range(out4.shape[0]):
        out4[s] += x[min(s, x.shape[0] - 1)] * y[min(s, y.shape[0] - 1)]
