"""Atomic, resumable-safe downloads shared by pretrained weights and datasets.

A download streams into a temporary file in the destination folder and is renamed only once it
is complete, matches its MD5 (when known) and passes the caller's check, so an interrupted or
failed transfer never leaves a file that later runs would mistake for good data. An exclusive
lock on the destination folder makes concurrent processes on one host (data-parallel ranks)
download once: the first fetches, the others wait and then find the file in place.
"""

import contextlib
import fcntl
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, Optional

from tqdm import tqdm

from .errors import MindCVError

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
def directory_lock(path) -> Iterator[None]:
    """Hold an exclusive advisory lock on the folder `path` for the block's duration.

    Locking the folder itself (not a lock file) leaves nothing behind in it.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


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
        if dst.is_file() and (md5 is None or file_md5(dst) == md5):
            return str(dst)
        # The temporary name keeps the suffix: MindSpore refuses to load a checkpoint not named *.ckpt.
        fd, tmp = tempfile.mkstemp(prefix=f".partial-{dst.stem}-", suffix=dst.suffix, dir=dst_dir)
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
    return str(dst)


def _stream(url: str, out, label: str, timeout: float) -> None:
    """Copy `url` into the open file `out`, refusing a transfer shorter than announced."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label) as bar:
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
