"""Moved to `mindcv.engine.metrics_log` (the training engine's metrics files).

This alias keeps the old import path; import from `mindcv.engine.metrics_log`.
"""

from ..engine.metrics_log import MetricsLog

__all__ = ["MetricsLog"]
