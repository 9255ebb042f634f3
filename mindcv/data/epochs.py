"""Per-epoch controls of a built pipeline: the epoch (and first batch) its next iterator yields.

Trainer contract, once per epoch (a fresh one-epoch iterator each time):

    for images, labels in epoch_iterator(loader, epoch, start_batch):   # or:
    set_epoch(loader, epoch, start_batch); it = loader.create_tuple_iterator(num_epochs=1)

Batch `start_batch + k` of epoch `epoch` holds the same samples (and the same mixup/cutmix draw)
whether the epoch ran whole or was resumed at `start_batch`; `len(loader)` stays the full
epoch's batch count. Random transforms (crops, flips) draw from one generator per epoch, so
after skipping they draw differently; to reproduce them exactly, iterate from batch 0 and drop
the first batches, as the trainer does when resuming mid-epoch.
"""

import re
from typing import Iterator

import mindspore.dataset as ds

from ..utils.errors import MindCVError
from .mixup import Mixup
from .pipeline import walk
from .sampler import EpochShardSampler

__all__ = ["epoch_iterator", "set_epoch"]

# A `MindCVError` raised inside the pipeline reaches the caller as a RuntimeError quoting it.
_WRAPPED_ERROR = re.compile(r"MindCVError: (?!Traceback)(.+)")


def set_epoch(dataset, epoch: int, start_batch: int = 0) -> None:
    """Make the next iterator of `dataset` produce epoch `epoch` from batch `start_batch` on.

    Samples before `start_batch * batch_size` are not read at all. Call it before every
    `create_tuple_iterator(num_epochs=1)`; MindSpore snapshots the sampler when it builds an
    iterator. For an unbatched dataset, `start_batch` counts samples. Also reseeds MindSpore's
    dataset RNG with `seed + epoch`.
    """
    batch_size = next((n.batch_size for n in walk(dataset) if isinstance(n, ds.BatchDataset)), 1)
    samplers = [
        n.sampler for n in walk(dataset) if isinstance(getattr(n, "sampler", None), EpochShardSampler)
    ]
    if not samplers:
        raise MindCVError("set_epoch needs a dataset made by mindcv.data.create_dataset")
    for sampler in samplers:
        sampler.set_epoch(epoch, start_batch * batch_size)
    # MindSpore's random augmentations draw from the global dataset seed when the iterator is
    # built: seeding it per epoch makes an epoch's augmentations the same in a resumed run.
    ds.config.set_seed(samplers[0].seed + epoch)
    for node in walk(dataset):
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
