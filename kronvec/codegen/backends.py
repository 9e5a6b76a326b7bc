"""The backends of generated code: NumPy/SciPy, JAX and PyTorch.

A :class:`Backend` knows the names the generated code uses for its modules
(``np``, ``jnp``, ``torch``; ``{np}`` and ``{la}`` in the ops' code templates),
builds the namespace the code runs in (importing its library when
:func:`kronvec.lambdify` is called, so that a missing one raises an
``ImportError`` naming the extra to install), and writes the evaluator's
factorizations as code.  One factorization per matrix, as the evaluator
chooses it:

* ``cholesky``: NumPy ``potrf``/``potrs``/``potri`` (the LAPACK calls the
  evaluator makes); JAX ``jsla.cho_factor``/``cho_solve``; PyTorch
  ``torch.linalg.cholesky``/``torch.cholesky_solve``/``cholesky_inverse``;
* ``lu``: NumPy ``getrf``/``getrs``/``getri``; JAX ``jsla.lu_factor``/``lu_solve``;
  PyTorch ``torch.linalg.lu_factor``/``lu_solve``;
* ``ldl`` (symmetric, 128 rows or more): NumPy ``sytrf``/``sytrs``/``sytri``;
  JAX and PyTorch as ``lu``;
* ``triangular`` (a matrix known to be triangular, no factorization):
  ``trtrs``/``trtri``, ``jsla.solve_triangular``, ``torch.linalg.solve_triangular``.

Inverses are formed only where the evaluator forms them (the inverse itself
is wanted): NumPy by ``potri``/``getri``/``sytri``/``trtri``, the others by a
solve with the identity on the same factors.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy import ndarray
from scipy.linalg import lapack

from ..contexts import CodeContext
from ..evaluation.factorization import _ldl_logabsdet
from ..lazy import optional_module
from .arrays import (Factor, diagonals, numpy_stack_factor, numpy_stack_solve, paren as _paren,
                     transposed_members)

__all__ = ["Backend", "Factor", "BACKENDS", "backend"]


class Backend:
    """How generated code is written for one array library.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"jax"`` or ``"torch"``.
    array_module, linalg_module : str
        The names of the array module and of its linear-algebra module in
        the generated code (``{np}`` and ``{la}`` in code templates).
    modules : dict
        Namespace name -> module imported when a function is generated.
    extra : str
        The optional dependency to install for it (``pip install "kronvec[jax]"``).
    """

    name = ""
    array_module = "np"
    linalg_module = "np.linalg"
    modules: dict[str, str] = {}
    extra = ""

    def namespace(self) -> dict[str, Any]:
        """The modules the generated code refers to, imported now.

        Raises
        ------
        ImportError
            The backend's library is not installed; the message names the
            extra that installs it.
        """
        return {alias: optional_module(module, self.extra, f"the {self.name!r} backend of kronvec.lambdify")
                for alias, module in self.modules.items()}

    def constant(self, space: dict[str, Any], value: ndarray) -> Any:
        """A constant array as the backend's array type."""
        return value

    def constant_use(self, name: str) -> str:
        """The code that reads the constant array ``name`` where it is used."""
        return name

    # ------------------------------------------------------------ arrays
    array_options = ""  # keyword arguments of new arrays (torch: dtype and device)

    def eye(self, n: int) -> str:
        return f"{self.array_module}.eye({n}{self.array_options})"

    def zeros(self, shape: tuple[int, ...]) -> str:
        return f"{self.array_module}.zeros({tuple(shape)}{self.array_options})"

    def ones(self, shape: tuple[int, ...]) -> str:
        return f"{self.array_module}.ones({tuple(shape)}{self.array_options})"

    def place(self, g: CodeContext, shape: tuple[int, ...], key: str, value: str) -> str:
        """The zero matrix of ``shape`` with ``value`` at ``[key]`` (two lines, in place)."""
        out = g.let(self.zeros(shape), hint="placed", shared=False)
        g.line(f"{out}[{key}] = {value}")
        return out

    # ---------------------------------------------------- factorizations
    cholesky_call = lu_call = ""  # the library's calls, e.g. "jsla.cho_factor({a})"
    cholesky_label = "UᵀU"        # how its Cholesky factor reads

    def factorize(self, g: CodeContext, kind: str, a: str, base: str, n: int, lower: bool = False,
                  label: str | None = None, stacked: int = 0) -> Factor:
        """Emit the factorization of the matrix ``a`` (of size n, printed ``label``; every
        member of a stack with ``stacked`` stack axes) and return it."""
        label = label or a
        if kind == "triangular":
            return Factor(kind, (a,), n, lower, stacked)
        if kind == "cholesky":
            (c,) = g.fresh(base + "_chol")
            g.line(f"{c} = {self.cholesky_call.format(a=a)}", f"{label} = {self.cholesky_label.format(a=a)}")
            return Factor(kind, (c,), n, stacked=stacked)
        (lu,) = g.fresh(base + "_lu")
        g.line(f"{lu} = {self.lu_call.format(a=a)}", f"{label} = P L U")
        return Factor("lu", (lu,), n, stacked=stacked)

    def solve(self, f: Factor, b: str, trans: bool) -> str:
        """A⁻¹b (A⁻ᵀb when ``trans``)."""
        raise NotImplementedError

    def solve_right(self, f: Factor, x: str, trans: bool) -> str:
        """x A⁻¹ (x A⁻ᵀ when ``trans``)."""
        raise NotImplementedError

    def solve_code(self, g: CodeContext, f: Factor, b: str, trans: bool, shape: tuple[int, ...],
                   label: str | None = None) -> str:
        """A⁻¹b for the right side b of ``shape`` (the backend may emit lines first; ``label``
        prints the result)."""
        return self.solve(f, b, trans)

    def solve_right_code(self, g: CodeContext, f: Factor, x: str, trans: bool, shape: tuple[int, ...],
                         label: str | None = None) -> str:
        """x A⁻¹ for x of ``shape`` (the backend may emit lines first)."""
        return self.solve_right(f, x, trans)

    def inverse(self, g: CodeContext, f: Factor, trans: bool) -> str:
        """A⁻¹ itself (A⁻ᵀ when ``trans``)."""
        raise NotImplementedError

    def logabsdet(self, g: CodeContext, f: Factor) -> str:
        """log|det A|."""
        raise NotImplementedError

    def det(self, g: CodeContext, f: Factor) -> str:
        """det A."""
        raise NotImplementedError

    def cholesky_lower(self, f: Factor) -> str:
        """The lower Cholesky factor L (A = LLᵀ) of a ``cholesky`` factorization."""
        raise NotImplementedError


