"""Moved to `mindcv.engine.evaluate` (the training engine's evaluation).

This alias keeps the old import path; import from `mindcv.engine.evaluate`.
"""

from ..engine.evaluate import Evaluator, evaluate

__all__ = ["Evaluator", "evaluate"]
