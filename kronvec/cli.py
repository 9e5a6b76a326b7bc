"""The ``kronvec derive`` command line.

``kronvec derive EXPR --wrt NAME`` parses EXPR with the whitelisting parser
of :mod:`kronvec.parse` (no Python code is ever executed), prints the
Jacobian in closed form (and the gradient for a scalar), and optionally
checks it against central finite differences at random values, prints LaTeX
or the derivation steps, or saves the dense Jacobian.

Exit status: 0 on success, 1 if ``--check`` fails, 2 on bad input.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

import kronvec as kv
from kronvec.parse import ARITY, FUNCTIONS, ParseError, ParsedExpression, parse

__all__ = ["main"]

DENSE_LIMIT = 4_000_000
MAX_FD_COLUMNS = 2_500
DIRECTIONS = 5
FD_STEP = 1e-6
TOLERANCE = 1e-6

_USER_ERRORS = (
    ValueError, KeyError, TypeError, ArithmeticError,
    NotImplementedError, MemoryError, OSError,
)
_SAMPLE = "⊗∇ᵀ⁻¹×"
_SHAPE_PATTERN = re.compile(r"^\s*([^\W\d]\w*)\s*=\s*(\d+)\s*(?:[x×X*]\s*(\d+))?\s*$")


@dataclass
class _Problem:
    """What is being differentiated: F, the symbol W and their descriptions."""

    text: str
    parsed: ParsedExpression
    wrt: Any
    wrt_name: str
    wrt_shape: tuple[int, int]
    symmetric: frozenset[str]

    @property
    def expression(self) -> Any:
        return self.parsed.expression

    @property
    def is_scalar(self) -> bool:
        return tuple(self.expression.shape) in ((), (1, 1))

    def shapes(self) -> dict[str, tuple[int, int]]:
        """Return the shapes of all symbols, including W if F lacks it."""
        shapes = dict(self.parsed.analysis.shapes)
        shapes.setdefault(self.wrt_name, self.wrt_shape)
        return shapes


# --------------------------------------------------------------------------
# Arguments


def _shape_argument(text: str) -> list[tuple[str, tuple[int, int]]]:
    """Parse ``NAME=RxC`` (or ``NAME=N`` for an N×1 column), comma-separated."""
    shapes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _SHAPE_PATTERN.match(item)
        if match is None:
            raise argparse.ArgumentTypeError(f"invalid shape {item!r}; expected NAME=RxC or NAME=N")
        name, rows, cols = match.group(1), int(match.group(2)), int(match.group(3) or 1)
        if rows < 1 or cols < 1:
            raise argparse.ArgumentTypeError(f"invalid shape {item!r}; sizes must be positive")
        shapes.append((name, (rows, cols)))
    return shapes


def _names_argument(text: str) -> list[str]:
    """Parse a comma-separated list of symbol names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        _check_symbol_name(name, argparse.ArgumentTypeError)
    return names


def _check_symbol_name(name: str, error: Callable[[str], Exception]) -> None:
    """Raise ``error`` unless ``name`` can be a symbol in an expression."""
    if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS:
        raise error(f"{name!r} is not a valid symbol name")


def _argument_parser() -> argparse.ArgumentParser:
    """Return the parser for ``kronvec derive ...``."""
    parser = argparse.ArgumentParser(
        prog="kronvec",
        description="Matrix calculus: derivatives of matrix expressions as lazy linear maps.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    derive = commands.add_parser(
        "derive",
        help="differentiate a matrix expression",
        description=(
            "Differentiate EXPR (Python syntax: @ + - * / ** .T and "
            + ", ".join(f"{name}()" for name in ARITY)
            + ") with respect to the symbol given by --wrt."
        ),
        epilog='example: kronvec derive "inv(X.T @ inv(V) @ X)" --wrt V --shape X=5x3 --check',
    )
    derive.add_argument("expr", metavar="EXPR", help="the matrix expression, e.g. 'logdet(X.T @ X)'")
    derive.add_argument(
        "--wrt", required=True, metavar="NAME", help="the symbol to differentiate with respect to"
    )
    derive.add_argument(
        "--shape", action="append", default=[], type=_shape_argument, metavar="NAME=RxC",
        help="shape of a symbol (NAME=N means N×1); repeat or separate with commas; "
             "shapes not given are inferred where possible",
    )
    derive.add_argument(
        "--symmetric", action="append", default=[], type=_names_argument, metavar="NAME",
        help="declare a (square) symbol symmetric; repeat or separate with commas",
    )
    derive.add_argument(
        "--check", action="store_true", help="verify against finite differences at random values"
    )
    derive.add_argument("--latex", action="store_true", help="also print LaTeX")
    derive.add_argument("--steps", action="store_true", help="print the derivation step by step")
    derive.add_argument(
        "--dense", metavar="FILE.npy", help="save the dense Jacobian (at random values) to FILE.npy"
    )
    derive.add_argument("--seed", type=int, default=0, help="seed for the random values (default 0)")
    return parser