class NumpyBackend(Backend):
    """NumPy and SciPy; factorizations by the LAPACK calls the evaluator makes."""

    name, extra = "numpy", "numpy"
    modules = {"np": "numpy", "sla": "scipy.linalg", "lapack": "scipy.linalg.lapack",
               "blas": "scipy.linalg.blas", "special": "scipy.special"}

    cholesky_call = "lapack.dpotrf({a}.T, lower=0, clean=1)[0]"
    cholesky_label = "UᵀU ({a}.T: Fortran order)"

    def factorize(self, g: CodeContext, kind: str, a: str, base: str, n: int, lower: bool = False,
                  label: str | None = None, stacked: int = 0) -> Factor:
        label = label or a
        if stacked:
            return numpy_stack_factor(g, kind, a, base, n, label, stacked)
        if kind == "ldl":
            ldl, ipiv = g.fresh(base + "_ldl", base + "_ipiv")
            lwork = int(lapack.dsytrf_lwork(n)[0])
            g.line(f"{ldl}, {ipiv}, _ = lapack.dsytrf({a}.T, lower=0, lwork={lwork})", f"{label} = U D Uᵀ")
            return Factor(kind, (ldl, ipiv), n)
        if kind != "lu":
            return super().factorize(g, kind, a, base, n, lower, label)
        lu, piv = g.fresh(base + "_lu", base + "_piv")
        g.line(f"{lu}, {piv}, _ = lapack.dgetrf({a})", f"{label} = P L U")
        return Factor("lu", (lu, piv), n)

    def solve(self, f: Factor, b: str, trans: bool) -> str:
        k, names = f.kind, f.names
        if k == "cholesky":
            return f"lapack.dpotrs({names[0]}, {b}, lower=0)[0]"
        if k == "ldl":
            return f"lapack.dsytrs({names[0]}, {names[1]}, {b}, lower=0)[0]"
        if k == "triangular" and f.stacked:  # SciPy's solve_triangular takes stacks
            return (f"sla.solve_triangular({names[0]}, {b}, trans={int(trans)}, lower={f.lower}, "
                    f"check_finite=False)")
        if k == "triangular":
            return f"lapack.dtrtrs({names[0]}, {b}, lower={int(f.lower)}, trans={int(trans)})[0]"
        return f"lapack.dgetrs({names[0]}, {names[1]}, {b}{', trans=1' if trans else ''})[0]"

    def solve_right(self, f: Factor, x: str, trans: bool) -> str:
        return _t(self.solve(f, _t(x, f.stacked), not trans), f.stacked, call=True)

    def solve_code(self, g: CodeContext, f: Factor, b: str, trans: bool, shape: tuple[int, ...],
                   label: str | None = None) -> str:
        if f.stacked:
            return self.solve(f, b, trans) if f.kind == "triangular" else numpy_stack_solve(g, f, b, trans)
        if len(shape) > 2:  # one matrix, a stack of right sides: the members side by side as columns
            x = self.solve(f, f"np.moveaxis({b}, -2, 0).reshape({shape[-2]}, -1)", trans)
            return f"np.moveaxis({x}.reshape({(shape[-2], *shape[:-2], shape[-1])}), 0, -2)"
        if _wide(f, shape, 1):  # A⁻¹B = (Bᵀ A⁻ᵀ)ᵀ
            return _t(self._right_solves(g, f, _t(b), not trans, f"({label})ᵀ" if label else None))
        return self.solve(f, b, trans)

    def solve_right_code(self, g: CodeContext, f: Factor, x: str, trans: bool, shape: tuple[int, ...],
                         label: str | None = None) -> str:
        if f.stacked or len(shape) > 2:  # x A⁻¹ = (A⁻ᵀ xᵀ)ᵀ for every member
            transposed = (*shape[:-2], shape[-1], shape[-2]) if len(shape) >= 2 else shape
            return _t(self.solve_code(g, f, _t(x, True), not trans, transposed), True)
        if _wide(f, shape, 0):  # a tall x: x A⁻¹ by solves from the right
            return self._right_solves(g, f, x, trans, label)
        return self.solve_right(f, x, trans)

    def _right_solves(self, g: CodeContext, f: Factor, y: str, trans: bool, label: str | None) -> str:
        """y A⁻¹ (y A⁻ᵀ when ``trans``) by BLAS ``trsm`` from the right: for a right side with
        more columns than A has (or an x with more rows), OpenBLAS solves much faster from the
        right than ``getrs`` does from the left."""
        a = f.names[0]
        steps: list[tuple[str, bool, bool, bool]] = []  # (factor, lower, transposed, unit diagonal)
        if f.kind == "triangular":
            steps = [("T", f.lower, trans, False)]
        elif f.kind == "cholesky":  # A⁻¹ = U⁻¹U⁻ᵀ
            steps = [("U", False, False, False), ("U", False, True, False)]
        elif trans:  # A = P L U: A⁻ᵀ = P L⁻ᵀ U⁻ᵀ
            y = g.let(f"lapack.dlaswp({_t(y)}, {f.names[1]}).T", shared=False, comment="· P")
            steps = [("L", True, True, True), ("U", False, True, False)]
        else:  # A⁻¹ = U⁻¹ L⁻¹ Pᵀ
            steps = [("U", False, False, False), ("L", True, False, True)]
        for k, (name, lower, t, unit) in enumerate(steps):
            flags = "side=1" + (", lower=1" if lower else "") + (", trans_a=1" if t else "") + \
                (", diag=1" if unit else "")
            last = k == len(steps) - 1 and (f.kind != "lu" or trans)
            y = g.let(f"blas.dtrsm(1.0, {a}, {y}, {flags})", shared=False,
                      comment=label if last else f"· {name}{'⁻ᵀ' if t else '⁻¹'} (solve from the right)")
        if f.kind == "lu" and not trans:
            y = g.let(f"lapack.dlaswp({_t(y)}, {f.names[1]}, inc=-1).T", shared=False, comment=label)
        return y

    def inverse(self, g: CodeContext, f: Factor, trans: bool) -> str:
        k, names = f.kind, f.names
        if f.stacked:
            if f.inverses is None:
                f.inverses = g.let(f"np.linalg.inv({names[0]})", hint=names[0] + "_inv", shared=False,
                                   comment="the inverses of the members")
            return _t(f.inverses, True) if trans else f.inverses
        if k == "cholesky":
            upper = g.let(f"lapack.dpotri({names[0]}, lower=0)[0]", hint="upper", shared=False,
                          comment="the upper triangle of the inverse")
            return f"{upper} + np.triu({upper}, 1).T"
        if k == "ldl":
            upper = g.let(f"np.triu(lapack.dsytri({names[0]}, {names[1]}, lower=0)[0])", hint="upper",
                          shared=False, comment="the upper triangle of the inverse")
            return f"{upper} + np.triu({upper}, 1).T"
        if k == "triangular":
            tri = "tril" if f.lower else "triu"
            return f"np.{tri}(lapack.dtrtri({names[0]}, lower={int(f.lower)})[0]){'.T' if trans else ''}"
        return f"lapack.dgetri({names[0]}, {names[1]})[0]{'.T' if trans else ''}"

    def logabsdet(self, g: CodeContext, f: Factor) -> str:
        if f.stacked:
            return f"2.0 * np.log(np.diagonal({f.names[1]}, axis1=-2, axis2=-1)).sum(axis=-1)" \
                if f.kind == "cholesky" else f"np.linalg.slogdet({f.names[0]})[1]"
        if f.kind == "cholesky":
            return f"2.0 * np.log(np.diagonal({f.names[0]})).sum()"
        if f.kind == "ldl":
            return f"{self._ldl_sign_log(g, f)}[1]"
        return f"np.log(np.abs(np.diagonal({f.names[0]}))).sum()"

    def det(self, g: CodeContext, f: Factor) -> str:
        if f.stacked:
            return f"np.prod(np.diagonal({f.names[1]}, axis1=-2, axis2=-1), axis=-1) ** 2" \
                if f.kind == "cholesky" else f"np.linalg.det({f.names[0]})"
        if f.kind == "cholesky":
            return f"np.prod(np.diagonal({f.names[0]})) ** 2"
        if f.kind == "ldl":
            sign_log = self._ldl_sign_log(g, f)
            return f"{sign_log}[0] * np.exp({sign_log}[1])"
        if f.kind == "triangular":
            return f"np.prod(np.diagonal({f.names[0]}))"
        lu, piv = f.names
        return f"np.prod(np.diagonal({lu})) * (-1.0) ** np.count_nonzero({piv} != np.arange({f.n}))"

    def cholesky_lower(self, f: Factor) -> str:
        if f.stacked:
            return f.names[1] if f.kind == "cholesky" else f"np.linalg.cholesky({f.names[0]})"
        return f"{f.names[0]}.T"

    def _ldl_sign_log(self, g: CodeContext, f: Factor) -> str:
        """(sign, log|det|) from the 1×1 and 2×2 blocks of D (the library's routine), once."""
        return g.let(f"{g.helper('ldl_logabsdet', _ldl_logabsdet)}({f.names[0]}, {f.names[1]})",
                     hint="sign_logdet", comment="(sign, log|det|) from the blocks of D")


