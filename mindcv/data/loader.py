"""`create_loader`: transforms, int32 labels, batching and (training) mixup/cutmix/smoothing."""

import inspect
import logging
from typing import Optional

import mindspore as ms
import mindspore.dataset.transforms as T
import numpy as np

from ..utils.errors import MindCVError
from .mixup import Mixup
from .pipeline import get_source, resolve_workers
from .transforms_factory import create_transforms

__all__ = ["create_loader"]

_logger = logging.getLogger(__name__)


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
    aug_splits: int = 3,
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

    `separate=True` takes `create_transforms(..., separate=True)`'s three parts and yields
    MindCV's AugMix split batches: the `batch_size` clean images, then `aug_splits - 1` augmented
    views of them, concatenated ((aug_splits * B, C, H, W), labels repeated), as timm does.
    Evaluation (`is_training=False`) has no splits: `separate` is ignored there, as in MindCV.

    Before each epoch, call `set_epoch(loader, epoch, start_batch)` (or iterate
    `epoch_iterator(...)`); `len(loader)` is the full epoch's batch count.
    """
    if kwargs:
        raise MindCVError(f"unknown loader option(s) {sorted(kwargs)}; see create_loader's arguments")
    separate = separate and is_training
    mixing = mixup > 0 or cutmix > 0
    if is_training and mixing and cutmix_prob <= 0:
        _logger.warning(
            "mixup/cutmix > 0 but cutmix_prob = 0: no batch will be mixed; set cutmix_prob (the chance "
            "a batch is mixed, MindCV's meaning), e.g. 1.0"
        )
    if separate and (mixing or label_smoothing > 0 or aug_splits < 2):
        raise MindCVError(
            "separate=True (AugMix split batches, train.py's --aug_splits) needs aug_splits >= 2 and "
            "works without mixup, cutmix and label_smoothing in the loader; drop those or the splits"
        )
    workers = resolve_workers(num_parallel_workers)
    if "fine_label" in dataset.get_col_names():  # MindSpore's Cifar100Dataset: the fine label is the class
        dataset = dataset.project(["image", "fine_label"]).rename(["fine_label"], ["label"])
    if transform is None:
        transform = create_transforms(get_source(dataset).name, is_training=is_training)
    if separate:
        dataset, views = _split_views(dataset, transform, aug_splits, workers, python_multiprocessing)
    else:
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
    elif separate:
        dataset = dataset.batch(
            batch_size,
            drop_remainder=drop_remainder,
            per_batch_map=_ConcatViews(len(views)),
            input_columns=[*views, "label"],
            output_columns=["image", "label"],
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


def _split_views(dataset, transform, splits: int, workers: int, python_multiprocessing: bool):
    """Columns "image" (primary + final ops) and image_aug1.. (primary + secondary + final)."""
    if not (isinstance(transform, tuple) and len(transform) == 3):
        raise MindCVError(
            "separate=True needs the (primary, secondary, final) parts of create_transforms(..., "
            "is_training=True, separate=True) as transform"
        )
    primary, secondary, final = (list(part) for part in transform)
    options = {"num_parallel_workers": workers, "python_multiprocessing": python_multiprocessing}
    dataset = dataset.map(operations=primary, input_columns="image", **options)
    views = [f"image_aug{i}" for i in range(1, splits)]
    for view in views:
        dataset = dataset.map(operations=T.Duplicate(), input_columns="image", output_columns=["image", view])
        dataset = dataset.map(operations=secondary + final, input_columns=view, **options)
    dataset = dataset.map(operations=final, input_columns="image", **options)
    return dataset, ["image", *views]


class _ConcatViews:
    """`per_batch_map`: the views of a batch one after the other, labels repeated to match."""

    def __init__(self, views: int):
        # MindSpore checks that a per_batch_map takes one argument per column plus BatchInfo.
        names = [f"view{i}" for i in range(views)] + ["label", "batch_info"]
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in names]
        )

    def __call__(self, *columns):
        *views, labels, _ = columns
        images = np.concatenate([np.stack(view) for view in views])
        return images, np.tile(np.asarray(labels).reshape(-1), len(views))
