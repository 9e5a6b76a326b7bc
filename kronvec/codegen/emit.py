"""Straight-line code from a described evaluation (:attr:`Evaluator.described`).

The :class:`Emitter` walks what the evaluator did, in order, and writes one
assignment per value it computed:

* the evaluator's own steps through the backend (:mod:`.backends`): one
  factorization per matrix, solves with it, inverses only where the evaluator
  formed them, products in the order its matrix-chain DP chose, and
  transposes of values computed before (written inline, ``W.T``);
* every other node through its op's ``code`` template in the registry, with
  the code of its arguments.

Values the evaluator shared are one variable each: a node evaluated once is
assigned once, however many outputs use it.  Variables take the printer's
names where there are any (symbols, ``.named`` nodes, the names
:func:`kronvec.pretty` gives recurring subexpressions), and every line ends
with the closed form it computes.  Templates see the emitter as ``g``.
"""
from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from typing import Any, Mapping, NoReturn

import numpy as np

from ..evaluation.evaluator import Evaluator
from ..expr import Expr
from ..ops.products import matmul
from ..printing.expressions import Printer
from ..printing.styles import UNICODE
from ..registry import spec
from .arrays import product_code, transposed_members
from .backends import Backend, Factor
from .stacks import stack_template, stacked
from .twins import SOLVES, factorize, flipped, own_factor

__all__ = ["Emitter", "identifier", "CodegenError"]

_TEMP = "\u0167"  # temporaries are ŧ1, ŧ2, ... (identifiers no symbol uses) until they are numbered
_TEMPS = re.compile(_TEMP + r"\d+")
_INLINE = 24  # longest code of a temporary written into its one use (never a factorization or solve)
_HEAVY = re.compile(r"solve|lapack|linalg|cho_|lu_|einsum|eigh|svd|qr|expm|helper")
_ATOM = re.compile(r"^[^\W\d]\w*(\.T)?$|^[0-9.e+]+$|^\(-[0-9.e+-]+\)$")
_COMMENT = 72  # longest comment kept whole


class CodegenError(NotImplementedError):
    """An expression the chosen backend cannot generate code for (the message says why)."""


def identifier(name: str) -> str | None:
    """A Python identifier for a printed name, or None.

    Examples
    --------
    >>> identifier("Wᵀ"), identifier("e₁"), identifier("2x")
    ('W_T', 'e1', None)
    """
    text = unicodedata.normalize("NFKC", name.replace("ᵀ", "_T").replace("⁻¹", "_inv"))
    text = re.sub(r"[^\w]", "", text)
    if not text or not text.isidentifier() or keyword.iskeyword(text):
        return None
    return text


