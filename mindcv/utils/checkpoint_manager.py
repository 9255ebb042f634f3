"""Moved to `mindcv.engine.mindcv_checkpoint_manager` (MindCV's API over the engine's manager).

This alias keeps the old import path; MindCV's own, `from mindcv.utils import CheckpointManager`,
is a lazy re-export in `mindcv/utils/__init__.py`.
"""

from ..engine.mindcv_checkpoint_manager import CheckpointManager

__all__ = ["CheckpointManager"]
