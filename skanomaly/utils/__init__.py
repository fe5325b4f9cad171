"""Utilities shared by every part of skanomaly: input checks, label helpers,
tensor conversion, and the single import of scikit-learn's private API
(:mod:`skanomaly.utils._compat`)."""

from ._outofcore import score_in_blocks

__all__ = ["score_in_blocks"]
