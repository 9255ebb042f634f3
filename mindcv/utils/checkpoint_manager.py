"""MindCV's import path `mindcv.utils.checkpoint_manager`, kept so MindCV scripts run unchanged;
the class lives in `mindcv.engine.mindcv_checkpoint_manager`."""

from ..engine.mindcv_checkpoint_manager import CheckpointManager

__all__ = ["CheckpointManager"]
