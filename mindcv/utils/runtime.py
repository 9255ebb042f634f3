"""Moved to `mindcv.engine.runtime` (the training engine's process set-up, which imports mindcv.ops).

This alias keeps the old import path; import from `mindcv.engine.runtime`.
"""

from ..engine.runtime import (
    compile_cache_folder,
    enable_compile_cache,
    init_runtime,
    limit_onednn_isa,
    resolve_device_target,
    source_digest,
)

__all__ = [
    "compile_cache_folder",
    "enable_compile_cache",
    "init_runtime",
    "limit_onednn_isa",
    "resolve_device_target",
    "source_digest",
]
