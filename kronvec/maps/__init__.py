"""Lazy linear maps: the base class, the structured terms, the algebra nodes and
the algebra that simplifies them (importing the package installs it)."""
from . import algebra  # noqa: F401  (installs compose/add/scale behind the operators)
from .base import LinearMap, check_composable, expression_factors
from .sandwich import DiagRankOneMap, DiagSandwichMap
from .nodes import ComposeMap, ScaledMap, SumMap, ZeroMap
from .selection import IndexMap, place_map, select_map
from .terms import (DiagEmbedMap, DiagExtractMap, ElementwiseMap, ExpmFrechetMap, KronFactorMap,
                    KronMap, KronTMap, TraceMap, commutation_map, identity_map)
from .diagonal import KronDiagMap
from .frechet import LogmSecondMap, MatrixFunctionFrechetMap
from .triangular import TriangleMap, TriSolveMap
from . import network  # noqa: F401  (installs dense matrices by one contraction per term)

__all__ = ["LinearMap", "check_composable", "expression_factors", "ComposeMap", "ScaledMap",
           "SumMap", "ZeroMap", "DiagEmbedMap", "DiagExtractMap", "ElementwiseMap", "ExpmFrechetMap",
           "KronFactorMap", "KronMap", "KronTMap", "TraceMap", "commutation_map", "identity_map",
           "IndexMap", "select_map", "place_map",
           "TriangleMap", "TriSolveMap", "MatrixFunctionFrechetMap", "LogmSecondMap",
           "KronDiagMap", "DiagRankOneMap", "DiagSandwichMap"]
