"""CIFAR-10/100 from the official binary archives.

The official batches (10,000 records a file) are read by MindSpore's `Cifar10Dataset` /
`Cifar100Dataset`, as in MindCV. Those classes refuse files of any other length, so a CIFAR-format
folder of other sizes (a subset, or the small files tests write) is read here with NumPy. Either
way every file is checked first: the format is fixed-size records (label byte(s) + 3x32x32 planar
pixels), so a file of the wrong size is caught by its length alone.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

import numpy as np

from ...utils.errors import MindCVError
from ..download import download_and_extract
from .arrays import ArraySource
from .native import NativeFiles

__all__ = ["CIFAR_ARCHIVES", "load_cifar"]


@dataclass(frozen=True)
class CifarFormat:
    url: str
    md5: str
    folder: str  # the archive's top-level folder
    train_files: Tuple[str, ...]
    test_files: Tuple[str, ...]
    label_bytes: int  # CIFAR-100 records hold (coarse, fine): the fine label is the last byte
    names_file: str
    num_classes: int

    @property
    def record_size(self) -> int:
        return self.label_bytes + 3 * 32 * 32


CIFAR_ARCHIVES = {
    "cifar10": CifarFormat(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        md5="c32a1d4ab5d03f1284b67883e8d87530",
        folder="cifar-10-batches-bin",
        train_files=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        test_files=("test_batch.bin",),
        label_bytes=1,
        names_file="batches.meta.txt",
        num_classes=10,
    ),
    "cifar100": CifarFormat(
        url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        md5="03b5dce01913d631647c71ecec9e9cb8",
        folder="cifar-100-binary",
        train_files=("train.bin",),
        test_files=("test.bin",),
        label_bytes=2,
        names_file="fine_label_names.txt",
        num_classes=100,
    ),
}
_SPLITS = {"train": "train_files", "val": "test_files", "test": "test_files"}
_OFFICIAL_RECORDS = 10_000  # per file: what MindSpore's CIFAR readers require


def load_cifar(
    name: str, root, split: str = "train", download: bool = False
) -> Union[NativeFiles, ArraySource]:
    """`split` of `name` ("cifar10" or "cifar100") in `root`: the official files for MindSpore's
    reader, or the records themselves for a folder of other sizes.

    `root` is either the archive's folder itself (holding e.g. `data_batch_1.bin`) or its parent
    (holding `cifar-10-batches-bin/`). `val` and `test` both mean the official test batch.
    With `download`, a missing folder is downloaded and extracted into `root`.
    """
    fmt = CIFAR_ARCHIVES[name]
    if split not in _SPLITS:
        raise MindCVError(f"{name} has no split {split!r}; use one of {sorted(_SPLITS)}")
    folder = _find_folder(name, fmt, Path(root).expanduser(), download)
    paths = [folder / f for f in getattr(fmt, _SPLITS[split])]
    counts = [_record_count(path, fmt, name) for path in paths]
    classes = _class_names(folder / fmt.names_file, fmt.num_classes)
    if all(count == _OFFICIAL_RECORDS for count in counts):
        usage = "train" if split == "train" else "test"
        return NativeFiles(name, folder, usage, sum(counts), tuple(classes))
    records = np.concatenate(
        [np.fromfile(path, dtype=np.uint8).reshape(-1, fmt.record_size) for path in paths]
    )
    labels = records[:, fmt.label_bytes - 1].astype(np.int32)
    if labels.max() >= fmt.num_classes:
        raise MindCVError(
            f"{folder} holds label {labels.max()} >= {fmt.num_classes}: not {name} data; "
            "check root or delete the folder and download again"
        )
    images = records[:, fmt.label_bytes :].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return ArraySource(name, images, labels, classes)


def _find_folder(name: str, fmt: CifarFormat, root: Path, download: bool) -> Path:
    if (root / fmt.train_files[0]).is_file():
        return root
    if (root / fmt.folder).is_dir():
        return root / fmt.folder
    if download:
        return download_and_extract(fmt.url, root, fmt.folder, md5=fmt.md5)
    raise MindCVError(
        f"{name} not found: no {root / fmt.folder / fmt.train_files[0]}; "
        f"pass download=True, or root= the folder holding the official binary files"
    )


def _record_count(path: Path, fmt: CifarFormat, name: str) -> int:
    if not path.is_file():
        raise MindCVError(f"{name} file {path} is missing; delete {path.parent} and run with download=True")
    size = path.stat().st_size
    if size == 0 or size % fmt.record_size:
        raise MindCVError(
            f"{name} file {path} has {size} bytes, not a whole number of {fmt.record_size}-byte records "
            f"(truncated or not {name} binary); delete {path.parent} and run with download=True"
        )
    return size // fmt.record_size


def _class_names(path: Path, num_classes: int) -> list:
    """Names from the archive's label file; the class indices as names if it is absent."""
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    return names if len(names) == num_classes else [str(i) for i in range(num_classes)]
