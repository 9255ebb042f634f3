"""MindCV's import path `mindcv.utils.callbacks` (`StateMonitor`, `ValCallback` for
`mindspore.Model.train`); the implementation is in `mindcv.engine.model_api`."""

from ..engine.model_api import StateMonitor, ValCallback

__all__ = ["StateMonitor", "ValCallback"]
