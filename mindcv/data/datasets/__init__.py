"""What `create_dataset` reads: random-access sources of (HWC uint8 RGB image, int32 label) for a
`GeneratorDataset`, image-folder listings and `NativeFiles` for MindSpore's own dataset classes."""

from .arrays import ArraySource
from .cifar import CIFAR_ARCHIVES, load_cifar
from .digits import load_digits_split
from .folder import FOLDER_EXTENSIONS, IMG_EXTENSIONS, ImageFolderSource
from .native import NativeFiles, find_mnist

__all__ = [
    "CIFAR_ARCHIVES",
    "FOLDER_EXTENSIONS",
    "IMG_EXTENSIONS",
    "ArraySource",
    "ImageFolderSource",
    "NativeFiles",
    "find_mnist",
    "load_cifar",
    "load_digits_split",
]
