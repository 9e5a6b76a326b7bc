"""Lazy linear maps: the base class, the structured terms, the algebra nodes and
the algebra that simplifies them (importing the package installs it)."""
from . import algebra  # noqa: F401  (installs compose/add/scale behind the operators)
from .base import LinearMap, check_composable, expression_factors
from .diagonal import DiagRankOneMap, DiagSandwichMap
from .nodes import ComposeMap, ScaledMap, SumMap, ZeroMap
from .terms import (DiagEmbedMap, DiagExtractMap, ElementwiseMap, ExpmFrechetMap, KronFactorMap,
                    KronMap, KronTMap, TraceMap, commutation_map, identity_map)

__all__ = ["LinearMap", "check_composable", "expression_factors", "ComposeMap", "ScaledMap",
           "SumMap", "ZeroMap", "DiagRankOneMap", "DiagSandwichMap",
           "DiagEmbedMap", "DiagExtractMap", "ElementwiseMap", "ExpmFrechetMap",
           "KronFactorMap", "KronMap", "KronTMap", "TraceMap", "commutation_map", "identity_map"]
