"""Data files one of MindSpore's own dataset classes reads (`NativeFiles`), and MNIST's.

For MNIST and the official CIFAR batches MindSpore reads the files; we find and check them first,
map our split names onto MindSpore's `usage`, and count the samples for the sampler, so a damaged
or misplaced file stops with one line instead of an error deep in the pipeline.
"""

import struct
from dataclasses import dataclass
from pathlib import Path

from ...utils.errors import MindCVError

__all__ = ["NativeFiles", "find_mnist"]

_USAGE = {"train": "train", "val": "test", "test": "test"}
_PREFIX = {"train": "train", "test": "t10k"}
_IMAGE_MAGIC = 2051


@dataclass(frozen=True)
class NativeFiles:
    """The files of dataset `name` in `folder` that MindSpore's own class reads for `usage`."""

    name: str
    folder: Path
    usage: str  # MindSpore's: "train" or "test"
    length: int
    classes: tuple

    def __len__(self) -> int:
        return self.length


def find_mnist(root, split: str, download: bool = False) -> NativeFiles:
    """The MNIST files of `split` (`val` and `test` are the 10k test set) in `root`."""
    if split not in _USAGE:
        raise MindCVError(f"mnist has no split {split!r}; use one of {sorted(_USAGE)}")
    usage = _USAGE[split]
    images = Path(root) / f"{_PREFIX[usage]}-images-idx3-ubyte"
    if not images.is_file():
        how = "downloading MNIST is not supported (its site is gone); " if download else ""
        raise MindCVError(
            f"mnist not found: no {images}; {how}put the four uncompressed idx files "
            "(train-images-idx3-ubyte, ...) in root"
        )
    with open(images, "rb") as f:
        header = f.read(8)
    magic, count = struct.unpack(">II", header) if len(header) == 8 else (0, 0)
    if magic != _IMAGE_MAGIC or count == 0:
        raise MindCVError(f"{images} is not an MNIST idx image file; replace it with the original")
    return NativeFiles("mnist", Path(root), usage, count, tuple(str(d) for d in range(10)))
