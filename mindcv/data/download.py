"""`download_and_extract`: fetch a dataset archive once per host and unpack it atomically.

The archive download itself is `mindcv.utils.download.download_url` (locked, MD5-checked, renamed
when complete). Extraction goes into a temporary folder beside the target that is renamed only
once complete, under a lock on the root folder, so concurrent ranks extract once and a crash
never leaves a half-extracted folder that a later run would take for the data.
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from ..utils.download import directory_lock, download_url
from ..utils.errors import MindCVError

__all__ = ["download_and_extract"]


def download_and_extract(url: str, root, folder: str, md5: Optional[str] = None) -> Path:
    """Return `root/folder`, made from the tar archive at `url` whose top-level folder is `folder`.

    If `root/folder` exists nothing is downloaded or checked (its files are validated by the
    reader). The archive is kept in `root`, so a deleted folder is re-extracted offline.
    """
    root = Path(root).expanduser()
    target = root / folder
    if target.is_dir():  # it only ever appears complete, by rename
        return target
    # download_url locks `root` itself while fetching, so it runs before (not inside) our lock.
    archive = Path(download_url(url, root, md5=md5))
    with directory_lock(root):
        if target.is_dir():  # another process extracted it while we waited
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".extract-{folder}-", dir=root))
        try:
            _extract(archive, staging)
            if not (staging / folder).is_dir():
                raise MindCVError(
                    f"archive {archive} has no top-level folder {folder}/ (removed); check the URL {url}"
                )
            os.replace(staging / folder, target)
        except MindCVError:
            archive.unlink(missing_ok=True)  # a bad archive must not be reused by the next run
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _extract(archive: Path, dst: Path) -> None:
    """Unpack regular files and folders only, refusing paths that would escape `dst`."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dst, members=_safe_members(tar, archive))
    except (tarfile.TarError, OSError, EOFError) as exc:
        reason = " ".join(str(exc).split())  # tarfile's messages span lines; ours is one
        raise MindCVError(
            f"cannot extract {archive} ({reason}); it was removed: run again to download it"
        ) from exc


def _safe_members(tar: tarfile.TarFile, archive: Path) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        parts = Path(member.name).parts
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise MindCVError(
                f"archive {archive} holds an unsafe entry {member.name!r} (removed); check its source"
            )
        yield member
