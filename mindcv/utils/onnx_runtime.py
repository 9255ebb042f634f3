"""Moved to `mindcv.engine.onnx_runtime` (it imports mindcv.ops, so it is no leaf helper).

This alias keeps the old import path; import from `mindcv.engine.onnx_runtime`.
"""

from ..engine.onnx_runtime import onnxruntime_forward

__all__ = ["onnxruntime_forward"]
