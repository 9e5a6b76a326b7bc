"""The ``kronvec derive`` command line.

``kronvec derive EXPR --wrt NAME`` parses EXPR with the whitelisting parser
of :mod:`kronvec.parse` (no Python code is ever executed), prints the
Jacobian in closed form (and the gradient for a scalar), and optionally
checks it against central finite differences at random values (with the
checks of :mod:`kronvec.testing`), prints LaTeX or the derivation steps, or
saves the dense Jacobian.

Exit status: 0 on success, 1 if ``--check`` fails, 2 on any error (bad
input, a refusal, a file that cannot be read or written), reported as one
line on stderr, never a traceback.  ``--check`` and ``--dense`` refuse work
that would need more memory than ``--max-bytes`` (1 GiB by default) before
allocating it; ``--at`` reads only regular ``.npy`` files, and ``--dense``
writes only a name ending in ``.npy`` that does not exist yet (``--force``
replaces it, a symbolic link included, without following the link).
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Sequence

import numpy as np

import kronvec as kv
from kronvec.dims import BASE, size_text, substitute_shape
from kronvec.sizing import sizes_text
from kronvec.cli_files import CommandLineError, check_target, load_npy, parse_bytes, printable, write_npy
from kronvec.maps import expression_factors
from kronvec.parse import ParseError, ParsedExpression, function_names, parse
from kronvec.testing import (fd_jacobian, fd_jvp, random_matrix, random_values, relative_error,
                             symmetrizer)

__all__ = ["main"]

DENSE_LIMIT = 4_000_000
MAX_FD_COLUMNS = 2_500
DIRECTIONS = 5
TOLERANCE = 1e-6

_USER_ERRORS = (ValueError, KeyError, TypeError, ArithmeticError, NotImplementedError, MemoryError,
                OSError)
_SAMPLE = "⊗∇ᵀ⁻¹×"
_SHAPE_PATTERN = re.compile(r"^\s*([^\W\d]\w*)\s*=\s*(?:(scalar)|(\d+)\s*(?:[x×X*]\s*(\d+))?)\s*$")
_AT_PATTERN = re.compile(r"^\s*([^\W\d]\w*)\s*=\s*(.+?)\s*$")
DOMAIN_TRIES = 4
CHECK_SIZES = (4, 3, 5, 6, 7, 2, 8, 9, 10, 11)  # sizes --check draws for names, in order of appearance
MAX_BYTES = 2 ** 30
# Temporaries while checking: the values, the finite-difference evaluations and the map's factors.
_WORKING_COPIES = 4


@dataclass
class _Problem:
    """What is being differentiated: F, the symbol W and the declared symmetric names."""

    text: str
    parsed: ParsedExpression
    wrt: Any
    symmetric: frozenset[str]

    @property
    def expression(self) -> Any:
        return self.parsed.expression

    @property
    def is_scalar(self) -> bool:
        return tuple(self.expression.shape) in ((), (1, 1))

    @property
    def wrt_name(self) -> str:
        result: str = self.wrt.params.name
        return result

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shapes of all symbols, including W if F lacks it."""
        shapes = dict(self.parsed.analysis.shapes)
        shapes.setdefault(self.wrt_name, tuple(self.wrt.shape))
        return shapes


# --------------------------------------------------------------------------
# Arguments


