"""Moved to `mindcv.engine.stop_signals` (the training engine's stop requests).

This alias keeps the old import path; import from `mindcv.engine.stop_signals`.
"""

from ..engine.stop_signals import StopSignals

__all__ = ["StopSignals"]
