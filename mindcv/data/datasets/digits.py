"""scikit-learn's bundled 8x8 handwritten digits as a small RGB image dataset (no download).

1,797 real images in 10 classes, upscaled (bilinear) to `image_size` x `image_size` RGB uint8,
32 by default so the CIFAR transforms and small-input models apply unchanged. The 80/20
train/val split is stratified with a fixed seed, independent of the training seed, so the
validation set never changes between runs.
"""

from functools import lru_cache
from typing import Tuple

import numpy as np
from PIL import Image

from ...utils.errors import MindCVError
from .arrays import ArraySource

__all__ = ["load_digits_split"]

_SPLITS = ("train", "val", "test")


def load_digits_split(split: str = "train", image_size: int = 32) -> ArraySource:
    """The `train` (1,437 images) or `val`/`test` (the same 360 images) part of the digits."""
    if split not in _SPLITS:
        raise MindCVError(f"digits has no split {split!r}; use one of {list(_SPLITS)}")
    if not isinstance(image_size, int) or image_size < 8:
        raise MindCVError(f"digits image_size must be an integer >= 8, got {image_size!r}")
    images, labels, train_idx, val_idx = _digits(image_size)
    idx = train_idx if split == "train" else val_idx
    return ArraySource("digits", images[idx], labels[idx], [str(d) for d in range(10)])


@lru_cache(maxsize=2)
def _digits(image_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # scikit-learn takes ~0.7 s to import: only pay for it when digits are used.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    gray = np.round(data.images * (255 / 16)).astype(np.uint8)  # pixel values are 0..16
    size = (image_size, image_size)
    big = np.stack([np.asarray(Image.fromarray(g).resize(size, Image.BILINEAR)) for g in gray])
    images = np.repeat(big[..., None], 3, axis=-1)
    labels = data.target.astype(np.int32)
    train_idx, val_idx = train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0
    )
    return images, labels, np.sort(train_idx), np.sort(val_idx)
