"""Random-access sources for `create_dataset`: each yields (HWC uint8 RGB image, int32 label)."""

from .arrays import ArraySource
from .cifar import CIFAR_ARCHIVES, load_cifar
from .digits import load_digits_split
from .folder import IMG_EXTENSIONS, ImageFolderSource

__all__ = [
    "CIFAR_ARCHIVES",
    "IMG_EXTENSIONS",
    "ArraySource",
    "ImageFolderSource",
    "load_cifar",
    "load_digits_split",
]
