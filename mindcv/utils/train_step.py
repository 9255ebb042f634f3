"""Moved to `mindcv.engine.train_step` (the training engine's train step).

This alias keeps the old import path; import from `mindcv.engine.train_step`.
"""

from ..engine.train_step import TrainStep, create_trainer

__all__ = ["TrainStep", "create_trainer"]
