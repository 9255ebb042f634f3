"""Moved to `mindcv.engine.trainer` (the training engine's epoch loop).

This alias keeps the old import path; import from `mindcv.engine.trainer`.
"""

from ..engine.trainer import RunPosition, Trainer

__all__ = ["RunPosition", "Trainer"]
