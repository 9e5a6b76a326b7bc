"""The helpers of the op sections, by the module that now holds each (kept so that op
modules written against this one import unchanged; new code imports from those modules):

* :mod:`._evaluation_rules`: evaluation rules (``lift``, ``with_node``, ``constant_value``);
* :mod:`._jvp_rules`: JVP helpers (``map_shapes``, ``identity_jvp``, ``elementwise_jvp``);
* :mod:`._printing_rules`: printing rules (``func_print``, ``py_call``, ``axis_printing``, ...);
* :mod:`._product_factors`: unit factors and stack axes of products;
* :mod:`._structure_rules`: the triangle a node's value lies in, the transpose of entrywise ops;
* :mod:`._code_templates`: pieces of generated code.
"""
from __future__ import annotations

from ..registry import Prec, Printing
from ._code_templates import code_axis, code_eigh, code_for, code_number, code_slice, code_sum, code_transpose
from ._evaluation_rules import NodeInfo, constant_value, lift, matrix_transpose_value, with_node
from ._jvp_rules import elementwise_jvp, identity_jvp, map_shapes, stack_in_shape
from ._printing_rules import (axes_printing, axis_printing, axis_text, call_printing, func_print, py_call,
                              python_number)
from ._product_factors import product_stack, unit_factor
from ._structure_rules import triangle

__all__ = ["lift", "with_node", "constant_value", "io", "identity_jvp", "elementwise_jvp",
           "matrix_transpose_value", "stack_in_shape", "unit_factor", "product_stack",
           "call_printing", "func_print", "py_call", "python_number", "axis_printing", "axes_printing",
           "axis_text", "NodeInfo", "Prec", "Printing", "triangle", "code_number", "code_transpose",
           "code_sum", "code_for", "code_slice", "code_eigh", "code_axis", "map_shapes"]

io = map_shapes  # the old name, for op modules written before the rename
