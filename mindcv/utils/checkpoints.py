"""Moved to `mindcv.engine.checkpoint_manager` (the training engine's manager of a run's checkpoint files).

This alias keeps the old import path; import from `mindcv.engine.checkpoint_manager`.
"""

from ..engine.checkpoint_manager import POLICIES, CheckpointManager

__all__ = ["POLICIES", "CheckpointManager"]
