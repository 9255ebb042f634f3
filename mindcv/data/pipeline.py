"""Controls and metadata of a built pipeline, found by walking its MindSpore dataset tree.

`create_loader` returns a plain MindSpore dataset; these helpers reach the sampler, the mixup
op and the source inside it, so they work after any further `map`/`batch` a caller adds.

Trainer contract, once per epoch (a fresh one-epoch iterator each time):

    for images, labels in epoch_iterator(loader, epoch, start_batch):   # or:
    set_epoch(loader, epoch, start_batch); it = loader.create_tuple_iterator(num_epochs=1)

Batch `start_batch + k` of epoch `epoch` holds the same samples (and the same mixup/cutmix draw)
whether the epoch ran whole or was resumed at `start_batch`; `len(loader)` stays the full
epoch's batch count. Random transforms (crops, flips) draw from one generator per epoch, so
after skipping they draw differently; to reproduce them exactly, iterate from batch 0 and drop
the first batches, as the trainer does when resuming mid-epoch.
"""

import os
import re
from typing import Iterator, List, Optional

import mindspore.dataset as ds

from ..utils.errors import MindCVError
from .mixup import Mixup
from .sampler import EpochShardSampler

__all__ = ["epoch_iterator", "get_class_names", "get_source", "resolve_workers", "set_epoch"]

# A `MindCVError` raised inside the pipeline reaches the caller as a RuntimeError quoting it.
_WRAPPED_ERROR = re.compile(r"MindCVError: (?!Traceback)(.+)")


def resolve_workers(num_parallel_workers: Optional[int]) -> int:
    """Workers per pipeline stage: `None` means up to 8; never more than the CPU count,
    which MindSpore refuses."""
    cpus = os.cpu_count() or 1
    wanted = 8 if num_parallel_workers is None else num_parallel_workers
    return max(1, min(wanted, cpus))


def _nodes(dataset) -> Iterator:
    yield dataset
    for child in getattr(dataset, "children", []):
        yield from _nodes(child)


def get_source(dataset):
    """The `create_dataset` source under `dataset`: `.classes`, `.name`, `len()`, and for image
    folders `.paths` and `.num_skipped`."""
    for node in _nodes(dataset):
        source = getattr(node, "source", None)
        if isinstance(node, ds.GeneratorDataset) and hasattr(source, "classes"):
            return source
    raise MindCVError("this dataset was not made by mindcv.data.create_dataset; build it with create_dataset")


def get_class_names(dataset) -> List[str]:
    """Class names in label order (image folders: sorted sub-folder names)."""
    return list(get_source(dataset).classes)


def set_epoch(dataset, epoch: int, start_batch: int = 0) -> None:
    """Make the next iterator of `dataset` produce epoch `epoch` from batch `start_batch` on.

    Samples before `start_batch * batch_size` are not read at all. Call it before every
    `create_tuple_iterator(num_epochs=1)`; MindSpore snapshots the sampler when it builds an
    iterator. For an unbatched dataset, `start_batch` counts samples. Also reseeds MindSpore's
    dataset RNG with `seed + epoch`.
    """
    batch_size = next((n.batch_size for n in _nodes(dataset) if isinstance(n, ds.BatchDataset)), 1)
    samplers = [
        n.sampler for n in _nodes(dataset) if isinstance(getattr(n, "sampler", None), EpochShardSampler)
    ]
    if not samplers:
        raise MindCVError("set_epoch needs a dataset made by mindcv.data.create_dataset")
    for sampler in samplers:
        sampler.set_epoch(epoch, start_batch * batch_size)
    # MindSpore's random augmentations draw from the global dataset seed when the iterator is
    # built: seeding it per epoch makes an epoch's augmentations the same in a resumed run.
    ds.config.set_seed(samplers[0].seed + epoch)
    for node in _nodes(dataset):
        if isinstance(getattr(node, "per_batch_map", None), Mixup):
            node.per_batch_map.set_epoch(epoch, start_batch)


def epoch_iterator(dataset, epoch: int, start_batch: int = 0, output_numpy: bool = False) -> Iterator[tuple]:
    """`set_epoch`, then iterate one epoch of (image, label) batches. A `MindCVError` raised in the
    pipeline (e.g. an unreadable image) is re-raised as itself instead of MindSpore's RuntimeError."""
    set_epoch(dataset, epoch, start_batch)
    try:
        yield from dataset.create_tuple_iterator(num_epochs=1, output_numpy=output_numpy)
    except RuntimeError as exc:
        wrapped = _WRAPPED_ERROR.findall(str(exc))
        if wrapped:
            raise MindCVError(wrapped[-1].strip()) from None
        raise
