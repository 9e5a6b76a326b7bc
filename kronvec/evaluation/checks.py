"""Checks of results: what a first use pays for when nothing is wrong.

Binding values and evaluating the factors of a derivative has two modes:

* **full** checks every input and every factorization: the values are finite, the values of
  symmetric symbols symmetric (to rounding), and every matrix solved with has a reciprocal
  condition number above machine epsilon (LAPACK's estimate, ``pocon``/``gecon``, or exactly
  from an inverse).  A failure raises an error naming the culprit.
* **quick** (the default of ``J.at``) checks results instead, in O(n) per factorization: the
  pivots of every LU or Cholesky factorization, min |dᵢ| against max |dᵢ|
  (:func:`pivots_balanced`), a failed Cholesky factorization, and a value of a symmetric symbol
  that is not exactly symmetric (its bytes against those of its transpose) or not finite (one
  dot product; for a positive definite matrix, the pivots of its Cholesky factor,
  :func:`pivots_balanced`).  Plain values are still checked finite by one dot product each: it
  costs less than a pass over the results, which contain them or are as large in every workload
  measured (``docs/benchmarks.md``).
  Anything that looks wrong raises :class:`SuspectResult`, and the evaluation is made again
  in full, which names the culprit exactly as a full evaluation does, or gives the values.

What the quick mode does not see: a matrix whose pivots are balanced although it is singular
to working precision (Kahan's triangular matrices are the classic example; random and
structured matrices met in practice reveal it in their pivots).  Its results are then what
LAPACK's backward-stable solves give, as in hand-written code; ``check="full"`` asks for the
condition estimates.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["SuspectResult", "PIVOT_GATE", "pivots_balanced", "check_mode", "MODES"]

PIVOT_GATE = 1e-8
"""Pivots estimate a reciprocal condition number of min |uᵢᵢ| / max |uᵢᵢ| (LU) or its square
(Cholesky, for A = RᵀR: κ(A) ≥ (max rᵢᵢ / min rᵢᵢ)²); at or below this the full check runs."""
_CHOLESKY_GATE = PIVOT_GATE ** 0.5
_SMALL = 256  # up to this many pivots Python's min and max beat two NumPy reductions

MODES = {True: "quick", "full": "full", False: "none"}
"""``check=`` of ``J.at`` → the mode of binding: results checked (``True``), every input and
condition number checked (``"full"``), or no input checked (``False``: the results still are)."""


class SuspectResult(Exception):
    """A quick check of a result (tiny or non-finite pivots, a failed Cholesky factorization, a
    value of a symmetric symbol not exactly symmetric) found what the full checks must look at."""


def pivots_balanced(factor: np.ndarray, squared: bool) -> bool:
    """Whether the diagonal of the triangular ``factor`` (LU's U, or Cholesky's R when
    ``squared``) is finite and its smallest magnitude above :data:`PIVOT_GATE` times its
    largest (the square root of the gate for R, whose pivots square into A's).  O(n).

    The pivots of a Cholesky factor are positive, or NaN: OpenBLAS's ``potrf`` passes a NaN
    on (reference LAPACK stops there); those of LU may be anything.  Python's ``min`` and
    ``max`` may skip a NaN, the sum does not.  A NaN or ±inf anywhere in the triangle ``potrf``
    reads shows in its pivots or makes it fail: each entry aᵢⱼ enters rᵢⱼ = (aᵢⱼ − …)/rᵢᵢ,
    whose square enters the radicand of rⱼⱼ."""
    diagonal = factor.diagonal()
    if diagonal.size > _SMALL:
        magnitudes = diagonal if squared else np.abs(diagonal)
        low, high, total = float(magnitudes.min()), float(magnitudes.max()), float(magnitudes.sum())
        return bool(low > (_CHOLESKY_GATE if squared else PIVOT_GATE) * high and math.isfinite(total))
    pivots = diagonal.tolist()
    if not pivots:
        return True
    if not squared:
        pivots = [abs(d) for d in pivots]
    return bool(min(pivots) > (_CHOLESKY_GATE if squared else PIVOT_GATE) * max(pivots)
                and math.isfinite(sum(pivots)))


def check_mode(check: Any) -> str:
    """The binding mode of ``J.at(..., check=...)``; a ``TypeError`` for anything but True,
    False or "full" (a value meant for a symbol named ``check`` goes in the mapping)."""
    if check is True or check is False or isinstance(check, str) and check == "full":
        return MODES[check]
    raise TypeError(f"J.at: check= takes True (check results), 'full' (check every input and "
                    f"condition number) or False (check no input), not a {type(check).__name__}; "
                    f"a symbol named 'check' is bound through the mapping: J.at({{'check': value}})")
