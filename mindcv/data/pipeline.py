"""Metadata of a built pipeline, found by walking its MindSpore dataset tree: its source, class
names, and the worker count a stage may use.

`create_loader` returns a plain MindSpore dataset; `walk` reaches the nodes inside it (the
source, the sampler, the mixup op), so these helpers work after any further `map`/`batch` a
caller adds. The per-epoch controls (`set_epoch`, `epoch_iterator`) are in epochs.py.
"""

import os
from typing import Iterator, List, Optional

from ..utils.errors import MindCVError

__all__ = ["get_class_names", "get_source", "resolve_workers", "walk"]


def resolve_workers(num_parallel_workers: Optional[int]) -> int:
    """Workers per pipeline stage: `None` means up to 8; never more than the CPU count,
    which MindSpore refuses."""
    cpus = os.cpu_count() or 1
    wanted = 8 if num_parallel_workers is None else num_parallel_workers
    return max(1, min(wanted, cpus))


def walk(dataset) -> Iterator:
    """`dataset` and every dataset under it, depth first."""
    yield dataset
    for child in getattr(dataset, "children", []):
        yield from walk(child)


def get_source(dataset):
    """The `create_dataset` source under `dataset` (its `mindcv_source`): `.classes`, `.name`,
    `len()`, and for image folders `.paths` and `.num_skipped`."""
    for node in walk(dataset):
        source = getattr(node, "mindcv_source", None)
        if source is not None:
            return source
    raise MindCVError("this dataset was not made by mindcv.data.create_dataset; build it with create_dataset")


def get_class_names(dataset) -> List[str]:
    """Class names in label order (image folders: sorted sub-folder names)."""
    return list(get_source(dataset).classes)
