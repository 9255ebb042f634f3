"""`create_loader`: transforms, int32 labels, batching and (training) mixup/cutmix/smoothing."""

from typing import Optional

import mindspore as ms
import mindspore.dataset.transforms as T

from ..utils.errors import MindCVError
from .mixup import Mixup
from .pipeline import get_source, resolve_workers
from .transforms_factory import create_transforms

__all__ = ["create_loader"]


def create_loader(
    dataset,
    batch_size: int,
    drop_remainder: bool = False,
    is_training: bool = False,
    mixup: float = 0.0,
    cutmix: float = 0.0,
    cutmix_prob: float = 0.0,
    num_classes: int = 1000,
    transform=None,
    target_transform=None,
    num_parallel_workers: Optional[int] = None,
    python_multiprocessing: bool = False,
    separate: bool = False,
    label_smoothing: float = 0.0,
    seed: int = 42,
    **kwargs,
):
    """Batches of (float32 NCHW images, labels) from a `create_dataset` dataset.

    `transform` (ops for "image") defaults to `create_transforms(<dataset's name>, is_training)`;
    `target_transform` ops must leave integer class labels. Labels are int32 (B,), except when
    training with `mixup`, `cutmix` or `label_smoothing` > 0: then they are float32 soft labels
    (B, num_classes) summing to 1, already smoothed, so the loss must take soft targets and not
    smooth again. `cutmix_prob` is MindCV's probability that a batch is mixed at all (mixup vs
    cutmix is 50/50 when both are on). Mixing is seeded by (seed, epoch, batch index); random
    transforms (crops, flips, ...) draw from MindSpore's generator (`mindspore.dataset.config.set_seed`)
    and are not replayed exactly on resume.

    Before each epoch, call `set_epoch(loader, epoch, start_batch)` (or iterate
    `epoch_iterator(...)`); `len(loader)` is the full epoch's batch count.
    """
    if kwargs:
        raise MindCVError(f"unknown loader option(s) {sorted(kwargs)}; see create_loader's arguments")
    if separate:
        raise MindCVError("separate=True (AugMix/JSD split batches) is not supported; use separate=False")
    mixing = mixup > 0 or cutmix > 0
    if is_training and mixing and cutmix_prob <= 0:
        raise MindCVError(
            "mixup/cutmix > 0 but cutmix_prob = 0 would never mix; set cutmix_prob (the chance a batch is "
            "mixed, MindCV's meaning), e.g. 1.0"
        )
    workers = resolve_workers(num_parallel_workers)
    if transform is None:
        transform = create_transforms(get_source(dataset).name, is_training=is_training)
    dataset = dataset.map(
        operations=transform,
        input_columns="image",
        num_parallel_workers=workers,
        python_multiprocessing=python_multiprocessing,
    )
    label_ops = _as_list(target_transform) + [T.TypeCast(ms.int32)]
    dataset = dataset.map(operations=label_ops, input_columns="label", num_parallel_workers=workers)
    if is_training and (mixing or label_smoothing > 0):
        mixer = Mixup(
            mixup,
            cutmix,
            prob=cutmix_prob,
            label_smoothing=label_smoothing,
            num_classes=num_classes,
            seed=seed,
        )
        dataset = dataset.batch(
            batch_size,
            drop_remainder=drop_remainder,
            per_batch_map=mixer,
            input_columns=["image", "label"],
            num_parallel_workers=workers,
        )
    else:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, num_parallel_workers=workers)
    dataset.get_dataset_size()  # cached now: later `set_epoch(start_batch>0)` must not change len()
    return dataset


def _as_list(ops) -> list:
    if ops is None:
        return []
    return list(ops) if isinstance(ops, (list, tuple)) else [ops]
