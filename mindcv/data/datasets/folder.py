"""`ImageFolderSource`: images in `<folder>/<class>/<file>`, decoded where errors can name the file.

Decoding happens here with Pillow rather than in MindSpore's C++ `Decode` op because only here
do we know which file failed: an unreadable image either stops the run with its path or, with
`skip_corrupt`, is replaced and counted. Pillow releases the GIL while decoding, so the
`GeneratorDataset` worker threads decode in parallel (measured on par with C++ `Decode`).
"""

import logging
import os
import threading
from pathlib import Path
from typing import Tuple

import numpy as np
from PIL import Image

from ...utils.errors import MindCVError

__all__ = ["IMG_EXTENSIONS", "ImageFolderSource"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)

_logger = logging.getLogger(__name__)


class ImageFolderSource:
    """Every image under `folder/<class>/` with the class index of its sorted sub-folder name.

    With `skip_corrupt`, an unreadable file is logged once (with the running count, also in
    `num_skipped`) and the next readable sample in index order is returned in its place, so
    epoch lengths, shard lengths and batch positions stay what the sampler promised.
    """

    def __init__(self, name: str, folder, skip_corrupt: bool = False):
        folder = Path(folder)
        if not folder.is_dir():
            raise MindCVError(
                f"image folder {folder} does not exist; root must hold <split>/<class>/<image> "
                "files, check root and split"
            )
        self.name = name
        self.folder = folder
        self.classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
        paths, labels = [], []
        for label, cls in enumerate(self.classes):
            files = sorted(
                e.name for e in os.scandir(folder / cls) if e.name.lower().endswith(IMG_EXTENSIONS)
            )
            paths += [str(folder / cls / f) for f in files]
            labels += [label] * len(files)
        if not paths:
            raise MindCVError(
                f"image folder {folder} holds no images in class sub-folders "
                f"({folder}/<class>/*.jpg, .png, ...); check root and split"
            )
        self.paths = paths
        self.labels = np.asarray(labels, dtype=np.int32)
        self.skip_corrupt = skip_corrupt
        self._skipped = set()
        self._lock = threading.Lock()

    @property
    def num_skipped(self) -> int:
        """Distinct unreadable files skipped so far."""
        return len(self._skipped)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, np.int32]:
        for offset in range(len(self.paths)):
            i = (int(index) + offset) % len(self.paths)
            try:
                return _decode_rgb(self.paths[i]), self.labels[i]
            except _DECODE_ERRORS as exc:
                reason = " ".join(str(exc).split())
                if not self.skip_corrupt:
                    raise MindCVError(
                        f"cannot read image {self.paths[i]} ({reason}); delete or replace it, "
                        "or pass skip_corrupt=True to skip unreadable images"
                    ) from exc
                self._note_skip(self.paths[i], reason)
        raise MindCVError(f"no image under {self.folder} can be read; check the files")

    def _note_skip(self, path: str, reason: str) -> None:
        with self._lock:
            if path in self._skipped:
                return
            self._skipped.add(path)
            count = len(self._skipped)
        _logger.warning("skipped unreadable image %s (%s); %d image(s) skipped so far", path, reason, count)


def _decode_rgb(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
