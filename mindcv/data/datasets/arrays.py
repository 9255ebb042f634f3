"""`ArraySource`: a dataset held in memory as one image array (CIFAR, digits)."""

from typing import Sequence, Tuple

import numpy as np

__all__ = ["ArraySource"]


class ArraySource:
    """Random access to `images[i]` (N, H, W, 3 uint8) and `labels[i]` for `GeneratorDataset`."""

    def __init__(self, name: str, images: np.ndarray, labels: np.ndarray, classes: Sequence[str]):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.name = name
        self.images = np.ascontiguousarray(images)
        self.labels = np.asarray(labels, dtype=np.int32)
        self.classes = list(classes)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, np.int32]:
        return self.images[index], self.labels[index]
