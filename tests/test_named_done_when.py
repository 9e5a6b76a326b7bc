"""Issue 20's "Done when", checked case by case (API v1.3, sizes given as names).

Every README example and every derivative case of the project's own tests
(``test_op_derivatives.CASES``) is run with sizes given as names and with sizes left to
inference.  For each:

* the printed forms (Unicode, LaTeX, the differential) equal the sized ones with names for
  numbers (:func:`numbered` writes the numbers back in);
* one symbolic derivative bound at two different size sets gives the numbers of the sized
  derivative at each;
* the code generated once (``kv.lambdify``) runs at both sizes.

The seed questions are README examples (and cases of ``test_named_sizes``); their command line
forms are checked here too: without ``--shape`` the closed form is the sized one with names.
"""
from __future__ import annotations

import itertools
import re
from typing import Any, Callable

import numpy as np
import pytest

import kronvec as kv
from kronvec.cli import main
from kronvec.dims import Dim, find, free_dim
from kronvec.sizing import with_sizes
from kronvec.testing import random_values
from test_named_sizes import NOT_NAMED
from test_op_derivatives import CASES as OP_CASES

SIZE_SETS = ({"n": 4, "m": 3, "k": 2}, {"n": 6, "m": 2, "k": 5})

# ------------------------------------------------------------------ names back to numbers
_SUB_TO = str.maketrans("ₙₘₖₚ₊₋₀₁₂₃₄₅₆₇₈₉", "nmkp+-0123456789")
_TO_SUB = str.maketrans("0123456789(),", "₀₁₂₃₄₅₆₇₈₉₍₎,")
_TERM = r"(?:\d+\*?)?[nmkp](?:\*?(?:\d+|[nmkp]))*"
_SIZE = rf"{_TERM}(?:\s?[+-]\s?(?:{_TERM}|\d+))*"


def _value(text: str, sizes: dict[str, int]) -> int:
    text = re.sub(r"(\d)([nmkp])", r"\1*\2", text.replace(" ", ""))
    text = re.sub(r"([nmkp])(?=[nmkp\d])", r"\1*", text)
    return int(eval(text, {"min": min}, dict(sizes)))


def numbered(text: str, sizes: dict[str, int]) -> str:
    """A printed form with the sizes given as names replaced by their numbers: in the subscripts
    of sized structure (Iₙₘ, K₍ₙ,ₘ₎, place₍ₙ₊₁,₂ₖ₎, K_(m,min(n,m)), I_{nm}, K_{(n,m)}) and in the
    shapes, keys and coefficients written out ((n, 2*k), [:n, k:], X[n-1, :], min(n, m))."""
    text = re.sub(rf"\\?min\(({_SIZE}),\s?({_SIZE})\)",
                  lambda g: str(_value(f"min({g.group(1)},{g.group(2)})", sizes)), text)

    def subscript(g: re.Match) -> str:
        inner = g.group(2).translate(_SUB_TO)
        parts = [str(_value(p, sizes)) if re.search("[nmkp]", p) else p
                 for p in inner.strip("₍₎()").split(",")]
        return g.group(1) + (f"({','.join(parts)})" if "," in inner else parts[0]).translate(_TO_SUB)

    text = re.sub(r"(place|𝟙|(?<![A-Za-z])[IKDL])([₍ₙₘₖₚ₊₋₀-₉,₎]*[ₙₘₖₚ][₍ₙₘₖₚ₊₋₀-₉,₎]*)", subscript, text)
    text = re.sub(rf"(?<=[IKDL}}])_\{{(\(?)({_SIZE}|\d+)(?:,({_SIZE}|\d+))?(\)?)\}}",
                  lambda g: "_{" + g.group(1) + ",".join(str(_value(p, sizes)) for p in g.groups()[1:3] if p)
                  + g.group(4) + "}", text)
    text = re.sub(r"_\(([^()]*)\)", lambda g: ",".join(str(_value(p, sizes)) for p in g.group(1).split(","))
                  .join("()").translate(_TO_SUB), text)
    return re.sub(rf"(?<![A-Za-z_\\]){_SIZE}(?![A-Za-z_(])", lambda g: _plain(g, sizes), text)


def _plain(g: re.Match, sizes: dict[str, int]) -> str:
    """A size written out, as its number; an index letter of LaTeX (v_{k}) stays."""
    index = g.string[g.start() - 2:g.start()] == "_{" and g.string[g.end():g.end() + 1] == "}"
    return g.group(0) if index and len(g.group(0)) == 1 else str(_value(g.group(0), sizes))


