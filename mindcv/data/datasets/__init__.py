"""Random-access sources for `create_dataset`: each yields (HWC uint8 RGB image, int32 label)."""

from .arrays import ArraySource
from .cifar import CIFAR_ARCHIVES, load_cifar
from .digits import load_digits_split
from .folder import FOLDER_EXTENSIONS, IMG_EXTENSIONS, ImageFolderSource
from .mnist import MnistFiles, find_mnist

__all__ = [
    "CIFAR_ARCHIVES",
    "FOLDER_EXTENSIONS",
    "IMG_EXTENSIONS",
    "ArraySource",
    "ImageFolderSource",
    "MnistFiles",
    "find_mnist",
    "load_cifar",
    "load_digits_split",
]
