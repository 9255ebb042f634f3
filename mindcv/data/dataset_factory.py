"""`create_dataset`: a named dataset as MindSpore's own dataset object (as MindCV returns it) with
an epoch/shard-exact order.

Image folders are `ImageFolderDataset` (encoded images: the transforms start with `Decode`), MNIST
`MnistDataset`, the official CIFAR batches `Cifar10Dataset`/`Cifar100Dataset`; digits and CIFAR
folders of other sizes, which we read ourselves (see datasets/cifar.py), are a `GeneratorDataset`.
What we add rides on that object: our `EpochShardSampler` as its sampler, and the source's
metadata (class names, file list, skip count) as its `mindcv_source` attribute.
"""

import difflib
from pathlib import Path
from typing import Optional

import mindspore.dataset as ds

from ..utils.download import get_mindcv_home
from ..utils.errors import MindCVError
from .datasets import (
    CIFAR_ARCHIVES,
    FOLDER_EXTENSIONS,
    ImageFolderSource,
    NativeFiles,
    find_mnist,
    load_cifar,
    load_digits_split,
)
from .pipeline import resolve_workers
from .sampler import EpochShardSampler

__all__ = ["create_dataset", "get_dataset_download_root"]


def get_dataset_download_root() -> Path:
    """`$MINDCV_HOME/datasets` (default `~/.cache/mindcv/datasets`); dataset `name` goes in
    `<this>/<name>` when `create_dataset` gets no `root`."""
    return get_mindcv_home() / "datasets"


def _image_folder(name, root, split, download, skip_corrupt):
    folder = Path(root) / split
    if download and not folder.is_dir():
        raise MindCVError(
            f"{name or 'ImageFolder'} data cannot be downloaded; put it at {folder}/<class>/<image> "
            "and pass root="
        )
    return ImageFolderSource(name, folder, skip_corrupt)


def _cifar(name, root, split, download, skip_corrupt):
    return load_cifar(name, root, split, download)


def _digits(name, root, split, download, skip_corrupt, image_size: int = 32):
    return load_digits_split(split, image_size)


def _mnist(name, root, split, download, skip_corrupt):
    return find_mnist(root, split, download)


_BUILDERS = {"": _image_folder, "imagenet": _image_folder, "digits": _digits, "mnist": _mnist}
_BUILDERS.update(dict.fromkeys(CIFAR_ARCHIVES, _cifar))
_OPTIONS = {"digits": ("image_size",)}  # dataset-specific keyword options


class _SourceDataset(ds.GeneratorDataset):
    """A GeneratorDataset that answers `get_class_indexing()` (and so does every dataset built on
    it) with the class -> label map, as MindSpore's ImageFolderDataset does in MindCV."""

    def get_class_indexing(self):
        return {name: label for label, name in enumerate(self.source.classes)}


_NATIVE_READERS = {"mnist": ds.MnistDataset, "cifar10": ds.Cifar10Dataset, "cifar100": ds.Cifar100Dataset}


def _mindspore_dataset(source, sampler, workers: int):
    """MindSpore's dataset object for `source`, drawing its samples from `sampler`."""
    if isinstance(source, ImageFolderSource):
        return ds.ImageFolderDataset(
            str(source.folder),
            sampler=sampler,
            num_parallel_workers=workers,
            extensions=FOLDER_EXTENSIONS,
            decrypt=source.read,  # reads each file where a failure can name it
        )
    if isinstance(source, NativeFiles):
        reader = _NATIVE_READERS[source.name]
        return reader(str(source.folder), source.usage, sampler=sampler, num_parallel_workers=workers)
    return _SourceDataset(
        source,
        column_names=["image", "label"],
        sampler=sampler,
        num_parallel_workers=workers,
        python_multiprocessing=False,  # threads: the arrays are shared, not copied per worker
    )


def create_dataset(
    name: str = "",
    root: Optional[str] = None,
    split: str = "train",
    shuffle: bool = True,
    num_samples: Optional[int] = None,
    num_shards: Optional[int] = None,
    shard_id: Optional[int] = None,
    num_parallel_workers: Optional[int] = None,
    download: bool = False,
    num_aug_repeats: int = 0,
    seed: int = 42,
    skip_corrupt: bool = False,
    **kwargs,
):
    """Dataset `name` with columns ("image", "label"), one shard's worth, as MindSpore's object.

    Names: `imagenet` or "" (any ImageFolder tree `root/<split>/<class>/<image>`: MindSpore's
    `ImageFolderDataset`, "image" holds the encoded file), `mnist` (the four idx files in `root`:
    `MnistDataset`, HW1 uint8), `cifar10`, `cifar100` (binary archives; `val`/`test` = test
    batch; `download=True` fetches them once per host; the official files are MindSpore's
    `Cifar10Dataset`/`Cifar100Dataset`, whose CIFAR-100 labels are "coarse_label", "fine_label"),
    `digits` (scikit-learn's bundled digits, 80/20 split; option `image_size=32`); these three
    are HWC uint8 RGB. Without `root`,
    data lives in `get_dataset_download_root()/<name>`.

    Order and sharding are `EpochShardSampler`'s (see it): a pure function of (seed, epoch,
    num_shards, shard_id); `even_shards=` (default: `shuffle`) picks equal-length training shards
    over evaluation shards that cover every sample once. `len(dataset)` is this shard's epoch
    length; use `set_epoch`/`epoch_iterator` per epoch and `get_class_names` (or MindCV's
    `dataset.get_class_indexing()`) for the classes.
    `skip_corrupt` replaces unreadable images (logged, counted) instead of stopping the run.
    """
    key = name.lower()
    if key not in _BUILDERS:
        close = difflib.get_close_matches(key, [k for k in _BUILDERS if k], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(k for k in _BUILDERS if k)
        raise MindCVError(f"unknown dataset {name!r}; {hint}known: {known}, or '' for any ImageFolder tree")
    even_shards = kwargs.pop("even_shards", None)
    allowed = _OPTIONS.get(key, ())
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise MindCVError(
            f"unknown option(s) {unknown} for dataset {name!r}; allowed: {[*allowed, 'even_shards']}"
        )
    root = Path(root).expanduser() if root else get_dataset_download_root() / (key or "imagefolder")
    source = _BUILDERS[key](key, root, split, download, skip_corrupt, **kwargs)
    sampler = EpochShardSampler(
        len(source), shuffle, seed, num_shards, shard_id, num_samples, num_aug_repeats, even_shards
    )
    dataset = _mindspore_dataset(source, sampler, resolve_workers(num_parallel_workers))
    dataset.mindcv_source = source
    dataset.get_dataset_size()  # cached now: later `set_epoch(start>0)` must not change len()
    return dataset