def test_numbered_writes_the_numbers_back() -> None:
    sizes = {"n": 4, "m": 3, "k": 2}
    assert numbered("Iₙₘ K₍ₙ,ₘ₎ place₍ₙ₊₁,₂ₖ₎(H, [:n, k:]) X[n-1, :]", sizes) == \
        "I₁₂ K₍₄,₃₎ place₍₅,₄₎(H, [:4, 2:]) X[3, :]"
    assert numbered("I_{nm} K_{(n,m)} reshape(H, (2*n, k)) K_(m,min(n,m))", sizes) == \
        "I_{12} K_{(4,3)} reshape(H, (8, 2)) K₍₃,₃₎"
    assert numbered("Σⱼₖ TᵢⱼₖHₖₗ sin(X) L_{logm} \\sum_{k} H_{ijk} v_{k}", sizes) == \
        "Σⱼₖ TᵢⱼₖHₖₗ sin(X) L_{logm} \\sum_{k} H_{ijk} v_{k}"


# ------------------------------------------------------------------ the README's examples
Factory = Callable[..., kv.Expr]


def _factory(mode: str, sizes: dict[str, int] | None) -> Factory:
    """Symbols with sizes as names (``mode`` "named"), as numbers ("sized") or left to inference
    ("inferred"); a shape is written with the letters n, m, k and numbers."""
    def make(name: str, shape: tuple, **flags: Any) -> kv.Expr:
        if mode == "inferred" and len(shape) == 2 and shape[1] == 1 and not flags:
            return kv.Vector(name)
        if mode == "inferred" and len(shape) == 2 and 1 not in shape:
            return kv.Matrix(name, **flags)
        if mode == "sized":
            shape = tuple(sizes[d] if isinstance(d, str) else d for d in shape)  # type: ignore[index]
        return kv.Matrix(name, shape, **flags)
    return make


def _gls(s: Factory) -> tuple[kv.Expr, str]:
    X, V = s("X", ("n", "m")), s("V", ("n", "n"))
    return kv.inv(X.T @ kv.inv(V) @ X).named("F"), "V"


def _bilinear(s: Factory) -> tuple[kv.Expr, str]:
    X, a, b = s("X", ("n", "n")), s("a", ("n", 1)), s("b", ("n", 1))
    return a.T @ kv.inv(X) @ b, "X"


def _least_squares(s: Factory) -> tuple[kv.Expr, str]:
    A, x, y = s("A", ("n", "m")), s("x", ("m", 1)), s("y", ("n", 1))
    return (A @ x - y).T @ (A @ x - y), "x"


def _entries(s: Factory) -> tuple[kv.Expr, str]:
    Y = s("Y", ("n", "m"))
    return kv.sum(Y[1:3, 0] ** (Y[0, 0] * Y[0, 0] + 1.5)), "Y"


def _blocks(s: Factory) -> tuple[kv.Expr, str]:
    Y = s("Y", ("n", "m"))
    return kv.block([[Y, Y[:, :1]], [Y[:1, :], 2.0 ** Y[:1, :1]]]), "Y"


def _factorization(s: Factory) -> tuple[kv.Expr, str]:
    Y, U, W = s("Y", ("n", "m")), s("U", ("n", "k")), s("W", ("m", "k"))
    return kv.sum((Y - U @ W.T) * (Y - U @ W.T)), "U"


def _spd(s: Factory, use: Callable[[kv.Expr], kv.Expr]) -> Callable[[Factory], tuple[kv.Expr, str]]:
    return lambda s: (use(s("S", ("n", "n"), symmetric=True)), "S")


README = {
    "gls": _gls,
    "bilinear_inverse": _bilinear,
    "trace_inverse": lambda s: (kv.trace(kv.inv(s("X", ("n", "n")))), "X"),
    "logdet_gram": lambda s: (kv.logdet(s("X", ("n", "m")).T @ s("X", ("n", "m"))), "X"),
    "least_squares": _least_squares,
    "logdet": lambda s: (kv.logdet(s("X", ("n", "n"))), "X"),
    "entries": _entries,
    "selection": lambda s: (s("Y", ("n", "m"))[1:3, 0], "Y"),
    "blocks": _blocks,
    "factorization": _factorization,
    "cholesky": _spd(None, lambda S: kv.cholesky(S).named("L")),  # type: ignore[arg-type]
    "logdet_cholesky": _spd(None, lambda S: kv.logdet(kv.cholesky(S).named("L"))),  # type: ignore[arg-type]
    "eigenvalues": _spd(None, lambda S: kv.sum(kv.eigh(S)[0])),  # type: ignore[arg-type]
    "trace_sqrtm": _spd(None, lambda S: kv.trace(kv.sqrtm(S))),  # type: ignore[arg-type]
}
SCALAR = {"bilinear_inverse", "trace_inverse", "logdet_gram", "least_squares", "logdet", "entries",
          "factorization", "logdet_cholesky", "eigenvalues", "trace_sqrtm"}


