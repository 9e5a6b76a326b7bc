"""kronvec's differential fuzzer: random programs over the op registry, each with a NumPy twin.

* :mod:`fuzz.terms` holds the pieces a program is made of (a :class:`~fuzz.terms.Term`
  is an expression, its NumPy/SciPy twin and the guards that keep its point valid)
  and draws shape classes, variables and constants;
* :mod:`fuzz.draw_elementwise` and :mod:`fuzz.draw_linalg` draw one step of a
  program each, named after what they draw;
* :mod:`fuzz.programs` chains steps into a program;
* :mod:`fuzz.checks` runs every check on a program and says which refusals the
  contract documents.

``tests/test_fuzz.py`` drives it; its docstring describes the shape classes, the
checks and the environment variables that make it larger.
"""