class Emitter:
    """Writes the body of a generated function (the ``g`` of code templates).

    Parameters
    ----------
    backend : Backend
    ev : Evaluator
        The evaluator that ran with ``describe=True``.
    names : mapping
        Display names by expression (user names and those of :func:`kronvec.pretty`).
    params : mapping
        The function's parameters: symbol -> parameter name.
    reserved : set of str
        Names the code must not assign (the namespace's modules and helpers).

    Notes
    -----
    A template ``(g, node, *args) -> str`` returns the code of the node's
    value from the code of its arguments.  It may emit lines before it
    (:meth:`let` assigns a value to a variable, the same one for the same
    code), ask for values the evaluation computed (:meth:`value`) and
    factorizations (:meth:`factor`, with the backend's ``solve``, ``det``, ...),
    put the library's own routines into the NumPy namespace (:meth:`helper`),
    or refuse (:meth:`unsupported`).
    """

    def __init__(self, backend: Backend, ev: Evaluator, names: Mapping[Expr, str],
                 params: Mapping[Expr, str], reserved: set[str]) -> None:
        self.backend, self.ev, self.names = backend, ev, dict(names)
        self.name = backend.name
        self.array_module, self.linalg_module = backend.array_module, backend.linalg_module
        self.lines: list[list[Any]] = []  # [variable or None, code, comment]
        self.helpers: dict[str, Any] = {}    # namespace name -> helper function or constant array
        self._code: dict[int, str] = {}      # id(value) -> its code
        self._factors: dict[int, Factor] = {}  # id(Factorization) -> Factor
        self._factor_of: dict[Expr, Factor] = {}
        self._transposed: dict[int, Any] = {}  # factorizations of Aᵀ done by A's (:mod:`.twins`)
        self._cholesky: dict[Expr, Factor] = {}
        self._let: dict[str, str] = {}
        self._taken = set(reserved) | set(params.values())
        self._count = 0
        self._no_inline: set[str] = set()
        self._nodes: set[Expr] = set()
        self._constants: dict[Any, str] = {}
        for sym, name in params.items():
            value = ev.values.get(sym)
            if value is not None:
                self._code[id(value)] = name
        self.params = dict(params)
        self.batched = True  # whether the map code written so far takes stacks of tangents

    # ------------------------------------------------------------ writing
    def line(self, text: str, comment: str | None = None, var: str | None = None) -> None:
        """Append a line of code (with a trailing comment); ``var = text`` for an assignment."""
        if comment:
            comment = comment if len(comment) <= _COMMENT else comment[:_COMMENT - 1] + "…"
        self.lines.append([var, text, comment])

    def fresh(self, *hints: str) -> tuple[str, ...]:
        """New variable names, from the hints where those are free; temporaries (hint ``t``)
        are numbered when the code is finished (:meth:`finish`), in order of appearance."""
        out = []
        for hint in hints:
            if hint.startswith(_TEMP) and hint.isidentifier():  # derived from a temporary: 't3_lu'
                name = hint
            else:  # (a hint made from code, 'ŧ7.swapaxes(-1, -2)_inv', names a temporary)
                base = (identifier(hint) if not hint.startswith(_TEMP) else None) or "t"
                if base in ("t", "term"):
                    self._count += 1
                    name = f"{_TEMP}{self._count}"
                else:
                    name, k = base, 2
                    while name in self._taken:
                        name, k = f"{base}_{k}", k + 1
            self._taken.add(name)
            out.append(name)
        return tuple(out)

    def rename(self, code: str, name: str) -> str:
        """Give the variable ``code`` assigned by the last line the name ``name`` (if it is a
        temporary); returns the code of the value."""
        if self.lines and self.lines[-1][0] == code and _TEMPS.fullmatch(code):
            (self.lines[-1][0],) = self.fresh(name)
            result: str = self.lines[-1][0]
            return result
        return code

    def finish(self, returned: list[str]) -> tuple[list[str], list[str]]:
        """The lines and the returned codes, with temporaries used once and short written
        into their one use, and the others numbered t1, t2, ... in order."""
        lines, returned = _inline(_live(self.lines, returned), returned, self._no_inline)
        order: dict[str, str] = {}
        taken = {n for n in self._taken if not n.startswith(_TEMP)}
        counter = 0

        def name(match: re.Match[str]) -> str:
            nonlocal counter
            key = match.group(0)
            if key not in order:
                while True:
                    counter += 1
                    if f"t{counter}" not in taken:
                        break
                order[key] = f"t{counter}"
            return order[key]

        out = []
        for var, code, comment in lines:
            text = code if var is None else f"{var} = {code}"
            text = _TEMPS.sub(name, f"{text}  # {comment}" if comment else text)
            out.append(text)
        return out, [_TEMPS.sub(name, r) for r in returned]

    def let(self, rhs: str, hint: str | None = None, shared: bool = True, comment: str | None = None,
            node: Expr | None = None) -> str:
        """A variable holding ``rhs`` (the same one for the same code when ``shared``); atoms
        such as ``W.T`` or a number are returned as they are."""
        if _ATOM.match(rhs):
            return rhs
        if shared and rhs in self._let:
            return self._let[rhs]
        (var,) = self.fresh(self._hint(node) or hint or "t")
        self.line(rhs, comment if comment is not None else self._describe(node), var=var)
        if shared:
            self._let[rhs] = var
        return var

    def _hint(self, e: Expr | None) -> str | None:
        if e is None:
            return None
        name = self.names.get(e)
        return identifier(name) if name else None

    def _describe(self, e: Expr | None) -> str | None:
        """The closed form of ``e`` (with the other names), for a comment."""
        if e is None:
            return None
        names = {k: v for k, v in self.names.items() if k is not e}
        return Printer(UNICODE, names)(e)

    # ---------------------------------------------------- what templates use
    def value(self, e: Expr) -> str:
        """The code of the value of ``e``, which the evaluation computed."""
        code = self.code_of(e)
        if code is None:
            raise CodegenError(f"code generation: the value of {e} was not computed before it is used")
        return code

    def code_of(self, e: Expr) -> str | None:
        """The code of ``e``'s value if it was computed so far, else None."""
        v = self.ev.cached(e)
        return None if v is None else self._code.get(id(v))

    def has(self, e: Expr) -> bool:
        """Whether the value of ``e`` was computed so far."""
        return self.code_of(e) is not None

    def evaluates(self, e: Expr) -> bool:
        """Whether the evaluation contains the node ``e`` (before or after this point)."""
        return self.ev.canon(e) in self._nodes

    def factor(self, a: Expr) -> Factor:
        """The factorization of the matrix ``a`` that the evaluation computed."""
        f = own_factor(self, self.ev.canon(a))
        if f is None:
            raise CodegenError(f"code generation: no factorization of {a} was computed")
        return f

    def cholesky(self, sym: Expr) -> Factor:
        """The Cholesky factorization of a symbol declared positive definite (once)."""
        f = self._cholesky.get(sym)
        if f is None:
            base = self.params.get(sym, "A")
            f = self._cholesky[sym] = self.backend.factorize(self, "cholesky", self.value(sym), base,
                                                             sym.shape[-1], stacked=len(sym.shape) - 2)
        return f

    def bound_cholesky(self, a: Expr) -> Factor | None:
        """The Cholesky factorization of ``a`` if it is a symbol declared positive definite whose
        factor the evaluator took from the binding, else None."""
        if self.ev.bound_cholesky(a) is None:
            return None
        return self.cholesky(a)

    def symmetric(self, a: Expr) -> bool:
        """Whether the value of ``a`` is symmetric for any values of the symbols: it was exactly
        symmetric at the representative values (which are generic where nothing is declared)."""
        v = self.ev.cached(a)
        return v is not None and np.ndim(v) >= 2 and v.shape[-1] == v.shape[-2] \
            and bool((v == np.swapaxes(v, -1, -2)).all())

    def helper(self, name: str, fn: Any) -> str:
        """``fn`` in the namespace under ``name`` (for NumPy code that calls the library's own
        numerical routines)."""
        self.helpers.setdefault(name, fn)
        self._taken.add(name)
        return name

    def constant(self, value: Any, name: str | None = None) -> str:
        """A constant array in the namespace (numbered ``C1``, ``C2``, ... unless named)."""
        arr = np.asarray(value, dtype=float)
        key = (arr.shape, arr.tobytes(), name)
        if key not in self._constants:
            (var,) = self.fresh(name or f"C{len(self._constants) + 1}")
            self._constants[key] = var
            self.helpers[var] = arr
        return self._constants[key]

    def index_constant(self, value: Any, name: str) -> str:
        """A constant integer array (positions) in the namespace."""
        arr = np.asarray(value, dtype=np.intp)
        key = (arr.shape, arr.tobytes(), name, "index")
        if key not in self._constants:
            (var,) = self.fresh(name)
            self._constants[key] = var
            self.helpers[var] = arr
        return self._constants[key]

    def eye(self, n: int) -> str:
        return self.backend.eye(n)

    def zeros(self, shape: tuple[int, ...]) -> str:
        return self.backend.zeros(shape)

    def ones(self, shape: tuple[int, ...]) -> str:
        return self.backend.ones(shape)

    def unsupported(self, what: str) -> NoReturn:
        raise CodegenError(f"the {self.name!r} backend of kronvec.lambdify cannot generate {what}")

    def render(self, node: Expr, args: list[str | None], stacks: bool = True) -> str:
        """The code of ``node`` from the code of its arguments, by its op's template (over stacks, by
        :func:`.stacks.stack_template` unless ``stacks`` is False)."""
        special = stack_template(self, node) if stacks and stacked(node) else None
        if special is not None:
            return special(self, node, *args)
        code = spec(node.op).code
        template = code.get(self.name, code.get("*")) if isinstance(code, Mapping) else code
        if template is None:
            self.unsupported(f"{node.op!r} ({spec(node.op).doc})")
        if callable(template):
            return template(self, node, *args)
        return template.format(*args, np=self.array_module, la=self.linalg_module, n=node)

    # ------------------------------------------------------- translation
    def run(self, described: list[tuple[Any, ...]]) -> None:
        """Write the code of every step and node of the described evaluation, in order."""
        self._nodes = {entry[1] for entry in described if entry[0] == "node"}
        for entry in described:
            if entry[0] == "node":
                self._node(entry[1], entry[2])
            else:
                self._step(entry[1], entry[2], entry[3])

    def _node(self, node: Expr, value: Any) -> None:
        if id(value) in self._code:
            return  # the value of a product, an inverse, a symbol or a name: computed already
        if node.op == "symbol":
            self.unsupported(f"the symbol {node.params.name}, which is not an argument")
        if node.op == "const":
            code = self._constant(node)
        else:
            args = [self.code_of(a) for a in node.args]
            code = self.let(self.render(node, args), node=node, shared=False)
        self._code[id(value)] = code

    def _constant(self, node: Expr) -> str:
        cv = node.params.value
        if cv.array.size == 1 and cv.name is None and cv.array.ndim == 0:
            c = float(cv.array)
            return repr(c) if c >= 0 else f"({c!r})"
        return self.constant(cv.array, identifier(cv.name) if cv.name else None)

    def _step(self, step: tuple[Any, ...], args: tuple[Any, ...], out: Any) -> None:
        kind, b = step[0], self.backend
        if kind == "factorize":
            factorize(self, step[1], args, out)  # A's factors for Aᵀ when A is factored (:mod:`.twins`)
            return
        what, trans = _product(step[-1]), flipped(self, args[0], step[1]) if kind in SOLVES else False
        if kind == "transpose":  # of every member, for a stack
            code = _transposed(self._arg(args[0]), np.ndim(out) > 2)
        elif kind == "matmul":
            product = self._product_code(step[-1], what, *map(self._arg, args))
            code = self.let(product, node=what, shared=False)
        elif kind == "solve":
            code = self.let(b.solve_code(self, self._factors[id(args[0])], self._arg(args[1]), trans,
                                         np.shape(args[1]), self._describe(what)), node=what, shared=False)
        elif kind == "solve_right":
            rhs = b.solve_right_code(self, self._factors[id(args[0])], self._arg(args[1]), trans,
                                     np.shape(args[1]), self._describe(what))
            code = self.let(rhs, node=what, shared=False)
        elif kind == "inverse":
            f = self._factors[id(args[0])]
            code = self.let(b.inverse(self, f, trans), node=what, shared=False,
                            hint=(self._base(what.args[0]) + "_inv") if what is not None else None)
        else:
            raise CodegenError(f"code generation: unknown evaluator step {kind!r}")
        self._code[id(out)] = code

    def _product_code(self, factors: Any, what: Expr | None, left: str, right: str) -> str:
        """``left @ right``, or its backend's better form (:func:`.arrays.product_code`)."""
        return product_code(self.name, factors, what, left, right)

    def _factorize(self, a: Expr, args: tuple[Any, ...], fac: Any) -> None:
        if len(args) == 2:  # with the Cholesky factor computed when a positive definite symbol is bound
            f = self.cholesky(a)
        elif np.ndim(args[0]) > 2:  # a stack: every member factored in one batched call
            kind = "cholesky" if a.op == "symbol" and a.params.positive_definite else "lu"
            label = self._describe(a) if a.args else None
            f = self.backend.factorize(self, kind, self._arg(args[0]), self._base(a), fac.n, label=label,
                                       stacked=np.ndim(args[0]) - 2)
        else:
            kind = "triangular" if fac.triangular is not None else "cholesky" if fac.cholesky is not None \
                else "ldl" if fac.ldl is not None else "lu"
            if kind == "ldl" and self.name != "numpy":
                kind = "lu"  # JAX and PyTorch have no LDLᵀ solves: LU
            lower = bool(fac.triangular[1]) if fac.triangular is not None else False
            f = self.backend.factorize(self, kind, self._arg(args[0]), self._base(a), fac.n, lower,
                                       self._describe(a) if a.args else None)
        self._factors[id(fac)] = f
        self._factor_of[a] = f

    def _base(self, a: Expr) -> str:
        """A name to derive factor names from: the matrix's variable, or its printed name."""
        code = self.code_of(a)
        if code is not None and code.endswith(".T") and _ATOM.match(code):
            self._no_inline.add(code[:-2])  # the factors of Wᵀ are named W_T_lu, ...
            return code[:-2] + "_T"
        if code is not None and (code.isidentifier() or code.startswith(_TEMP)) and _ATOM.match(code):
            self._no_inline.add(code)
            return code
        return self._hint(a) or "A"

    def _arg(self, value: Any) -> str:
        code = self._code.get(id(value))
        if code is None:
            raise CodegenError("code generation: a value was computed outside the recorded steps")
        return code


