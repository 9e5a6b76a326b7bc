"""What the product ops need to know of their factors: which are units, and the stack axes
the factors broadcast to."""
from __future__ import annotations

from ..expr import Expr
from ..shapes import broadcast_shapes_nd, stack_of

__all__ = ["unit_factor", "product_stack"]


def unit_factor(f: Expr) -> bool:
    """An identity, or a stack of 1×1 ones (a per-member 1): dropped from products (the stack
    axes it carries are kept by the product's shape)."""
    return f.op == "eye" and f.ndim == 2 or f.op == "ones" and f.ndim > 2 and f.shape[-2:] == (1, 1)


def product_stack(factors: list[Expr]) -> tuple[int, ...]:
    """The broadcast stack axes of a product's factors (``()`` for matrices)."""
    stacks = [stack_of(f.shape) for f in factors if f.ndim > 2]
    return broadcast_shapes_nd("matmul", *stacks) if stacks else ()
