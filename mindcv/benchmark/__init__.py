"""The benchmark harness behind benchmark.py and tools/conv_path_benchmark.py (see `harness`):
each figure measured in a fresh process, reported as the model page's table."""

from .._lazy import lazy_exports

_EXPORTS = {
    "benchmark": "mindcv.benchmark.harness",
    "format_report": "mindcv.benchmark.harness",
    "run_isolated": "mindcv.benchmark.harness",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