def _live(lines: list[list[Any]], returned: list[str]) -> list[list[Any]]:
    """The lines the returned values depend on (the evaluator may compute a value no output
    needs, such as a sum's scaled term that an enclosing sum reads as coefficient and term)."""
    needed = {n.id for r in returned for n in ast.walk(ast.parse(r, mode="eval")) if isinstance(n, ast.Name)}
    kept = []
    for line in reversed(lines):
        var, code, _ = line
        tree = ast.parse(f"{var} = {code}" if var is not None else code).body[0]
        targets: set[str] = set()
        used: set[str] = set()
        for t in getattr(tree, "targets", []):
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    (targets if isinstance(n.ctx, ast.Store) else used).add(n.id)
        value = getattr(tree, "value", tree)
        used |= {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        writes = targets | {n.id for t in getattr(tree, "targets", []) if isinstance(t, ast.Subscript)
                            for n in [t.value] if isinstance(n, ast.Name)}
        if writes & needed or not writes:
            kept.append(line)
            needed = (needed - targets) | used
    return kept[::-1]


def _inline(lines: list[list[Any]], returned: list[str],
            keep: set[str]) -> tuple[list[list[Any]], list[str]]:
    """Temporaries used once, whose code is short, written into the line that uses them."""
    lines = [list(x) for x in lines]
    uses: dict[str, int] = {}
    for _, code, _ in lines:
        for t in _TEMPS.findall(code):
            uses[t] = uses.get(t, 0) + 1
    for r in returned:
        for t in _TEMPS.findall(r):
            uses[t] = uses.get(t, 0) + 1
    for k, (var, code, _) in enumerate(lines):
        if var is None or not _TEMPS.fullmatch(var) or var in keep or uses.get(var) != 1 \
                or len(code) > _INLINE or _HEAVY.search(code):
            continue
        pattern = re.compile(re.escape(var) + r"(?![\w])")
        for target in lines[k + 1:]:
            if pattern.search(target[1]):
                if target[0] is None or target[0] == var:
                    break  # an in-place line (x[...] = ...) or a reassignment: keep the variable
                target[1] = _substitute(pattern, code, target[1])
                lines[k][0] = None
                lines[k][1] = None
                break
    return [x for x in lines if x[1] is not None], returned


def _substitute(pattern: re.Pattern[str], code: str, text: str) -> str:
    """``text`` with the variable matched by ``pattern`` replaced by ``code``: bare where it is a
    whole argument of a call (``f(x, y)``), as an operand (:func:`_operand`) elsewhere."""
    def replace(m: re.Match[str]) -> str:
        before, after = text[:m.start()].rstrip(), text[m.end():].lstrip()
        whole = before.endswith(("(", ",", "[")) and after.startswith((")", ",", "]")) \
            and not before.endswith("[")
        return code if whole else _operand(code)
    return pattern.sub(replace, text)


def _operand(code: str) -> str:
    """``code`` as an operand: parenthesised unless it is an atom, a call or a subscript."""
    depth = 0
    for i, ch in enumerate(code):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and (ch in " +*/@" or ch == "-" and (i == 0 or code[i - 1] in " (")):
            return f"({code})"
    return code


def _product(what: Any) -> Expr | None:
    """The expression a step computes: a node, or the product of a run of factors."""
    if isinstance(what, Expr) or what is None:
        return what
    return matmul(*what) if len(what) else None


def _transposed(code: str, stacked: bool = False) -> str:
    if stacked or code.endswith(".T") and code[:-2].isidentifier():
        return transposed_members(code) if stacked else code[:-2]
    if code.isidentifier():
        return f"{code}.T"
    if _ATOM.match(code):  # a number
        return code
    return f"({code}).T"
