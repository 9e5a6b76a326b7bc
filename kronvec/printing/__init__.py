"""Printing: closed forms in Unicode, LaTeX and the library's Python syntax.

* :mod:`.styles`: the notation that differs between Unicode and LaTeX;
* :mod:`.expressions`: the engine behind each op's ``printing`` entry;
* :mod:`.maps`: maps in the vec convention, and differentials;
* :mod:`.abbreviate`: recurring subexpressions named (``kv.pretty``);
* :mod:`.steps`: derivations step by step.

Importing the package installs it behind ``str(expr)``, ``str(map)`` and the
Jacobian's printing methods (:data:`kronvec.registry.DISPLAY`).
"""
from ..registry import DISPLAY
from .abbreviate import abbreviate, pretty, with_definitions
from .expressions import format_number, to_latex, to_python, to_unicode
from .maps import differential, map_to_latex, map_to_unicode
from .steps import derivation

__all__ = ["to_unicode", "to_latex", "to_python", "map_to_unicode", "map_to_latex", "differential",
           "format_number", "pretty", "abbreviate", "with_definitions", "derivation"]

DISPLAY.unicode, DISPLAY.latex, DISPLAY.python = to_unicode, to_latex, to_python
DISPLAY.map_unicode, DISPLAY.map_latex = map_to_unicode, map_to_latex
DISPLAY.differential, DISPLAY.steps = differential, derivation
