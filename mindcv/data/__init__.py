"""Data: `create_dataset` -> `create_transforms` -> `create_loader`, with MindCV's names.

Per epoch the trainer calls `set_epoch(loader, epoch, start_batch)` before
`loader.create_tuple_iterator(num_epochs=1)`, or iterates `epoch_iterator(loader, epoch, start_batch)`.
"""

from .constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from .dataset_factory import create_dataset, get_dataset_download_root
from .download import download_and_extract
from .engine_thread import start_engine_on_main_thread
from .epochs import epoch_iterator, set_epoch
from .loader import create_loader
from .mixup import Mixup
from .pipeline import get_class_names, get_source
from .sampler import EpochShardSampler
from .transforms_factory import create_transforms

__all__ = [
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "EpochShardSampler",
    "Mixup",
    "create_dataset",
    "create_loader",
    "create_transforms",
    "download_and_extract",
    "epoch_iterator",
    "get_class_names",
    "get_dataset_download_root",
    "get_source",
    "set_epoch",
]

start_engine_on_main_thread()
