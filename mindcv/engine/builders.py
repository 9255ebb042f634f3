"""Builders the scripts share: parsed options (an argparse namespace of config.py's or
infer.py's options) to a data loader or to a network holding its weights.

train.py and validate.py build their loaders with `build_loader`; infer.py and export.py their
network with `build_eval_model`. The scripts import these, never each other.
"""

import logging

from ..data import create_dataset, create_loader, create_transforms, get_class_names
from ..models import create_model, get_pretrained_cfg, load_weights, read_checkpoint
from ..utils.errors import MindCVError

__all__ = ["build_eval_model", "build_loader", "mixing_on"]

_logger = logging.getLogger(__name__)


def mixing_on(args) -> bool:
    """Whether training mixes images (mixup or cutmix): labels are then soft and smoothed by the
    loader, not by the loss."""
    return args.mixup > 0 or args.cutmix > 0


def build_loader(args, dist, split: str, is_training: bool, fit_batch_size: bool = False):
    """A loader over this rank's shard of `split`; an unset --num_classes becomes the dataset's.

    `fit_batch_size` (train.py: the user did not choose --batch_size): a default batch larger
    than a dropped-remainder split shrinks to the split, with a warning.
    """
    dataset = create_dataset(
        name=args.dataset,
        root=args.data_dir,
        split=split,
        shuffle=args.shuffle if is_training else args.eval_shuffle,
        even_shards=None if is_training else False,  # validation shards cover every sample once
        num_aug_repeats=args.aug_repeats if is_training else 0,
        num_samples=args.num_samples,
        num_shards=dist.group_size if dist.distributed else None,
        shard_id=dist.rank if dist.distributed else None,
        num_parallel_workers=args.num_parallel_workers,
        download=args.dataset_download,
        seed=args.seed,
        skip_corrupt=args.skip_corrupt,
    )
    drop_remainder = args.drop_remainder if is_training else False
    images = dataset.get_dataset_size()
    if drop_remainder and 0 < images < args.batch_size and fit_batch_size:
        _logger.warning(
            "batch_size: the default %d exceeds the %d images of split '%s' per device; using %d",
            args.batch_size,
            images,
            split,
            images,
        )
        args.batch_size = images
    classes = len(get_class_names(dataset))
    if args.num_classes is None:
        args.num_classes = classes
    if classes != args.num_classes:
        raise MindCVError(
            f"dataset {args.dataset or args.data_dir} has {classes} classes but --num_classes is "
            f"{args.num_classes}; pass --num_classes {classes}"
        )
    views = is_training and args.aug_splits > 0  # AugMix split batches
    transform = create_transforms(
        args.dataset,
        is_training=is_training,
        image_resize=args.image_resize,
        scale=args.scale,
        ratio=args.ratio,
        hflip=args.hflip,
        vflip=args.vflip,
        color_jitter=args.color_jitter,
        interpolation=args.interpolation,
        auto_augment=args.auto_augment,
        mean=args.mean,
        std=args.std,
        re_prob=args.re_prob,
        re_scale=args.re_scale,
        re_ratio=args.re_ratio,
        re_value=args.re_value,
        crop_pct=args.crop_pct,
        re_max_attempts=args.re_max_attempts,
        separate=views,
    )
    mixing = is_training and mixing_on(args)
    loader = create_loader(
        dataset,
        batch_size=args.batch_size,
        drop_remainder=drop_remainder,
        is_training=is_training,
        mixup=args.mixup if is_training else 0.0,
        cutmix=args.cutmix if is_training else 0.0,
        cutmix_prob=args.cutmix_prob,
        num_classes=args.num_classes,
        transform=transform,
        separate=views,
        aug_splits=args.aug_splits,
        num_parallel_workers=args.num_parallel_workers,
        label_smoothing=args.label_smoothing if mixing else 0.0,  # smoothed soft labels come with mixing
        seed=args.seed,
    )
    if loader.get_dataset_size() == 0:
        raise MindCVError(
            f"split '{split}' yields no full batch of {args.batch_size} per device; lower --batch_size"
        )
    return loader


def build_eval_model(args):
    """(network in eval mode, its pretrained cfg, its class count). Without --num_classes the class
    count is the weights'; a classifier that does not fit them is an error, never a random head."""
    if args.pretrained == bool(args.ckpt_path):
        raise MindCVError("choose the weights: give --pretrained or --ckpt_path PATH (exactly one)")
    cfg = get_pretrained_cfg(args.model)  # an unknown model fails here, with suggestions
    num_classes = args.num_classes or cfg.get("num_classes", 1000)
    if args.ckpt_path and not args.num_classes:
        head = read_checkpoint(args.ckpt_path).get(f"{cfg.get('classifier', 'classifier')}.weight")
        num_classes = head.shape[0] if head is not None else num_classes
    network = create_model(args.model, num_classes=num_classes)
    load_weights(network, args.model, args.pretrained, args.ckpt_path, new_head=False)
    network.set_train(False)
    return network, cfg, num_classes
