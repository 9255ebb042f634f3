"""`EpochShardSampler`: the sample order of an epoch as a pure function of its inputs.

The order depends only on (seed, epoch, num_shards, shard_id), never on how many epochs an
iterator has already produced, so a resumed run sees exactly the data an uninterrupted run would,
and `set_epoch(epoch, start_index)` lets the trainer begin mid-epoch without reading the skipped
samples.
"""

from typing import Optional

import mindspore.dataset as ds
import numpy as np

from ..utils.errors import MindCVError

__all__ = ["EpochShardSampler"]


class EpochShardSampler(ds.Sampler):
    """Shuffled (or sequential) indices of one shard for one epoch.

    Every shard draws the same permutation of all `num_items` indices (seeded by `[seed, epoch]`)
    and takes every `num_shards`-th position starting at `shard_id`, so shards are disjoint.

    - `even_shards=True` (training; the default when `shuffle`): every shard has exactly
      `num_items // num_shards` samples so all ranks run the same number of steps. The
      `num_items % num_shards` leftover samples are the last positions of the epoch's
      permutation, so with shuffling they are different samples each epoch and nothing is
      excluded for good (without shuffling the same tail samples are always left out).
    - `even_shards=False` (evaluation): shard lengths differ by at most one and the shards
      together cover every sample exactly once; aggregate metrics with counts, not means.

    `num_aug_repeats > 1` (repeated augmentation, as MindCV's RepeatAugSampler) repeats each
    permuted index that many times before sharding, so the copies land on different ranks; the
    epoch length stays `num_items // num_shards`. `num_samples` caps the length of each shard
    (the first samples of the epoch's order: a different subset every epoch when shuffled).

    MindSpore deep-copies the sampler when it creates an iterator, so `set_epoch` must be called
    before `create_*_iterator`. An iterator made with `num_epochs > 1` asks its copy for one epoch
    after another and gets epochs `epoch, epoch + 1, ...`, the same orders as fresh iterators.
    """

    def __init__(
        self,
        num_items: int,
        shuffle: bool = True,
        seed: int = 42,
        num_shards: Optional[int] = None,
        shard_id: Optional[int] = None,
        num_samples: Optional[int] = None,
        num_aug_repeats: int = 0,
        even_shards: Optional[bool] = None,
    ):
        if (num_shards is None) != (shard_id is None):
            raise MindCVError("give both num_shards and shard_id, or neither")
        num_shards, shard_id = num_shards or 1, shard_id or 0
        if not 0 <= shard_id < num_shards:
            raise MindCVError(
                f"shard_id {shard_id} is outside [0, {num_shards}); use 0 <= shard_id < num_shards"
            )
        if seed < 0:
            raise MindCVError(f"seed must be >= 0, got {seed}")
        if num_samples is not None and num_samples < 1:
            raise MindCVError(f"num_samples must be >= 1 or None, got {num_samples}")
        self.num_items = num_items
        self.shuffle = shuffle
        self.seed = seed
        self.num_shards = num_shards
        self.shard_id = shard_id
        self.max_samples = num_samples
        self.num_aug_repeats = num_aug_repeats
        self.even_shards = shuffle if even_shards is None else even_shards
        if len(self) == 0:
            raise MindCVError(
                f"shard {shard_id} of {num_shards} gets no samples from a dataset of {num_items}; "
                "use fewer shards or more data"
            )
        self.epoch = 0
        self.start_index = 0
        super().__init__()

    def __len__(self) -> int:
        """Samples per epoch in this shard (a full epoch, whatever `start_index` is)."""
        if self.even_shards or self.num_aug_repeats > 1:
            length = self.num_items // self.num_shards
        else:
            length = len(range(self.shard_id, self.num_items, self.num_shards))
        return length if self.max_samples is None else min(length, self.max_samples)

    def indices(self, epoch: int) -> np.ndarray:
        """This shard's sample indices for `epoch`, in order: a pure function of the settings."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
        else:
            order = np.arange(self.num_items)
        if self.num_aug_repeats > 1:
            order = np.repeat(order, self.num_aug_repeats)
        return order[self.shard_id :: self.num_shards][: len(self)]

    def set_epoch(self, epoch: int, start_index: int = 0) -> None:
        """Make the next iterator yield `indices(epoch)[start_index:]`."""
        if epoch < 0:
            raise MindCVError(f"epoch must be >= 0, got {epoch}")
        if not 0 <= start_index < len(self):
            raise MindCVError(
                f"start index {start_index} is outside the epoch's {len(self)} samples; "
                "a resume at the end of an epoch starts the next epoch at 0"
            )
        self.epoch = epoch
        self.start_index = start_index
        # MindSpore checks that the sampler yields exactly `num_samples` indices.
        self.num_samples = len(self) - start_index

    def __iter__(self):
        order = self.indices(self.epoch)[self.start_index :]
        self.set_epoch(self.epoch + 1)
        return iter(order.tolist())
