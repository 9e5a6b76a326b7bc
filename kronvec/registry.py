"""The op registry: every operation of kronvec declared once, in one place.

An :class:`OpSpec` carries everything the library needs to know about one
operation: its public function and shape signature (which the parser reads
too), its numeric evaluation, its JVP rule (a linear map whose factors are
expressions), how a transpose passes through it, and its printing in
Unicode, LaTeX and the library's Python syntax.  The op families in
:mod:`kronvec.ops` each register their operations here, one short section per
operation; every other layer looks operations up by name instead of keeping
tables of its own.

The registry sits below the expression nodes, so nodes reach their
constructors (``A @ B`` → the ``matmul`` spec) and the printer (through
:data:`DISPLAY`, filled in by :mod:`kronvec.printing`) without an import
cycle.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Callable, ParamSpec, Sequence, TypeVar

from .dims import Unified
from .signature import Signature, parse_signature

if TYPE_CHECKING:  # the rules' argument types (the layers above, named in annotations only)
    from .contexts import (CodeTemplate, EvaluateRule, JvpRule, PrintRule, PythonPrintRule, RebuildRule,
                           TriangleRule)
    from .expr import Expr

__all__ = ["OpSpec", "Printing", "signature_of", "Transpose", "Params", "Prec", "register", "spec", "specs",
           "function", "public_functions", "operations_table", "DISPLAY", "SELF", "inferring", "is_inferring"]

P = ParamSpec("P")
R = TypeVar("R")


class Prec(IntEnum):
    """Printing precedence: higher binds tighter."""

    SUM = 0
    UNARY = 1
    KRON = 2
    PROD = 3
    POSTFIX = 4
    ATOM = 5


class Params(tuple[tuple[str, Any], ...]):
    """A node's parameters by name: ``node.params.coef``.

    A tuple of ``(name, value)`` pairs, so it hashes and compares by value
    (nodes are interned by their parameters) and pickles like a tuple.
    """

    def __new__(cls, **fields: Any) -> "Params":
        self = super().__new__(cls, tuple(fields.items()))
        self.__dict__.update(fields)  # attribute access at dictionary speed
        return self

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"no parameter {name!r} (parameters: {[k for k, _ in self]})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("parameters are immutable")

    def __reduce__(self) -> tuple[Callable[[tuple[tuple[str, Any], ...]], Params], tuple[Any, ...]]:
        return (_params, (tuple(self),))

    def __repr__(self) -> str:
        return "Params(" + ", ".join(f"{k}={v!r}" for k, v in self) + ")"

    def values(self) -> tuple[Any, ...]:
        return tuple(v for _, v in self)


def _params(pairs: tuple[tuple[str, Any], ...]) -> Params:
    return Params(**dict(pairs))


@dataclass(frozen=True)
class Printing:
    """How a node prints: one function per style, ``(printer, node) -> (text, Prec)``.

    The Unicode and LaTeX functions usually are one function that reads the
    printer's style; the Python one writes the library's own syntax, which
    the parser reads back.
    """

    unicode: PrintRule
    latex: PrintRule
    python: PythonPrintRule


@dataclass(frozen=True)
class Transpose:
    """How (op(args))ᵀ is pushed towards the leaves.

    ``args`` are the positions of the arguments that get transposed (None:
    all of them); ``build(node, transposed)`` makes the result from them.
    """

    args: tuple[int, ...] | None
    build: Callable[[Expr, list[Expr]], Expr]


def _itself(node: Any, transposed: list[Any]) -> Any:
    return node


SELF = Transpose((), _itself)  # the node is its own transpose (e.g. diag(v))


@dataclass(frozen=True)
class OpSpec:
    """One operation.

    Attributes
    ----------
    name : str
        The node's ``op``.
    family : str
        The module of :mod:`kronvec.ops` that registers it (``kronecker`` for
        ``kron``): the name of the file it lives in.
    public : str or None
        The name of the public function (``kv.<public>``) that the parser
        whitelists; None for internal nodes.
    function : callable or None
        The canonicalising constructor (the public function, if any).
    signature : Signature or None
        Shape signature: constructors check shapes with it and the parser
        infers shapes from it.
    params : tuple of str
        Names of the node's parameters (``node.params.<name>``).
    evaluate : callable
        ``(evaluator, node) -> value``.
    jvp : callable
        ``(node, i) -> LinearMap``, the derivative in argument i (factors are
        expressions); VJPs are its adjoint.
    transpose : Transpose or None
        How a transpose passes through (None: it stays on the node).
    printing : Printing
        Unicode, LaTeX and Python syntax.
    rebuild : callable or None
        ``(node, args) -> Expr`` with new arguments; the default calls
        ``function(*args, *params)``.
    leaf : bool
        A node without arguments (symbols, constants): nothing to differentiate.
    node : bool
        False for a public function that builds other nodes (``solve`` is
        A⁻¹B, ``sqrt`` is a power): it has a signature but no evaluation.
    deferred : bool
        The evaluator computes the value only when asked for it directly;
        products consume it otherwise (inverses become solves).
    domain : tuple of str
        Per argument, what random test values need: ``"invertible"``,
        ``"positive"`` or ``""``.
    triangular : callable or None
        ``node -> "lower" | "upper" | None``: the triangle a node's value is
        known to lie in (a Cholesky factor is lower triangular).  Inverses of
        triangular nodes are applied by triangular solves.
    identity : tuple of str
        The differential identity the JVP rule comes from, in Unicode and
        LaTeX, with ``{out}`` and ``{arg}`` standing for the names of the
        node and of its (first) argument; :func:`kronvec.explain` prints it.
    orthonormal : str
        ``"columns"`` (QᵀQ = I) or ``"rows"`` (QQᵀ = I) for a node whose value
        is known to have orthonormal columns or rows (eigenvectors, the Q of
        qr); products cancel QᵀQ, and QQᵀ for a square Q.
    outputs : tuple of str
        For a public function returning a tuple of expressions (such as
        ``eigh``), the names of its outputs; the parser, which reads
        single-valued expressions, refuses such a call with a message naming them.
    stacks : bool
        The operation acts on stacks of matrices: its signature's dimensions
        are core dimensions (the trailing axes) and leading stack axes
        broadcast, as for NumPy's gufuncs; its evaluation and JVP rule are
        batched.  Other operations refuse stacks with ``NotImplementedError``.
    code : str, dict or callable
        How generated code (:func:`kronvec.lambdify`) computes the node from
        the code of its arguments: a format string such as
        ``"{np}.exp({0})"`` (``{0}``, ``{1}``: the arguments; ``{np}``,
        ``{la}``: the backend's array and linear-algebra modules; ``{n}``: the
        node, e.g. ``{n.params.coef}``), a callable ``(g, node, *args) -> str``
        (``g`` is the code generator, :class:`kronvec.codegen.emit.Emitter`),
        or a dict of either by backend (``"numpy"``, ``"jax"``, ``"torch"``,
        ``"*"`` for the others).  Every node op has one (leaves excepted).
    doc : str
        One line for the README table and the CLI help.
    """

    name: str
    family: str
    public: str | None = None
    function: Callable[..., Expr] | None = None
    signature: Signature | None = None
    params: tuple[str, ...] = ()
    evaluate: EvaluateRule | None = None
    jvp: JvpRule | None = None
    transpose: Transpose | None = None
    printing: Printing | None = None
    rebuild: RebuildRule | None = None
    leaf: bool = False
    node: bool = True
    deferred: bool = False
    domain: tuple[str, ...] = ()
    triangular: TriangleRule | None = None
    identity: tuple[str, ...] = ()
    orthonormal: str = ""
    outputs: tuple[str, ...] = ()
    stacks: bool = False
    code: CodeTemplate | None = None
    doc: str = ""

    def rebuilt(self, node: Expr, args: Sequence[Expr]) -> Expr:
        """``node`` with new arguments, through the canonicalising constructor."""
        if self.rebuild is not None:
            return self.rebuild(node, args)
        if self.function is None:
            raise TypeError(f"operation {self.name!r} has neither a rebuild rule nor a constructor")
        return self.function(*args, *node.params.values())


_SPECS: dict[str, OpSpec] = {}
_PUBLIC: dict[str, OpSpec] = {}


def registering_module() -> str:
    """The name of the module whose import runs the current registration: the
    innermost module-level frame (helpers such as ``register_elementwise``,
    called from another module's top level, are looked through)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "")) if frame is not None else ""


def register(name: str, family: str | None = None, *, signature: str | None = None,
             describe: str | None = None, **fields: Any) -> OpSpec:
    """Declare an operation (each name once); returns its spec.

    Its family is the module that registers it (``kron`` in
    ``kronvec/ops/kronecker.py`` is of family ``kronecker``), so the name
    leads to the file; ``family``, if given, must be that module's name.
    ``signature`` is given in the language of :mod:`kronvec.signature`;
    ``describe`` replaces the generic shape-error text (``an (n, 1) vector
    or a square matrix``).
    """
    if name in _SPECS:
        raise ValueError(f"operation {name!r} is registered twice")
    module = registering_module()
    derived = module.rsplit(".", 1)[-1]
    if family is not None and family != derived:
        raise ValueError(f"operation {name!r} is registered in {module} but declares the family {family!r}; "
                         f"an operation's family is the module that registers it ({derived!r})")
    sig = parse_signature(signature, describe, bool(fields.get("stacks"))) if signature is not None else None
    constructor = fields.get("function")
    if constructor is not None and not is_inferring(constructor):
        public = fields.get("public")
        if public is not None:
            raise TypeError(f"the public function {public!r} must be defined with @inferring, so that "
                            f"kv.{public} builds with sizes left to inference")
        fields["function"] = inferring(constructor)
    op = OpSpec(name=name, family=derived, signature=sig, **fields)
    _SPECS[name] = op
    if op.public is not None:
        if op.public in _PUBLIC:
            raise ValueError(f"public function {op.public!r} is declared by two operations")
        _PUBLIC[op.public] = op
    return op


_INFERRING_CONSTRUCTORS: set[Callable[..., Any]] = set()


def inferring(constructor: Callable[P, R]) -> Callable[P, R]:
    """``constructor``, built again with resolved operands when sizes left to inference were unified
    while building it.

    A constructor that meets operands whose sizes are still inferred (``kv.Matrix("X")``) may
    unify two of those sizes while checking its signature; it then raises
    :class:`kronvec.dims.Unified`, and is called again with the operands rewritten to the
    unified sizes (:data:`RESOLVE`), until it builds.  Operands with known sizes never raise,
    so they pay one call and nothing else.

    Every public function is defined with this decorator (``register`` refuses one that is not),
    so ``kv.inv`` is one function from import on; ``register`` applies it to the constructors of
    internal nodes itself.
    """
    @functools.wraps(constructor)
    def build(*args: P.args, **kw: P.kwargs) -> R:
        try:
            return constructor(*args, **kw)
        except Unified:
            for _ in range(63):
                args, kw = RESOLVE(args), RESOLVE(kw)
                try:
                    return constructor(*args, **kw)
                except Unified:
                    continue
            raise
    _INFERRING_CONSTRUCTORS.add(build)
    return build


def is_inferring(constructor: Callable[..., Any]) -> bool:
    """Whether ``constructor`` was made by :func:`inferring`."""
    return constructor in _INFERRING_CONSTRUCTORS


RESOLVE: Callable[[Any], Any] = lambda x: x
"""Operands with their inferred sizes resolved (set by :mod:`kronvec.sizing`)."""


def spec(name: str) -> OpSpec:
    """The spec of a node op (a ``KeyError`` naming it if there is none)."""
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(f"no operation {name!r} is registered") from None


def signature_of(op: OpSpec) -> Signature:
    """The shape signature of ``op`` (a ``TypeError`` naming it if it declares none)."""
    if op.signature is None:
        raise TypeError(f"operation {op.name!r} declares no signature")
    return op.signature


def specs() -> list[OpSpec]:
    """Every registered operation, in registration order."""
    return list(_SPECS.values())


def public_functions() -> dict[str, OpSpec]:
    """The specs of the public functions the parser whitelists, by public name."""
    return dict(_PUBLIC)


def function(name: str) -> Callable[..., Expr]:
    """The constructor of the op ``name`` (used by operators such as ``A @ B``)."""
    fn = spec(name).function
    if fn is None:
        raise KeyError(f"operation {name!r} has no constructor")
    return fn


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def operations_table() -> str:
    """The README's table of the public operations (Markdown), from the registry.

    One row per public function, by module and then by name: its name, the
    module of :mod:`kronvec.ops` that declares it, its shape signature and its
    one-line description (``OpSpec.doc``).
    """
    rows = ["| function | declared in | shapes | what it is |", "|---|---|---|---|"]
    for op in sorted((op for op in _SPECS.values() if op.public), key=lambda op: (op.family, op.public)):
        shapes = f"`{_cell(op.signature.text)}`" if op.signature is not None else ""
        rows.append(f"| `kv.{op.public}` | `ops/{op.family}.py` | {shapes} | {_cell(op.doc)} |")
    return "\n".join(rows) + "\n"


class _Display:
    """Printing entry points, set by :mod:`kronvec.printing` when it is imported.

    Expressions and maps print themselves through these, so the node layers
    need not import the printer.
    """

    unicode: Callable[..., str]
    latex: Callable[..., str]
    python: Callable[..., str]
    map_unicode: Callable[..., str]
    map_latex: Callable[..., str]
    differential: Callable[..., str]
    steps: Callable[..., str]


DISPLAY = _Display()