def _collect_shapes(groups: list[list[tuple[str, tuple[int, int]]]]) -> dict[str, tuple[int, int]]:
    """Merge the ``--shape`` arguments, rejecting contradictory repeats."""
    shapes: dict[str, tuple[int, int]] = {}
    for name, shape in (item for group in groups for item in group):
        if shapes.setdefault(name, shape) != shape:
            raise ValueError(f"--shape {name} given twice with different sizes")
    return shapes


# --------------------------------------------------------------------------
# Output


def _configure_output() -> None:
    """Make stdout/stderr able to print the Unicode of closed forms.

    A stream that cannot encode it is switched to UTF-8 when it is not a
    terminal, and to ``errors="replace"`` when it is.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or _can_encode(stream):
            continue
        if _isatty(stream):
            reconfigure(errors="replace")
        else:
            reconfigure(encoding="utf-8")


def _can_encode(stream: Any) -> bool:
    try:
        _SAMPLE.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _dims(shape: Sequence[int]) -> str:
    """Return a shape as ``5×3`` (``scalar`` for ``()``)."""
    return "×".join(str(n) for n in shape) if len(shape) else "scalar"


def _text(value: Any) -> str:
    """Return the text of a printer result (a string or a list of lines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(str(line) for line in value)
    return str(value)


def _print_header(problem: _Problem) -> None:
    """Print the expression, its shape and the shapes of its symbols."""
    name = "f" if problem.is_scalar else "F"
    shape = tuple(problem.expression.shape)
    described = "scalar" if problem.is_scalar else _dims(shape)
    symbols = ", ".join(f"{sym}: {_dims(s)}" for sym, s in problem.shapes().items())
    print(f"{name} = {problem.text}")
    print(f"    {name}: {described};  {symbols}")


def _print_derivative(problem: _Problem, jacobian: Any, gradient: Any) -> None:
    """Print the gradient (for a scalar), the Jacobian and the differential."""
    f, w = ("f" if problem.is_scalar else "F"), problem.wrt_name
    out_size = math.prod(problem.expression.shape) if problem.expression.shape else 1
    in_size = math.prod(problem.wrt_shape)
    if gradient is not None:
        print(f"∇_{w} {f} = {gradient}")
        _print_abbreviated(gradient)
    print(f"Jacobian d{f}/d{w} ({out_size}×{in_size}, vec d{f} = J vec d{w}):")
    print(f"vec d{f} = ({jacobian}) vec d{w}")
    _print_abbreviated(jacobian)
    if hasattr(jacobian, "differential"):
        print(_text(jacobian.differential()))


def _print_abbreviated(result: Any) -> None:
    """The same result with recurring subexpressions named, when that is shorter."""
    short = kv.pretty(result)
    if short != str(result):
        print(f"    = {short}")


def _print_latex(jacobian: Any, gradient: Any) -> None:
    """Print the LaTeX of the Jacobian (and of the gradient if there is one)."""
    if gradient is not None and hasattr(gradient, "latex"):
        print(f"LaTeX gradient: {gradient.latex()}")
    if hasattr(jacobian, "latex"):
        print(f"LaTeX Jacobian: {jacobian.latex()}")
    else:
        print("LaTeX is unavailable in this version of kronvec")


def _print_steps(problem: _Problem, jacobian: Any, namespace: Any) -> None:
    """Print the derivation step by step, if the library can."""
    if hasattr(jacobian, "steps"):
        steps = jacobian.steps()
    elif hasattr(namespace, "explain"):
        steps = namespace.explain(problem.expression, problem.wrt)
    else:
        print("steps: unavailable in this version of kronvec")
        return
    print("steps:")
    print(_text(steps))


# --------------------------------------------------------------------------
# Random values


def _random_value(
    rng: np.random.Generator, shape: tuple[int, int], spd: bool, positive: bool
) -> np.ndarray:
    """Return a well-conditioned random value of ``shape``.

    SPD values are ``(B Bᵀ + n I) / n``; other square values are
    ``N / (2√n) + I``; ``positive`` values have positive entries (for SPD
    values, B has positive entries).
    """
    rows, cols = shape
    if spd and rows == cols:
        base = rng.standard_normal(shape)
        base = np.abs(base) + 0.1 if positive else base
        return (base @ base.T + rows * np.eye(rows)) / rows
    if positive:
        return rng.uniform(0.5, 1.5, size=shape)
    if rows == cols:
        return rng.standard_normal(shape) / (2.0 * math.sqrt(rows)) + np.eye(rows)
    return rng.standard_normal(shape)


def _random_values(problem: _Problem, seed: int) -> dict[str, np.ndarray]:
    """Return random values for every symbol (SPD where inverted or symmetric)."""
    rng = np.random.default_rng(seed)
    analysis = problem.parsed.analysis
    return {
        name: _random_value(
            rng, shape,
            spd=name in analysis.invertible or name in problem.symmetric,
            positive=name in analysis.positive,
        )
        for name, shape in problem.shapes().items()
    }


# --------------------------------------------------------------------------
# Finite differences


def _vec(array: Any) -> np.ndarray:
    """Return ``vec(array)`` (columns stacked, Fortran order)."""
    return np.asarray(array, dtype=float).reshape(-1, order="F")


def _relative_error(computed: np.ndarray, reference: np.ndarray) -> float:
    """Return ``max|computed - reference| / max(|computed|, |reference|)``."""
    scale = max(np.max(np.abs(computed), initial=0.0), np.max(np.abs(reference), initial=0.0))
    difference = np.max(np.abs(computed - reference), initial=0.0)
    return 0.0 if difference == 0.0 else difference / max(scale, 1e-300)


class _Differencer:
    """Central finite differences of ``evaluate(F)`` along directions of W."""

    def __init__(self, problem: _Problem, values: dict[str, np.ndarray], namespace: Any) -> None:
        self.problem = problem
        self.values = values
        self.namespace = namespace
        point = values[problem.wrt_name]
        self.step = FD_STEP * max(1.0, float(np.max(np.abs(point))))

    def directional(self, direction: np.ndarray) -> np.ndarray:
        """Return the central difference of vec F along ``direction``."""
        name, point, h = self.problem.wrt_name, self.values[self.problem.wrt_name], self.step
        plus = self.evaluate({**self.values, name: point + h * direction})
        minus = self.evaluate({**self.values, name: point - h * direction})
        return (plus - minus) / (2.0 * h)

    def evaluate(self, values: dict[str, np.ndarray]) -> np.ndarray:
        return _vec(self.namespace.evaluate(self.problem.expression, **values))

    def dense(self) -> np.ndarray:
        """Return the finite-difference Jacobian, one column per entry of W."""
        shape = self.problem.wrt_shape
        columns = []
        for k in range(math.prod(shape)):
            unit = np.zeros(math.prod(shape))
            unit[k] = 1.0
            columns.append(self.directional(unit.reshape(shape, order="F")))
        return np.column_stack(columns)


def _gradient_reference(row: np.ndarray, problem: _Problem) -> np.ndarray:
    """Return the gradient that a Jacobian row implies (sym(G) if symmetric)."""
    gradient = row.reshape(problem.wrt_shape, order="F")
    if problem.wrt_name in problem.symmetric:
        gradient = (gradient + gradient.T) / 2.0
    return gradient


def _check_dense(
    problem: _Problem, operator: Any, gradient: Any, differencer: _Differencer
) -> tuple[float, str]:
    """Compare the dense Jacobian (and gradient) with finite differences."""
    reference = differencer.dense()
    error = _relative_error(np.asarray(operator.to_dense(), dtype=float), reference)
    what = f"dense Jacobian {reference.shape[0]}×{reference.shape[1]}"
    if gradient is not None:
        computed = np.asarray(differencer.namespace.evaluate(gradient, **differencer.values), dtype=float)
        expected = _gradient_reference(reference[0], problem)
        error = max(error, _relative_error(computed.reshape(expected.shape), expected))
        what += " and gradient"
    return error, what


def _check_directions(
    problem: _Problem, operator: Any, gradient: Any, differencer: _Differencer, seed: int
) -> tuple[float, str]:
    """Compare JVPs (and gradient inner products) along random directions."""
    rng = np.random.default_rng(seed + 1)
    grad_value = None
    if gradient is not None:
        grad_value = np.asarray(differencer.namespace.evaluate(gradient, **differencer.values), dtype=float)
    errors = []
    for _ in range(DIRECTIONS):
        direction = rng.standard_normal(problem.wrt_shape)
        if problem.wrt_name in problem.symmetric:
            direction = (direction + direction.T) / 2.0
        reference = differencer.directional(direction)
        errors.append(_relative_error(_vec(operator.jvp(direction)), reference))
        if grad_value is not None:
            inner = np.sum(grad_value.reshape(problem.wrt_shape) * direction)
            errors.append(_relative_error(np.array([inner]), reference[:1]))
    return max(errors), f"{DIRECTIONS} random directional derivatives"


def _dense_size(problem: _Problem) -> tuple[int, int]:
    """Return the shape of the dense Jacobian."""
    shape = tuple(problem.expression.shape)
    return (math.prod(shape) if shape else 1), math.prod(problem.wrt_shape)


def _check(
    problem: _Problem,
    operator: Any,
    gradient: Any,
    values: dict[str, np.ndarray],
    seed: int,
    namespace: Any,
) -> bool:
    """Run the finite-difference check, print the result, return if it passed."""
    differencer = _Differencer(problem, values, namespace)
    rows, cols = _dense_size(problem)
    if rows * cols <= DENSE_LIMIT and cols <= MAX_FD_COLUMNS:
        error, what = _check_dense(problem, operator, gradient, differencer)
    else:
        print(f"note: the dense Jacobian ({rows}×{cols}) is too large to check entry by entry; "
              f"checking {DIRECTIONS} random directional derivatives instead")
        error, what = _check_directions(problem, operator, gradient, differencer, seed)
    passed = error <= TOLERANCE
    print(f"    compared: {what} (central differences, step {differencer.step:.1e}, seed {seed})")
    print(f"finite-difference check: max relative error = {error:.1e} ({'passed' if passed else 'FAILED'})")
    return passed


def _save_dense(path: str, problem: _Problem, operator: Any) -> None:
    """Save the dense Jacobian to ``path`` (refusing above DENSE_LIMIT)."""
    rows, cols = _dense_size(problem)
    if rows * cols > DENSE_LIMIT:
        raise ValueError(
            f"refusing to save a dense {rows}×{cols} Jacobian "
            f"({rows * cols:.2e} entries; the limit is {DENSE_LIMIT:.0e})"
        )
    dense = np.asarray(operator.to_dense())
    target = path if path.endswith(".npy") else path + ".npy"
    np.save(target, dense)
    print(f"saved the dense Jacobian, shape {dense.shape}, to {target}")


# --------------------------------------------------------------------------
# The command


def _problem(args: argparse.Namespace, namespace: Any) -> _Problem:
    """Parse EXPR and find the symbol to differentiate with respect to."""
    _check_symbol_name(args.wrt, ValueError)
    shapes = _collect_shapes(args.shape)
    symmetric = frozenset(name for group in args.symmetric for name in group)
    parsed = parse(args.expr, shapes, namespace, symmetric)
    for name in sorted((symmetric | set(shapes)) - set(parsed.symbols) - {args.wrt}):
        print(f"note: {name} does not occur in the expression; its --shape/--symmetric is ignored")
    wrt = parsed.symbols.get(args.wrt)
    if wrt is None:
        wrt = _absent_symbol(args.wrt, shapes, symmetric, namespace)
    shape = tuple(wrt.shape)
    return _Problem(args.expr.strip(), parsed, wrt, args.wrt, (shape[0], shape[1]), symmetric)


def _absent_symbol(
    name: str, shapes: dict[str, tuple[int, int]], symmetric: frozenset[str], namespace: Any
) -> Any:
    """Return a symbol for a --wrt NAME that the expression does not contain."""
    if name not in shapes:
        raise ParseError(
            f"{name!r} does not occur in the expression; pass --shape {name}=RxC to differentiate anyway"
        )
    print(f"note: {name} does not occur in the expression; the derivative is the zero map")
    if name in symmetric:
        return namespace.Matrix(name, shapes[name], symmetric=True)
    return namespace.Matrix(name, shapes[name])


def _named_result(problem: _Problem) -> Any:
    """F (or f) named so that the closed form abbreviates it, as in ``(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)``."""
    name = "f" if problem.is_scalar else "F"
    expression = problem.expression
    if expression.op == "symbol" or name in problem.shapes():
        return expression
    return expression.named(name)


def _derive(args: argparse.Namespace, namespace: Any) -> int:
    """Run ``kronvec derive``; return the exit status."""
    problem = _problem(args, namespace)
    jacobian = namespace.jacobian(_named_result(problem), problem.wrt)
    gradient = namespace.grad(problem.expression, problem.wrt) if problem.is_scalar else None
    _print_header(problem)
    _print_derivative(problem, jacobian, gradient)
    if args.latex:
        _print_latex(jacobian, gradient)
    if args.steps:
        _print_steps(problem, jacobian, namespace)
        if args.latex:
            print("LaTeX steps:")
            print(jacobian.steps(latex=True))
    if not (args.check or args.dense):
        return 0
    values = _random_values(problem, args.seed)
    operator = jacobian.at(**values)
    status = 0
    if args.check and not _check(problem, operator, gradient, values, args.seed, namespace):
        status = 1
    if args.dense:
        _save_dense(args.dense, problem, operator)
    return status


def _message(error: BaseException) -> str:
    """Return an exception's message without KeyError's quotes."""
    if isinstance(error, KeyError) and len(error.args) == 1 and type(error).__str__ is KeyError.__str__:
        return str(error.args[0])
    return str(error) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kronvec`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 if ``--check`` failed, 2 on bad input.
    """
    _configure_output()
    args = _argument_parser().parse_args(argv)
    try:
        return _derive(args, kv)
    except _USER_ERRORS as error:
        print(f"error: {_message(error)}", file=sys.stderr)
        return 2
