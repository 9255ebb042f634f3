"""`create_transforms`: MindCV's train/eval image recipes as MindSpore C++ vision ops.

Image folders from `create_dataset` are MindSpore's `ImageFolderDataset` of encoded files, so
their recipes (ImageNet's) start with `Decode`, as MindCV's; CIFAR, digits and MNIST yield pixels.
Every recipe ends with `Normalize` (0-255 mean/std) and `HWC2CHW`: float32 CHW out.
"""

import difflib
from typing import List, Sequence, Tuple, Union

import mindspore.dataset.vision as vision

from ..utils.errors import MindCVError
from .auto_augment import auto_augment_op
from .constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

__all__ = ["create_transforms"]

_INTERPOLATION = {
    "bilinear": vision.Inter.BILINEAR,
    "bicubic": vision.Inter.BICUBIC,
    "nearest": vision.Inter.NEAREST,
    "area": vision.Inter.AREA,
}
_IMAGENET_LIKE = ("", "imagenet")
_SMALL_IMAGES = ("cifar10", "cifar100", "digits")
_MNIST_MEAN, _MNIST_STD = (0.1307 * 255,), (0.3081 * 255,)  # MindCV's MNIST normalization


def create_transforms(
    dataset_name: str = "",
    is_training: bool = False,
    image_resize: int = 224,
    scale: Tuple[float, float] = (0.08, 1.0),
    ratio: Tuple[float, float] = (0.75, 1.333),
    hflip: float = 0.5,
    vflip: float = 0.0,
    color_jitter: Union[float, Sequence[float], None] = 0.4,
    interpolation: str = "bilinear",
    auto_augment: str = None,
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
    re_prob: float = 0.0,
    re_scale: Tuple[float, float] = (0.02, 0.33),
    re_ratio: Tuple[float, float] = (0.3, 3.3),
    re_value: Union[int, str] = 0,
    crop_pct: float = 0.875,
    re_max_attempts: int = 10,
    separate: bool = False,
    **kwargs,
):
    """The list of ops to `map` over the "image" column; output float32 (3, image_resize, image_resize).

    - ImageNet / ImageFolder ("" or "imagenet"), train: decode, random-resized crop (`scale`,
      `ratio`), flips, `auto_augment` (timm string, see `auto_augment.py`) or else colour jitter,
      normalize, CHW, random erasing (`re_prob`). Eval: decode, resize the short side to
      `image_resize / crop_pct`, centre crop.
    - CIFAR-10/100, digits, train: resize to `image_resize`, random crop with `image_resize // 8`
      padding (pad-4 at 32), flips, optional `auto_augment`, normalize, CHW, random erasing; no
      colour jitter (MindCV's CIFAR recipe has none). Eval: resize to `image_resize` only. Digits
      change meaning when mirrored: pass `hflip=0` for them.
    - MNIST (grey, one channel out), train and eval: resize to `image_resize`, MNIST's mean/std.

    `mean`/`std` default to ImageNet's for every dataset: normalization must follow the weights
    being fine-tuned, so CIFAR statistics are only used when asked for. `re_max_attempts` is
    how often random erasing tries to place a box before leaving the image as is.

    `separate=True` (training) returns MindCV's three parts instead of one list: (decode, crop and
    flips; the augmentation; normalize and the rest), for `create_loader(separate=True)`'s AugMix
    splits. Evaluation has no splits: there, as in MindCV, `separate` changes nothing.
    """
    if kwargs:
        raise MindCVError(f"unknown transform option(s) {sorted(kwargs)}; see create_transforms' arguments")
    if interpolation not in _INTERPOLATION:
        raise MindCVError(f"unknown interpolation {interpolation!r}; use one of {list(_INTERPOLATION)}")
    inter = _INTERPOLATION[interpolation]
    name = dataset_name.lower()
    if name in _IMAGENET_LIKE:
        if not is_training:
            return [
                vision.Decode(),
                vision.Resize(int(image_resize / crop_pct), inter),
                vision.CenterCrop(image_resize),
                *_to_tensor(mean, std),
            ]
        head = [vision.Decode(), vision.RandomResizedCrop(image_resize, tuple(scale), tuple(ratio), inter)]
        colour = _colour_jitter(color_jitter) if not auto_augment else []
    elif name in _SMALL_IMAGES:
        resize = vision.Resize((image_resize, image_resize), inter)
        if not is_training:
            return [resize, *_to_tensor(mean, std)]
        head = [resize, vision.RandomCrop(image_resize, padding=image_resize // 8)]
        colour = []
    elif name == "mnist":
        return [vision.Resize((image_resize, image_resize), inter), *_to_tensor(_MNIST_MEAN, _MNIST_STD)]
    else:
        known = (*_SMALL_IMAGES, "mnist")
        close = difflib.get_close_matches(name, _IMAGENET_LIKE + known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise MindCVError(f"no transforms for dataset {dataset_name!r}; {hint}use one of {known} or imagenet")
    flips = [vision.RandomHorizontalFlip(hflip)] if hflip > 0 else []
    flips += [vision.RandomVerticalFlip(vflip)] if vflip > 0 else []
    augment = [auto_augment_op(auto_augment, inter)] if auto_augment else colour
    erase = (
        [
            vision.RandomErasing(
                float(re_prob), tuple(re_scale), tuple(re_ratio), re_value, False, re_max_attempts
            )
        ]
        if re_prob > 0
        else []
    )
    parts = [*head, *flips], augment, [*_to_tensor(mean, std), *erase]
    return parts if separate else [op for part in parts for op in part]


def _to_tensor(mean, std) -> List:
    return [vision.Normalize(list(mean), list(std)), vision.HWC2CHW()]


def _colour_jitter(color_jitter) -> List:
    """A float jitters brightness, contrast and saturation alike; a 3- or 4-tuple sets each (and hue)."""
    if not color_jitter:
        return []
    values = (color_jitter,) * 3 if isinstance(color_jitter, (int, float)) else tuple(color_jitter)
    return [vision.RandomColorAdjust(*values)]