class JaxBackend(Backend):
    """``jax.numpy`` and ``jax.scipy.linalg``: jit-compatible, on any device JAX uses."""

    name, extra = "jax", "jax"
    array_module, linalg_module = "jnp", "jnp.linalg"
    modules = {"jax": "jax", "jnp": "jax.numpy", "jsla": "jax.scipy.linalg", "jspecial": "jax.scipy.special"}

    def constant(self, space: dict[str, Any], value: ndarray) -> Any:
        return space["jnp"].asarray(value)

    def place(self, g: CodeContext, shape: tuple[int, ...], key: str, value: str) -> str:
        return f"{self.zeros(shape)}.at[{key}].set({value})"

    cholesky_call, lu_call = "jsla.cho_factor({a})", "jsla.lu_factor({a})"

    def solve_code(self, g: CodeContext, f: Factor, b: str, trans: bool, shape: tuple[int, ...],
                   label: str | None = None) -> str:
        return self.solve(f, _leading(b, f, shape), trans)

    def solve_right_code(self, g: CodeContext, f: Factor, x: str, trans: bool, shape: tuple[int, ...],
                         label: str | None = None) -> str:
        if not f.stacked and len(shape) > 2:  # x A⁻¹ = (A⁻ᵀ xᵀ)ᵀ for every member of x
            return _t(self.solve(f, _t(x, True), not trans), True, call=True)
        return self.solve_right(f, _leading(x, f, shape), trans)

    def solve(self, f: Factor, b: str, trans: bool) -> str:
        name = f.names[0]
        if f.kind == "cholesky":
            return f"jsla.cho_solve({name}, {b})"
        if f.kind == "triangular":
            return f"jsla.solve_triangular({name}, {b}, trans={int(trans)}, lower={f.lower})"
        return f"jsla.lu_solve({name}, {b}{', trans=1' if trans else ''})"

    def solve_right(self, f: Factor, x: str, trans: bool) -> str:
        return _t(self.solve(f, _t(x, f.stacked), not trans), f.stacked, call=True)

    def inverse(self, g: CodeContext, f: Factor, trans: bool) -> str:
        out = self.solve(f, _leading(self.eye(f.n), f, (f.n, f.n)), False)
        return _t(out, f.stacked, call=True) if trans and f.kind not in ("cholesky",) else out

    def logabsdet(self, g: CodeContext, f: Factor) -> str:
        m = _matrix(f, ("cholesky", "lu"))
        scale = "2.0 * " if f.kind == "cholesky" else ""
        return f"{scale}jnp.log(jnp.abs({_diagonal('jnp', m, f)})).sum({_last(f)})"

    def det(self, g: CodeContext, f: Factor) -> str:
        m = _matrix(f, ("cholesky", "lu"))
        d, last = _diagonal("jnp", m, f), _last(f, "axis=")
        if f.kind == "cholesky":
            return f"jnp.prod({d}{last}) ** 2"
        if f.kind == "triangular":
            return f"jnp.prod({d}{last})"
        return (f"jnp.prod({d}{last}) * (-1.0) ** jnp.count_nonzero({f.names[0]}[1] != "
                f"jnp.arange({f.n}){last})")

    def cholesky_lower(self, f: Factor) -> str:
        return _t(f"{f.names[0]}[0]", f.stacked)