def _shape_argument(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Parse ``NAME=RxC``, ``NAME=N`` (an N×1 column) or ``NAME=scalar``, comma-separated."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _SHAPE_PATTERN.match(item)
        if match is None:
            raise argparse.ArgumentTypeError(f"invalid shape {item!r}; expected NAME=RxC, NAME=N or "
                                             f"NAME=scalar")
        if match.group(2):
            shapes.append((match.group(1), ()))
            continue
        rows, cols = int(match.group(3)), int(match.group(4) or 1)
        if rows < 1 or cols < 1 or max(rows, cols) >= BASE:
            raise argparse.ArgumentTypeError(f"invalid shape {item!r}; sizes must be positive (and "
                                             f"below 2**40)")
        shapes.append((match.group(1), (rows, cols)))
    return shapes


def _at_argument(text: str) -> tuple[str, str]:
    """Parse ``NAME=FILE.npy`` (the file is read later, within the memory budget)."""
    match = _AT_PATTERN.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected NAME=FILE.npy")
    return match.group(1), match.group(2)


def _bytes_argument(text: str) -> int:
    """Parse a size in bytes for --max-bytes."""
    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names_argument(text: str) -> list[str]:
    """Parse a comma-separated list of symbol names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        _check_symbol_name(name, argparse.ArgumentTypeError)
    return names


def _check_symbol_name(name: str, error: Callable[[str], Exception]) -> None:
    if not name.isidentifier() or name.startswith("_") or name in function_names():
        raise error(f"{name!r} is not a valid symbol name")


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {printable(message)} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _argument_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="kronvec", description="Matrix calculus: derivatives of matrix expressions as lazy linear maps.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_OneLineParser)
    derive = commands.add_parser(
        "derive", help="differentiate a matrix expression",
        description=("Differentiate EXPR (Python syntax: @ + - * / ** .T and "
                     + ", ".join(f"{name}()" for name in function_names())
                     + ") with respect to the symbol given by --wrt."),
        epilog='example: kronvec derive "inv(X.T @ inv(V) @ X)" --wrt V --shape X=5x3 --check')
    derive.add_argument("expr", metavar="EXPR", help="the matrix expression, e.g. 'logdet(X.T @ X)'")
    derive.add_argument("--wrt", required=True, metavar="NAME",
                        help="the symbol to differentiate with respect to")
    derive.add_argument("--shape", action="append", default=[], type=_shape_argument, metavar="NAME=RxC",
                        help="shape of a symbol: NAME=RxC, NAME=N for an N×1 column, NAME=scalar for a "
                             "scalar; repeat or separate with commas. Shapes not given are inferred "
                             "where possible; a symbol used only as a factor (s in s*A) is a scalar")
    derive.add_argument("--symmetric", action="append", default=[], type=_names_argument, metavar="NAME",
                        help="declare a (square) symbol symmetric; repeat or separate with commas")
    derive.add_argument("--check", action="store_true",
                        help="verify against finite differences at random values")
    derive.add_argument("--latex", action="store_true", help="also print LaTeX")
    derive.add_argument("--steps", action="store_true", help="print the derivation step by step")
    derive.add_argument("--dense", metavar="FILE.npy",
                        help="save the dense Jacobian (at random values) to FILE.npy (the name must end "
                             "in .npy and must not exist, unless --force)")
    derive.add_argument("--force", action="store_true",
                        help="let --dense replace an existing FILE.npy (a symbolic link is replaced "
                             "itself, never followed)")
    derive.add_argument("--at", action="append", default=[], type=_at_argument, metavar="NAME=FILE.npy",
                        help="the value of a symbol for --check and --dense (others stay random); a "
                             "regular .npy file")
    derive.add_argument("--max-bytes", type=_bytes_argument, default=MAX_BYTES, metavar="BYTES",
                        help="the memory --check, --dense and --at may use, e.g. 4GiB (default 1GiB); "
                             "larger work is refused before anything is allocated")
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
    """Make stdout/stderr able to print the Unicode of closed forms (UTF-8 when
    not a terminal, replacement characters when it is)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or _can_encode(stream):
            continue
        reconfigure(**({"errors": "replace"} if _isatty(stream) else {"encoding": "utf-8"}))


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
    return "×".join(size_text(n) for n in shape) if len(shape) else "scalar"


def _print_header(problem: _Problem) -> None:
    name = "f" if problem.is_scalar else "F"
    described = "scalar" if problem.is_scalar else _dims(problem.expression.shape)
    symbols = ", ".join(f"{sym}: {_dims(s)}" for sym, s in problem.shapes().items())
    print(f"{name} = {printable(problem.text)}")
    print(f"    {name}: {described};  {symbols}")


def _print_derivative(problem: _Problem, jacobian: kv.Jacobian, gradient: Any) -> None:
    f, w = ("f" if problem.is_scalar else "F"), problem.wrt_name
    rows, cols = jacobian.shape
    if gradient is not None:
        print(f"∇_{w} {f} = {gradient}")
        _print_abbreviated(gradient)
    print(f"Jacobian d{f}/d{w} ({size_text(rows)}×{size_text(cols)}, vec d{f} = J vec d{w}):")
    print(f"vec d{f} = ({jacobian}) vec d{w}")
    _print_abbreviated(jacobian)
    print(jacobian.differential())


def _print_abbreviated(result: Any) -> None:
    """The same result with recurring subexpressions named, when that is shorter."""
    short = kv.pretty(result)
    if short != str(result):
        print(f"    = {short}")


# --------------------------------------------------------------------------
# Checking against finite differences


def _check(problem: _Problem, operator: kv.LinearMap, gradient: Any, values: dict[str, np.ndarray],
           seed: int, drawn: str = "") -> bool:
    """Run the finite-difference check, print the result, return whether it passed."""
    f, wrt = problem.expression, problem.wrt
    rows, cols = operator.shape
    symmetric = problem.wrt_name in problem.symmetric and wrt.shape[0] > 1
    g = None if gradient is None else np.asarray(kv.evaluate(gradient, values), dtype=float)
    if rows * cols <= DENSE_LIMIT and cols <= MAX_FD_COLUMNS:
        reference = fd_jacobian(f, wrt, values)  # on symmetric directions for a symmetric W
        dense = operator.to_dense() @ symmetrizer(wrt.shape[0]) if symmetric else operator.to_dense()
        error = relative_error(dense, reference)
        what = f"dense Jacobian {rows}×{cols}"
        if g is not None:
            expected = reference[0].reshape(wrt.shape, order="F")
            expected = (expected + expected.T) / 2.0 if symmetric else expected
            error = max(error, relative_error(g.reshape(expected.shape), expected))
            what += " and gradient"
    else:
        print(f"note: the dense Jacobian ({rows}×{cols}) is too large to check entry by entry; "
              f"checking {DIRECTIONS} random directional derivatives instead")
        rng, errors = np.random.default_rng(seed + 1), []
        for _ in range(DIRECTIONS):
            d = rng.standard_normal(wrt.shape)
            d = (d + d.T) / 2.0 if symmetric else d
            reference = fd_jvp(f, wrt, values, d)
            errors.append(relative_error(operator.jvp(d), reference))
            if g is not None:
                errors.append(relative_error(np.sum(g.reshape(wrt.shape) * d), reference))
        error, what = max(errors), f"{DIRECTIONS} random directional derivatives"
    passed = error <= TOLERANCE
    print(f"    compared: {what} (central differences, seed {seed})")
    print(f"finite-difference check: max relative error = {error:.1e} ({'passed' if passed else 'FAILED'})")
    if drawn:
        print(f"checked at {drawn}: max error {error:.0e}")
    return passed


def _save_dense(path: str, operator: kv.LinearMap, force: bool) -> None:
    """Save the dense Jacobian to ``path`` (refusing above DENSE_LIMIT entries).

    The file is written next to its target and moved into place: an existing file (or
    symbolic link, which is never followed) is replaced only with ``force``.
    """
    rows, cols = operator.shape
    if rows * cols > DENSE_LIMIT:
        raise ValueError(f"refusing to save a dense {rows}×{cols} Jacobian "
                         f"({rows * cols:.2e} entries; the limit is {DENSE_LIMIT:.0e})")
    check_target(path, force)
    dense = operator.to_dense()
    write_npy(path, dense, force)
    print(f"saved the dense Jacobian, shape {dense.shape}, to {printable(path)}")


def _check_budget(problem: _Problem, jacobian: kv.Jacobian, args: argparse.Namespace) -> None:
    """Refuse --check/--dense work that needs more than --max-bytes, before allocating it:
    the largest value met while evaluating F and the map's factors (a few copies), and the
    dense Jacobian."""
    nodes = [problem.expression, *expression_factors(jacobian.map)]
    largest = max((math.prod(node.shape) for e in nodes if isinstance(e, kv.Expr) for node in e.walk()),
                  default=1)
    rows, cols = jacobian.shape
    dense = rows * cols if args.dense or (args.check and rows * cols <= DENSE_LIMIT
                                          and cols <= MAX_FD_COLUMNS) else 0
    need = 8 * (_WORKING_COPIES * max(largest, rows, cols) + 2 * dense)
    if need > args.max_bytes:
        raise CommandLineError(f"{'--check' if args.check else '--dense'} would need about {need:.3g} bytes "
                               f"of memory, more than --max-bytes {args.max_bytes}; raise --max-bytes to "
                               f"allow it")


# --------------------------------------------------------------------------
# The command


def _problem(args: argparse.Namespace) -> _Problem:
    """Parse EXPR and find the symbol to differentiate with respect to."""
    _check_symbol_name(args.wrt, ValueError)
    shapes = _collect_shapes(args.shape)
    symmetric = frozenset(name for group in args.symmetric for name in group)
    parsed = parse(args.expr, shapes, kv, symmetric)
    for name in sorted((symmetric | set(shapes)) - set(parsed.symbols) - {args.wrt}):
        print(f"note: {name} does not occur in the expression; its --shape/--symmetric is ignored")
    wrt = parsed.symbols.get(args.wrt)
    if wrt is None:
        if args.wrt not in shapes:
            raise ParseError(f"{args.wrt!r} does not occur in the expression; pass --shape "
                             f"{args.wrt}=RxC to differentiate anyway")
        print(f"note: {args.wrt} does not occur in the expression; the derivative is the zero map")
        wrt = kv.Matrix(args.wrt, shapes[args.wrt], symmetric=args.wrt in symmetric)
    return _Problem(args.expr.strip(), parsed, wrt, symmetric)


def _named_result(problem: _Problem) -> Any:
    """F (or f) named so that the closed form abbreviates it, as in ``(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)``."""
    name = "f" if problem.is_scalar else "F"
    expression = problem.expression
    if expression.op == "symbol" or name in problem.shapes():
        return expression
    return expression.named(name)


def _point(problem: _Problem, seed: int, given: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Values for every symbol, inside the expression's domain.

    Random ones are SPD where inverted or symmetric and positive where logged;
    when the expression is not finite there (as log(X - 5) at X near 1), the
    positive ones are scaled up by 10, 100, 1000.  ``given`` (from ``--at``)
    are used as they are.
    """
    analysis = problem.parsed.analysis
    for name in sorted(set(given) - set(problem.shapes())):
        print(f"note: {name} does not occur in the expression; its --at value is ignored")
    for attempt in range(DOMAIN_TRIES):
        rng = np.random.default_rng(seed)
        values = random_values(problem.expression, rng, positive=analysis.positive,
                               invertible=analysis.invertible | problem.symmetric, unit=analysis.unit)
        if problem.wrt_name not in values:  # differentiating by a symbol F does not contain
            values[problem.wrt_name] = random_matrix(rng, problem.wrt.shape,
                                                     spd=problem.wrt.params.symmetric)
        for name in (analysis.positive - analysis.unit) & set(values):
            values[name] = values[name] * 10.0 ** attempt
        values.update(given)
        if _finite_at(problem.expression, values):
            return values
        if given and set(given) >= set(values):
            break
    where = "the values given with --at are" if given else "no random point found is"
    raise ValueError(f"{where} outside the domain of the expression (it is not finite there); give "
                     f"values inside it with --at NAME=FILE.npy")


def _finite_at(expression: Any, values: dict[str, np.ndarray]) -> bool:
    try:
        with np.errstate(all="raise"):
            return bool(np.all(np.isfinite(kv.evaluate(expression, values))))
    except (FloatingPointError, np.linalg.LinAlgError):
        return False


def _derive(args: argparse.Namespace) -> int:
    """Run ``kronvec derive``; return the exit status."""
    problem = _problem(args)
    jacobian = kv.jacobian(_named_result(problem), problem.wrt)
    gradient = kv.grad(problem.expression, problem.wrt) if problem.is_scalar else None
    _print_header(problem)
    _print_derivative(problem, jacobian, gradient)
    if args.latex:
        if gradient is not None:
            print(f"LaTeX gradient: {gradient.latex()}")
        print(f"LaTeX Jacobian: {jacobian.latex()}")
    if args.steps:
        print("steps:")
        print(jacobian.steps())
        if args.latex:
            print("LaTeX steps:")
            print(jacobian.steps(latex=True))
    if not (args.check or args.dense):
        return 0
    named = dict.fromkeys(d for s in problem.shapes().values() for d in s if d >= BASE)
    if args.dense and named:
        raise CommandLineError(f"--dense needs sizes, and {', '.join(sorted(map(size_text, named)))} "
                               f"{'is a name' if len(named) == 1 else 'are names'}: give them with "
                               f"--shape, e.g. {_shape_example(problem)}")
    drawn = ""
    if named:  # small distinct sizes for the check: the symbolic derivative is bound at them
        sizes = dict(zip(named, CHECK_SIZES))
        drawn = sizes_text(sizes)
        shapes = {name: substitute_shape(s, sizes) for name, s in problem.shapes().items()}
        problem = _problem(argparse.Namespace(**{**vars(args), "shape": [list(shapes.items())]}))
    if args.dense:
        check_target(args.dense, args.force)
    _check_budget(problem, kv.jacobian(_named_result(problem), problem.wrt) if drawn else jacobian, args)
    given = {name: load_npy(path, args.max_bytes) for name, path in args.at}
    values = _point(problem, args.seed, given)
    operator = jacobian.at(values)
    status = 0
    if args.check and not _check(problem, operator, gradient, values, args.seed, drawn):
        status = 1
    if args.dense:
        _save_dense(args.dense, operator, args.force)
    return status


def _shape_example(problem: _Problem) -> str:
    """``--shape X=4x3 --shape V=4x4``: the symbols' shapes with small numbers for the names."""
    sizes = dict(zip(dict.fromkeys(d for s in problem.shapes().values() for d in s if d >= BASE),
                     CHECK_SIZES))
    return " ".join(f"--shape {name}={'x'.join(str(d) for d in substitute_shape(s, sizes))}"
                    for name, s in problem.shapes().items() if s)


def _message(error: BaseException) -> str:
    """An exception's message on one printable line, without KeyError's quotes."""
    if isinstance(error, KeyError) and len(error.args) == 1 and type(error).__str__ is KeyError.__str__:
        text = str(error.args[0])
    elif isinstance(error, MemoryError):
        text = f"not enough memory ({error or 'MemoryError'}); try smaller shapes"
    elif isinstance(error, RecursionError):
        text = "the expression is nested too deeply"
    else:
        text = str(error) or type(error).__name__
    return printable(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kronvec`` command line on ``argv`` (default ``sys.argv[1:]``).

    Returns 0 on success, 1 if ``--check`` failed, 2 on bad input.
    """
    _configure_output()
    args = _argument_parser().parse_args(argv)
    try:
        return _derive(args)
    except (*_USER_ERRORS, CommandLineError) as error:
        print(f"error: {_message(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        print(f"error: {type(error).__name__}: {_message(error)}", file=sys.stderr)
        return 2