def _values(f: kv.Expr, seed: int) -> dict[str, np.ndarray]:
    values = random_values(f, np.random.default_rng(seed), invertible=set(f.symbols()))
    if "Y" in values:
        values["Y"] = np.abs(values["Y"]) + 0.5  # a real power of Y's entries
    return values


def _built(name: str, mode: str, sizes: dict[str, int] | None = None) -> tuple[kv.Expr, kv.Expr]:
    f, wrt = README[name](_factory(mode, sizes))
    return f, f.symbols()[wrt]


@pytest.mark.parametrize("mode", ["named", "inferred"])
@pytest.mark.parametrize("name", README)
def test_readme_examples_without_sizes(name: str, mode: str) -> None:
    f, x = _built(name, mode)
    J = kv.jacobian(f, x)
    G = kv.grad(f, x) if name in SCALAR else None
    symbols = list(f.symbols().values())
    jvp_code = kv.lambdify(symbols, J)
    value_code = kv.lambdify(symbols, G if G is not None else f)
    for seed, sizes in enumerate(SIZE_SETS):
        fs, xs = _built(name, "sized", sizes)
        Js = kv.jacobian(fs, xs)
        if mode == "named":
            assert numbered(str(J), sizes) == str(Js)
            assert numbered(J.latex(), sizes) == Js.latex()
            assert numbered(J.differential(), sizes) == Js.differential()
            if G is not None:
                assert numbered(str(G), sizes) == str(kv.grad(fs, xs))
                assert numbered(str(kv.hessian(f, x)), sizes) == str(kv.hessian(fs, xs))
        else:  # inferred sizes take letters in order of appearance: the sized form for some lettering
            assert any(numbered(str(J), dict(zip(letters, sizes.values()))) == str(Js)
                       and numbered(J.differential(), dict(zip(letters, sizes.values()))) == Js.differential()
                       for letters in itertools.permutations("nmk")), str(J)
        values = _values(fs, seed)
        args = [values[s.params.name] for s in symbols]
        np.testing.assert_allclose(J.at(values).to_dense(), Js.at(values).to_dense(), rtol=1e-10, atol=1e-12)
        H = np.random.default_rng(seed).standard_normal(xs.shape)
        np.testing.assert_allclose(jvp_code(*args, H), Js.at(values).jvp(H), rtol=1e-9, atol=1e-11)
        reference = kv.evaluate(kv.grad(fs, xs) if G is not None else fs, values)
        np.testing.assert_allclose(value_code(*args), reference, rtol=1e-10, atol=1e-12)
        if G is not None:
            if G.symbols():  # (a gradient without symbols, I_n, takes its sizes from values of symbols)
                np.testing.assert_allclose(kv.evaluate(G, values), reference, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(kv.hessian(f, x).at(values).jvp(H),
                                       kv.hessian(fs, xs).at(values).jvp(H), rtol=1e-9, atol=1e-11)


def test_readme_several_variables_and_eigenvectors_without_sizes() -> None:
    Y, U, W = kv.Matrix("Y", ("n", "m")), kv.Matrix("U", ("n", "k")), kv.Matrix("W", ("m", "k"))
    f = kv.sum((Y - U @ W.T) * (Y - U @ W.T))
    gU, gW = kv.grad(f, [U, W])
    assert str(gU) == "-2(Y - UWᵀ)W"
    Hb = kv.hessian(f, [U, W])
    for n, m, k in ((4, 3, 2), (5, 2, 3)):
        H = Hb.at(Y=np.ones((n, m)), U=np.ones((n, k)), W=np.ones((m, k)))
        assert H.to_dense().shape == ((n + m) * k,) * 2
        assert [h.shape for h in H.jvp((np.ones((n, k)), np.zeros((m, k))))] == [(n, k), (m, k)]
    S = kv.Matrix("S", ("n", "n"), symmetric=True)
    V = kv.eigh(S)[1]
    with pytest.raises(kv.DegenerateError, match="repeated eigenvalue"):
        kv.jacobian(V, S).at(S=2 * np.eye(4))


# ---------------------------------------------- the project's derivative cases, size-free
N, M, K = Dim("n"), Dim("m"), Dim("k")
OP_SIZES = ((3, 2, 4), (2, 4, 3))
# Where the printed form with names is not the sized one, and why.
PRINTED_APART = {
    "svd": "named: both terms of the rectangular SVD (I − UUᵀ, I − VVᵀ) print, as the order of n and m "
           "is open; a sized form prints the one that is not zero",
    "svd_U": "as svd", "svd_Vt": "as svd",
    "solve_triangular": "a coefficient that is a product of names prints in parentheses, (3n) I, "
                        "where its number prints as 9 I",
}
CODE_APART = {"reduce_max": "max_weights of a stack: no generated code, sized or not (refused by name)",
              "reduce_min": "min_weights of a stack: as reduce_max"}
NAMED_OPS = sorted(set(OP_CASES) - set(NOT_NAMED))


def _at(f: kv.Expr, wrt: kv.Expr, dims: tuple, numbers: tuple) -> tuple[kv.Expr, kv.Expr]:
    fs, ws = with_sizes([f, wrt], {int(find(d)): v for d, v in zip(dims, numbers)})
    return fs, ws


@pytest.mark.parametrize("op", NAMED_OPS)
def test_every_op_case_prints_as_the_sized_one_and_generates_code_at_two_sizes(op: str) -> None:
    f, wrt, positive = OP_CASES[op](N, M, K)
    J = kv.jacobian(f, wrt)
    symbols = list(f.symbols().values())
    code = kv.lambdify(symbols, J) if op not in CODE_APART else None
    for seed, numbers in enumerate(OP_SIZES):
        fs, ws = _at(f, wrt, (N, M, K), numbers)
        Js = kv.jacobian(fs, ws)
        sizes = dict(zip("nmk", numbers))
        if op not in PRINTED_APART:
            assert numbered(str(J), sizes) == str(Js)
            assert numbered(J.latex(), sizes) == Js.latex()
            assert numbered(J.differential(), sizes) == Js.differential()
        if code is not None:
            values = random_values(fs, np.random.default_rng(seed), positive=positive)
            H = np.random.default_rng(seed).standard_normal(ws.shape)
            np.testing.assert_allclose(code(*[values[s.params.name] for s in symbols], H),
                                       Js.at(values).jvp(H), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("op", NAMED_OPS)
def test_every_op_case_with_inferred_sizes_binds_at_two_sizes(op: str) -> None:
    dims = (free_dim(), free_dim(), free_dim())
    f, wrt, positive = OP_CASES[op](*dims)
    J = kv.jacobian(f, wrt)  # printed forms as the sized ones, bound at two size sets
    for seed, numbers in enumerate(OP_SIZES):
        fs, ws = _at(f, wrt, dims, numbers)
        Js = kv.jacobian(fs, ws)
        if op not in PRINTED_APART:  # letters in order of appearance: the sized form for some lettering
            assert any(_numbered_or_none(str(J), letters, numbers) == str(Js)
                       and _numbered_or_none(J.latex(), letters, numbers) == Js.latex()
                       and _numbered_or_none(J.differential(), letters, numbers) == Js.differential()
                       for letters in itertools.permutations("nmkp", 3)), str(J)
        values = random_values(fs, np.random.default_rng(seed), positive=positive)
        np.testing.assert_allclose(J.at(values).to_dense(), kv.jacobian(fs, ws).at(values).to_dense(),
                                   rtol=1e-9, atol=1e-11)


def _numbered_or_none(text: str, letters: tuple[str, ...], numbers: tuple[int, ...]) -> str | None:
    try:
        return numbered(text, dict(zip(letters, numbers)))
    except NameError:  # a letter that this lettering gives no number
        return None


# ------------------------------------------------------------ the seed questions, command line
SEED_QUESTIONS = [("inv(X)", "X", {"X": (4, 4)}), ("a.T @ inv(X) @ b", "X", {"X": (4, 4)}),
                  ("trace(inv(X))", "X", {"X": (4, 4)}),
                  ("inv(X.T @ inv(V) @ X)", "V", {"X": (4, 3), "V": (4, 4)}),
                  ("inv(X.T @ inv(V) @ X)", "X", {"X": (4, 3), "V": (4, 4)})]


@pytest.mark.parametrize("question, wrt, shapes", SEED_QUESTIONS)
def test_seed_questions_on_the_command_line_print_as_with_sizes(question: str, wrt: str, shapes: dict,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", question, "--wrt", wrt]) == 0
    free = capsys.readouterr().out
    given = [a for name, (r, c) in shapes.items() for a in ("--shape", f"{name}={r}x{c}")]
    assert main(["derive", question, "--wrt", wrt, *given]) == 0
    sized = capsys.readouterr().out
    forms = [line for line in free.splitlines() if "=" in line and ":" not in line]
    assert forms, free
    sizes = {"n": shapes.get("X", (4, 4))[0], "m": shapes["X"][1]}
    for line in forms:
        assert numbered(line, sizes) in sized
    for drawn in ({"X": (3, 2), "V": (3, 3)}, {"X": (5, 4), "V": (5, 5)}):  # two size sets, one question
        given = [a for name in shapes for a in ("--shape", f"{name}={drawn[name][0]}x{drawn[name][1]}")
                 if name in drawn] if "V" in shapes else ["--shape", f"X={drawn['X'][0]}x{drawn['X'][0]}"]
        assert main(["derive", question, "--wrt", wrt, *given, "--check"]) == 0
        assert "(passed)" in capsys.readouterr().out