class TorchBackend(Backend):
    """PyTorch (``torch.linalg``); new arrays take the dtype and device of the first argument."""

    name, extra = "torch", "torch"
    array_module, linalg_module = "torch", "torch.linalg"
    modules = {"torch": "torch"}

    def constant(self, space: dict[str, Any], value: ndarray) -> Any:
        return space["torch"].as_tensor(np.array(value))  # a writable copy

    def constant_use(self, name: str) -> str:
        # torch does not promote float32 @ float64: a constant takes the arguments' dtype and device
        # (``Tensor.to`` returns the tensor itself when they already match)
        return f"{name}.to(**like)"

    array_options = ", **like"

    cholesky_call, lu_call = "torch.linalg.cholesky({a})", "torch.linalg.lu_factor({a})"
    cholesky_label = "LLᵀ"

    def _solve(self, f: Factor, b: str, trans: bool, left: bool) -> str:
        name, side = f.names[0], "" if left else ", left=False"
        if f.kind == "cholesky":
            return f"torch.cholesky_solve({b}, {name})" if left else \
                _t(f"torch.cholesky_solve({_t(b, f.stacked)}, {name})", f.stacked, call=True)
        if f.kind == "triangular":
            upper = f.lower if trans else not f.lower
            return (f"torch.linalg.solve_triangular({_t(name, f.stacked) if trans else name}, {b}, "
                    f"upper={upper}{side})")
        return f"torch.linalg.lu_solve(*{name}, {b}{side}{', adjoint=True' if trans else ''})"

    def solve(self, f: Factor, b: str, trans: bool) -> str:
        return self._solve(f, b, trans, True)

    def solve_right(self, f: Factor, x: str, trans: bool) -> str:
        return self._solve(f, x, trans, False)

    def inverse(self, g: CodeContext, f: Factor, trans: bool) -> str:
        if f.kind == "cholesky":
            return f"torch.cholesky_inverse({f.names[0]})"
        out = self.solve(f, self.eye(f.n), False)
        return _t(out, f.stacked, call=True) if trans else out

    def logabsdet(self, g: CodeContext, f: Factor) -> str:
        m = _matrix(f, ("lu",))
        scale = "2.0 * " if f.kind == "cholesky" else ""
        return f"{scale}torch.log(torch.abs({_diagonal('torch', m, f)})).sum({_last(f)})"

    def det(self, g: CodeContext, f: Factor) -> str:
        m = _matrix(f, ("lu",))
        d, last = _diagonal("torch", m, f), _last(f, "dim=")
        if f.kind == "cholesky":
            return f"torch.prod({d}{last}) ** 2"
        if f.kind == "triangular":
            return f"torch.prod({d}{last})"
        swaps = f"torch.count_nonzero({f.names[0]}[1] != torch.arange(1, {f.n + 1}, device={m}.device){last})"
        return f"torch.prod({d}{last}) * (-1.0) ** {swaps}"

    def cholesky_lower(self, f: Factor) -> str:
        return f.names[0]


