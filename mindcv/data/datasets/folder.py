"""`ImageFolderSource`: the files of `<folder>/<class>/<file>` as MindSpore's `ImageFolderDataset`
lists them, and the reader that dataset calls for each file (its `decrypt` hook).

MindSpore decodes in C++ (`Decode`, the first transform) and cannot say which file failed; the
reader gets the path, so it checks that the file decodes (Pillow, JPEGs at 1/8 scale: cheap) and
either stops the run naming it or, with `skip_corrupt`, hands over the next readable file instead.
"""

import io
import logging
import os
import threading
from pathlib import Path

from PIL import Image

from ...utils.errors import MindCVError

__all__ = ["FOLDER_EXTENSIONS", "IMG_EXTENSIONS", "ImageFolderSource"]

# What MindSpore's C++ `Decode` reads; `ImageFolderDataset` matches extensions case-sensitively.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
FOLDER_EXTENSIONS = [*IMG_EXTENSIONS, *(e.upper() for e in IMG_EXTENSIONS)]
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)

_logger = logging.getLogger(__name__)

# Pillow imports its format plugins on the first file it cannot identify. Inside a pipeline
# thread that import could wait forever on the import lock, held by a thread in which the garbage
# collector is stopping an old MindSpore iterator that waits for this one: import them now.
Image.init()


class ImageFolderSource:
    """Every image under `folder/<class>/` with the class index of its sorted sub-folder name, in
    `ImageFolderDataset`'s order (so sampler indices mean the same files).

    With `skip_corrupt`, an unreadable file is logged once (with the running count, also in
    `num_skipped`) and the next readable file in index order is read in its place, so epoch
    lengths, shard lengths and batch positions stay what the sampler promised.
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
        self.classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
        paths = []
        for cls in self.classes:
            files = sorted(
                e.name for e in os.scandir(folder / cls) if e.name.endswith(tuple(FOLDER_EXTENSIONS))
            )
            paths += [str(folder / cls / f) for f in files]
        if not paths:
            raise MindCVError(
                f"image folder {folder} holds no images in class sub-folders "
                f"({folder}/<class>/*.jpg, .png, ...); check root and split"
            )
        self.paths = paths
        self._index = {path: i for i, path in enumerate(paths)}
        self.skip_corrupt = skip_corrupt
        self._skipped = set()
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):
        # MindSpore deep-copies a pipeline (and so its `decrypt` reader) when it builds an
        # iterator: one shared reader keeps a single skip count and lock.
        return self

    @property
    def num_skipped(self) -> int:
        """Distinct unreadable files skipped so far."""
        return len(self._skipped)

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, path: str) -> bytes:
        """The bytes of the image at `path` (or, with `skip_corrupt`, of the next readable one)."""
        start = self._index[os.path.normpath(path)]
        for offset in range(len(self.paths)):
            candidate = self.paths[(start + offset) % len(self.paths)]
            try:
                return _checked_bytes(candidate)
            except _DECODE_ERRORS as exc:
                reason = " ".join(str(exc).split())
                if not self.skip_corrupt:
                    raise MindCVError(
                        f"cannot read image {candidate} ({reason}); delete or replace it, "
                        "or pass skip_corrupt=True to skip unreadable images"
                    ) from exc
                self._note_skip(candidate, reason)
        raise MindCVError(f"no image under {self.folder} can be read; check the files")

    def _note_skip(self, path: str, reason: str) -> None:
        with self._lock:
            if path in self._skipped:
                return
            self._skipped.add(path)
            count = len(self._skipped)
        _logger.warning("skipped unreadable image %s (%s); %d image(s) skipped so far", path, reason, count)


def _checked_bytes(path: str) -> bytes:
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))  # JPEG: decode at 1/8
        image.load()
    return data
