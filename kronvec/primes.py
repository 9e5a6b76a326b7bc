"""Primality of the integers that stand for names of sizes (:mod:`kronvec.dims`)."""
from __future__ import annotations

__all__ = ["is_prime"]


def is_prime(n: int) -> bool:
    """Deterministic Miller–Rabin (exact for n < 3.3·10²⁴)."""
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True