def _wide(f: Factor, shape: tuple[int, ...], axis: int) -> bool:
    """Whether a right side of ``shape`` is worth solving from the right: at least twice as many
    columns (``axis=1``; rows of an x for x A⁻¹, ``axis=0``) as A has, A not tiny, not LDLᵀ."""
    return f.kind != "ldl" and f.n >= 16 and len(shape) == 2 and shape[axis] >= 2 * f.n


def _t(x: str, stacked: int = 0, call: bool = False) -> str:
    """The code of xᵀ (``W.T`` of ``W``, ``W`` of ``W.T``); of every member's transpose for a
    stack (``call``: x is a call or a subscript, which needs no parentheses)."""
    if stacked:
        return transposed_members(x, call)
    return x[:-2] if x.endswith(".T") and x[:-2].isidentifier() else f"{x}.T"


def _leading(b: str, f: Factor, shape: tuple[int, ...]) -> str:
    """A right side with as many axes as the stack of factors (unit axes in front): JAX's solvers
    read a right side with one axis fewer than the factors as a stack of vectors."""
    missing = f.stacked + 2 - len(shape)
    return f"{_paren(b)}[{'None, ' * missing}...]" if f.stacked and missing > 0 else b


def _diagonal(np_name: str, m: str, f: Factor) -> str:
    """The code of the diagonal of ``m`` (of every member, along the last axis, for a stack)."""
    return diagonals(np_name, m) if f.stacked else f"{np_name}.diagonal({m})"


def _last(f: Factor, keyword: str = "") -> str:
    """The axis argument reducing over the members' diagonals of a stack (none for a matrix)."""
    return (", " if keyword else "") + f"{keyword}-1" if f.stacked else ""


def _matrix(f: Factor, tuples: tuple[str, ...]) -> str:
    """The array whose diagonal gives the determinant: the factor, or the first part of the
    factorizations the library returns as tuples (``tuples``: their kinds)."""
    return f"{f.names[0]}[0]" if f.kind in tuples else f.names[0]


BACKENDS: dict[str, Backend] = {b.name: b for b in (NumpyBackend(), JaxBackend(), TorchBackend())}


def backend(name: str) -> Backend:
    """The backend called ``name``; a ``ValueError`` listing the backends for any other.

    Examples
    --------
    >>> b = backend("torch")
    >>> b.array_module, b.linalg_module, b.eye(3)
    ('torch', 'torch.linalg', 'torch.eye(3, **like)')
    >>> backend("numpy").solve(Factor("cholesky", ("K_chol",), 3), "y", False)
    'lapack.dpotrs(K_chol, y, lower=0)[0]'
    """
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown backend {name!r}: the backends are "
                         f"{', '.join(repr(b) for b in BACKENDS)}") from None
