"""Write a file under a temporary name beside it, then rename: readers never see half a file.

A crash, a full disk or a failed write leaves the previous file at the path intact and no
temporary file behind; an `OSError` (or MindSpore's `RuntimeError` from a failed save) becomes
one `MindCVError` line naming the file, a full disk (ENOSPC, EDQUOT) one that says so.
"""

import contextlib
import errno
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Optional

from .errors import MindCVError

__all__ = ["atomic_save_checkpoint", "atomic_write", "atomic_write_bytes", "remove_temporaries"]

# mkstemp's names: our prefix, 8 random characters, the suffix (MindSpore's own `.tmp` beside).
_TEMPORARY = re.compile(r"\.(?P<stem>.+)-[a-z0-9_]{8}(\.ckpt|\.tmp)?")


def atomic_write(path, write: Callable[[str], None], suffix: str = "") -> None:
    """Call `write(temporary_path)`, then rename the result to `path`.

    `suffix` is kept on the temporary name (MindSpore only writes and reads `*.ckpt` files).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=suffix, dir=path.parent)
        os.close(fd)
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            raise MindCVError(
                f"disk full: cannot write {path} ({reason}); files written before are intact; "
                f"free space on the disk of {path.parent} or choose another place"
            ) from exc
        raise MindCVError(
            f"cannot write {path} ({reason}); make {path.parent} writable, free disk space, "
            "or choose another place"
        ) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def atomic_write_bytes(path, data: bytes) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def atomic_save_checkpoint(save_obj, path, append_dict: Optional[dict] = None) -> None:
    """`ms.save_checkpoint` of `save_obj` (a cell or a list of {"name", "data"}) to `path`."""
    import mindspore as ms

    def write(tmp):
        # MindSpore writes `<name>.tmp` and renames it to `tmp`; on a failure it leaves that file
        # behind and logs a CRITICAL line of its own, which atomic_write's one-line error replaces.
        try:
            with _mindspore_critical_silenced():
                ms.save_checkpoint(save_obj, tmp, append_dict=append_dict)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.splitext(tmp)[0] + ".tmp")

    atomic_write(path, write, suffix=".ckpt")


def remove_temporaries(folder, stems) -> None:
    """Delete what writes to `folder` left when their process was killed mid-write: temporary
    files of names starting with one of `stems`. Only while nothing else writes them."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        match = _TEMPORARY.fullmatch(path.name)
        if match and match["stem"].startswith(tuple(stems)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@contextlib.contextmanager
def _mindspore_critical_silenced():
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)
