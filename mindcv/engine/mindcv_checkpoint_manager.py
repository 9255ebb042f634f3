"""MindCV's `CheckpointManager(ckpt_save_policy)` and `save_ckpoint(...)`, over this package's manager.

Files are written atomically and pruned by the same code train.py uses (top_k stores the metric
in each file). Any `save_path` works, as in MindCV; one named `<prefix>-<epoch>_<step>.ckpt`, as
MindCV's train.py names them, is also ranked with that run's files already on disk, so the
ranking survives a restart. Imported as MindCV does, `from mindcv.utils import CheckpointManager`
(a lazy re-export).
"""

import os
import re
from typing import List, Optional

import numpy as np

from ..utils.errors import MindCVError
from .checkpoint_manager import POLICIES, CheckpointManager as _RunCheckpoints

__all__ = ["CheckpointManager"]

_NAME = re.compile(r"(?P<prefix>.+)-(?P<epoch>\d+)_(?P<step>\d+)\.ckpt")


class CheckpointManager:
    """Keep every checkpoint (None), the newest `num_ckpt` ("latest_k") or the `num_ckpt` with
    the highest metric ("top_k"), as MindCV does."""

    def __init__(self, ckpt_save_policy: Optional[str] = None):
        if ckpt_save_policy not in POLICIES:
            raise MindCVError(
                f"unknown ckpt_save_policy {ckpt_save_policy!r}: choose latest_k, top_k or None"
            )
        self.ckpt_save_policy = ckpt_save_policy
        self._ckpoint_filelist: list = []
        self._managers = {}

    @property
    def ckpoint_filelist(self) -> list:
        """Paths kept (latest_k, None), or (path, metric) pairs best first (top_k)."""
        return self._ckpoint_filelist

    @property
    def ckpoint_num(self) -> int:
        return len(self._ckpoint_filelist)

    def save_ckpoint(self, network, num_ckpt: int = 10, metric=None, save_path: str = "") -> List:
        """Save `network` (a cell or a list of {"name", "data"}) to `save_path`, then prune."""
        if not save_path:
            raise MindCVError("save_ckpoint needs save_path, the file to write (e.g. ckpt/net-3_100.ckpt)")
        match = _NAME.fullmatch(os.path.basename(save_path))
        top_k = self.ckpt_save_policy == "top_k"
        if top_k and metric is None:
            raise MindCVError("ckpt_save_policy top_k ranks by metric: pass save_ckpoint(metric=...)")
        value = None if metric is None else float(np.asarray(getattr(metric, "asnumpy", lambda: metric)()))
        folder = os.path.dirname(save_path) or "."
        key = (folder, match["prefix"] if match else None, num_ckpt)
        if key not in self._managers:
            self._managers[key] = _RunCheckpoints(folder, key[1], num_ckpt, self.ckpt_save_policy)
        saved = self._managers[key].save(network, save_path, value)
        if saved is not None:
            self._ckpoint_filelist.append((str(saved), value) if top_k else str(saved))
        self._ckpoint_filelist = [
            entry for entry in self._ckpoint_filelist if os.path.exists(entry[0] if top_k else entry)
        ]
        if top_k:
            self._ckpoint_filelist.sort(key=lambda entry: entry[1], reverse=True)
        return self._ckpoint_filelist
