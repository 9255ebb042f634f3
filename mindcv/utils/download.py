"""Atomic, resumable-safe downloads shared by pretrained weights and datasets.

A download streams into a temporary file in the destination folder and is renamed only once it
is complete, matches its MD5 (when known) and passes the caller's check, so an interrupted or
failed transfer never leaves a file that later runs would mistake for good data. An exclusive
lock on the destination folder makes concurrent processes on one host (data-parallel ranks)
download once: the first fetches, the others wait and then find the file in place. `DownLoad`
is MindCV's class interface to the same functions.
"""

import bz2
import contextlib
import fcntl
import gzip
import hashlib
import http.client
import os
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Optional

from .atomic import atomic_write_bytes
from .errors import MindCVError
from .progress import progress_bar

_CHUNK = 1 << 20


def get_mindcv_home() -> Path:
    """Root of every cache: `$MINDCV_HOME`, else `~/.cache/mindcv`."""
    return Path(os.environ.get("MINDCV_HOME") or Path.home() / ".cache" / "mindcv").expanduser()


def file_md5(path, chunk_size: int = _CHUNK) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def directory_lock(
    path, timeout: Optional[float] = None, waiting: Optional[Callable[[], None]] = None
) -> Iterator[None]:
    """Hold an exclusive advisory lock on the folder `path` for the block's duration.

    Locking the folder itself (not a lock file) leaves nothing behind in it. With a `timeout`
    (seconds), another holder is waited for at most that long (then TimeoutError), `waiting()`
    being called once when the wait starts, to say what it waits for.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            _lock_within(fd, timeout, waiting)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _lock_within(fd: int, timeout: float, waiting: Optional[Callable[[], None]]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"another process held the lock for over {timeout:.0f} s") from None
            if waiting is not None:
                waiting()
                waiting = None
            time.sleep(0.2)


def download_url(
    url: str,
    dst_dir,
    filename: Optional[str] = None,
    md5: Optional[str] = None,
    check: Optional[Callable[[str], None]] = None,
    timeout: float = 60.0,
) -> str:
    """Return the local path of `url` in `dst_dir`, downloading it only if it is not there.

    A file already present is trusted when its MD5 matches (or no MD5 is given): no network
    access happens at all. `check(path)` may raise to reject a downloaded file (e.g. a checkpoint
    that does not load); the file is then removed and a `MindCVError` is raised.
    """
    dst_dir = Path(dst_dir).expanduser()
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / (filename or Path(urllib.parse.urlparse(url).path).name)
    with directory_lock(dst_dir):
        if not (dst.is_file() and (md5 is None or file_md5(dst) == md5)):
            _fetch(url, dst, md5, check, timeout)
    return str(dst)


def _fetch(url: str, dst: Path, md5: Optional[str], check: Optional[Callable[[str], None]], timeout: float):
    """Download `url` to a temporary file beside `dst`, verify it, then rename it to `dst`."""
    # The temporary name keeps the suffix: MindSpore refuses to load a checkpoint not named *.ckpt.
    fd, tmp = tempfile.mkstemp(prefix=f".partial-{dst.stem}-", suffix=dst.suffix, dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, dst.name, timeout)
        if md5 is not None and file_md5(tmp) != md5:
            raise MindCVError(
                f"download of {url} is corrupt (MD5 {file_md5(tmp)} != expected {md5}); "
                f"retry, or place a good copy at {dst}"
            )
        if check is not None:
            check(tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _stream(url: str, out, label: str, timeout: float) -> None:
    """Copy `url` into the open file `out`, refusing a transfer shorter than announced."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with progress_bar(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise MindCVError(
            f"cannot download {url} ({exc}); check the network, or put the file in place by hand"
        ) from exc
    if total is not None and received != total:
        raise MindCVError(
            f"download of {url} was interrupted ({received} of {total} bytes); run again to retry"
        )


class DownLoad:
    """MindCV's download helper (`mindcv.utils.download.DownLoad`) on the atomic functions above:
    a download never leaves a partial file, and archives extract with tarfile's "data" filter
    (no absolute paths, `..` or links leaving the folder)."""

    @staticmethod
    def calculate_md5(file_path: str, chunk_size: int = _CHUNK) -> str:
        return file_md5(file_path, chunk_size)

    def check_md5(self, file_path: str, md5: Optional[str] = None) -> bool:
        return md5 == self.calculate_md5(file_path)

    @staticmethod
    def extract_tar(from_path: str, to_path: Optional[str] = None, compression: Optional[str] = None) -> None:
        """Extract a tar archive (`compression` is read from the file itself, so it is not needed)."""
        try:
            with tarfile.open(from_path) as tar:
                tar.extractall(to_path or os.path.dirname(from_path), filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise MindCVError(f"cannot extract {from_path} ({exc}); download it again") from exc

    @staticmethod
    def extract_zip(from_path: str, to_path: Optional[str] = None, compression: Optional[str] = None) -> None:
        """Extract a zip archive (`compression`, MindCV's argument, is read from the file itself)."""
        try:
            with zipfile.ZipFile(from_path) as archive:
                archive.extractall(to_path or os.path.dirname(from_path))
        except (zipfile.BadZipFile, OSError) as exc:
            raise MindCVError(f"cannot extract {from_path} ({exc}); download it again") from exc

    def extract_archive(self, from_path: str, to_path: Optional[str] = None) -> str:
        """Unpack a .tar(.gz/.bz2/.xz), .tgz or .zip into `to_path` (default: beside it), or
        decompress a lone .gz/.bz2 file next to it; return where the result went."""
        to_path = to_path or os.path.dirname(from_path)
        name = from_path.lower()
        if zipfile.is_zipfile(from_path):
            self.extract_zip(from_path, to_path)
        elif tarfile.is_tarfile(from_path):
            self.extract_tar(from_path, to_path)
        elif name.endswith((".gz", ".bz2")):
            target = from_path.rsplit(".", 1)[0]
            opener = gzip.open if name.endswith(".gz") else bz2.open
            with opener(from_path, "rb") as packed:
                atomic_write_bytes(target, packed.read())
            return target
        else:
            raise MindCVError(f"{from_path} is not a tar, zip, gz or bz2 archive; check the URL it came from")
        return to_path

    def download_file(self, url: str, file_path: str, chunk_size: int = _CHUNK) -> None:
        """Download `url` to `file_path` (always fetched; renamed into place once complete).
        `chunk_size` is MindCV's argument, accepted; transfers use 1 MiB blocks."""
        dst = Path(file_path).expanduser()
        dst.parent.mkdir(parents=True, exist_ok=True)
        with directory_lock(dst.parent):
            _fetch(url, dst, None, None, timeout=60.0)

    def download_url(
        self, url: str, path: str = "./", filename: Optional[str] = None, md5: Optional[str] = None
    ):
        """Download `url` into the folder `path` unless a file with a matching MD5 is there."""
        return download_url(url, path, filename, md5)

    def download_and_extract_archive(
        self,
        url: str,
        download_path: str,
        extract_path: Optional[str] = None,
        filename: Optional[str] = None,
        md5: Optional[str] = None,
        remove_finished: bool = False,
    ) -> str:
        archive = download_url(url, download_path, filename, md5)
        result = self.extract_archive(archive, extract_path)
        if remove_finished:
            os.remove(archive)
        return result
