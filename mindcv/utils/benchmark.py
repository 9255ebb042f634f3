"""Moved to `mindcv.benchmark.harness` (the benchmark harness imports the models, so it is no
leaf helper). This alias keeps the old import path; import from `mindcv.benchmark.harness`.
"""

from ..benchmark.harness import (
    IMAGENET_TRAIN_IMAGES,
    TASKS,
    benchmark,
    format_report,
    measure,
    random_batch,
    run_isolated,
    time_steps,
)

__all__ = [
    "IMAGENET_TRAIN_IMAGES",
    "TASKS",
    "benchmark",
    "format_report",
    "measure",
    "random_batch",
    "run_isolated",
    "time_steps",
]
