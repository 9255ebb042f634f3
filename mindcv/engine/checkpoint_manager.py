"""Checkpoint files of a training run, each written to a temporary name and renamed.

- `{model}-{epoch}_{step}.ckpt`: the weights after an epoch (EMA weights as `ema.*` beside
  them, the validation top-1 of the validated weights as `metric.val_top1`). Policy "latest_k"
  keeps the newest `keep_max`, "top_k" the `keep_max` with the best top-1 (unvalidated ones rank
  last, ties keep the older), None all of them. top_k reads the top-1 back from the files, so
  its ranking survives `--resume` and crashes and covers every such file in the folder.
- `{model}-best.ckpt`: the weights with the best validation top-1 (EMA weights when validation
  runs on EMA), or the latest when there is no validation; `metric.epoch` says whose.
- `{model}-resume.ckpt`: everything `--resume` needs: the whole train step's parameters
  (weights, optimizer state, loss scale, EMA, accumulation buffers) plus the position in the
  run, at an epoch end or in the middle of an epoch (one rolling file). The position is stored
  inside the file, never parsed from a file name.
"""

import contextlib
import glob
import logging
import math
import os
from pathlib import Path
from typing import Dict, Optional

import mindspore as ms
from mindspore import nn

from ..utils.atomic import atomic_save_checkpoint
from ..utils.errors import MindCVError

__all__ = ["POLICIES", "CheckpointManager"]

POLICIES = ("latest_k", "top_k", None)

_logger = logging.getLogger(__name__)

# The run's position is stored as `position.<key>` beside the train step's parameters; these
# keys every resume state has (later ones, such as the running loss, default when absent).
_REQUIRED_POSITION_KEYS = ("epoch", "step_in_epoch", "global_step", "best_top1", "nonfinite_steps")
_METRIC_KEY = "metric.val_top1"
_EPOCH_KEY = "metric.epoch"


class CheckpointManager:
    """Names, writes, prunes and finds the checkpoints of one run in `ckpt_dir`.

    The checkpoints pruned by the policy are the run's `{model}-{epoch}_{step}.ckpt` files on disk
    plus any file this manager wrote with `save`; with `model_name=None` (MindCV's API with its own
    file names) only the latter.
    """

    def __init__(
        self, ckpt_dir, model_name: Optional[str], keep_max: int = 10, policy: Optional[str] = "latest_k"
    ):
        if policy not in POLICIES:
            raise MindCVError(f"unknown ckpt_save_policy '{policy}': choose latest_k, top_k or None")
        self.ckpt_dir = Path(ckpt_dir)
        self.model_name = model_name
        self.keep_max = keep_max
        self.policy = policy
        self._top1 = None  # top_k: the top-1 of each epoch checkpoint on disk, read once
        self._saved = []  # every path `save` wrote

    @property
    def best_path(self) -> Path:
        return self.ckpt_dir / f"{self.model_name}-best.ckpt"

    @property
    def resume_path(self) -> Path:
        return self.ckpt_dir / f"{self.model_name}-resume.ckpt"

    def epoch_path(self, epoch: int, step: int) -> Path:
        return self.ckpt_dir / f"{self.model_name}-{epoch}_{step}.ckpt"

    def save_epoch(
        self, weights: list, epoch: int, step: int, top1: Optional[float] = None
    ) -> Optional[Path]:
        """Save `weights` (a list of {"name", "data"}) as the epoch checkpoint, `top1` being
        their validation top-1 (None: not validated), and prune by the policy. Returns the path,
        or None when top_k ranks the checkpoint out and so does not write it."""
        return self.save(weights, self.epoch_path(epoch, step), top1)

    def save(self, weights, path, top1: Optional[float] = None) -> Optional[Path]:
        """`save_epoch` to any `path`."""
        path = Path(path)
        if self.policy == "top_k":
            return self._save_top_k(weights, path, top1)
        atomic_save_checkpoint(weights, path, append_dict=_metric_entry(top1))
        self._saved.append(str(path))
        if self.policy == "latest_k":
            epochs = sorted(self._epoch_checkpoints(), key=os.path.getmtime)
            for old in epochs[: max(len(epochs) - self.keep_max, 0)]:
                os.unlink(old)
        return path

    def _save_top_k(self, weights: list, path: Path, top1: Optional[float]) -> Optional[Path]:
        """Rank the files on disk and the new checkpoint by (top-1 descending, age): the new one
        loses ties, as in MindCV. Write it if it makes the top `keep_max`, then delete the rest."""
        if self._top1 is None:
            self._top1 = {p: _read_top1(p) for p in self._epoch_checkpoints()}
        on_disk = {p: m for p, m in self._top1.items() if os.path.exists(p)}
        new = str(path)
        ranking = sorted(
            [(-m, os.path.getmtime(p), p) for p, m in on_disk.items() if p != new]
            + [(-_as_metric(top1), math.inf, new)]
        )
        kept = {p: -m for m, _, p in ranking[: self.keep_max]}
        if new in kept:
            atomic_save_checkpoint(weights, path, append_dict=_metric_entry(top1))
        for stale in on_disk.keys() - kept.keys():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        self._top1 = kept
        return path if new in kept else None

    def _epoch_checkpoints(self):
        own = {p for p in self._saved if os.path.exists(p)}
        if self.model_name is None:
            return sorted(own)
        pattern = glob.escape(str(self.ckpt_dir / self.model_name)) + "-*_*.ckpt"
        named = {p for p in glob.glob(pattern) if Path(p).stem.rsplit("-", 1)[-1].replace("_", "").isdigit()}
        return sorted(named | own)

    def save_best(self, weights: list, epoch: int) -> Path:
        """Save `weights`, those after epoch `epoch`, as the best checkpoint."""
        atomic_save_checkpoint(weights, self.best_path, append_dict={_EPOCH_KEY: int(epoch)})
        return self.best_path

    def best_epoch(self) -> Optional[int]:
        """The epoch whose weights the best checkpoint holds (None: no such file, or unknown)."""
        if not self.best_path.is_file():
            return None
        try:
            entry = ms.load_checkpoint(str(self.best_path), choice_func=lambda n: n == _EPOCH_KEY)
        except (ValueError, RuntimeError, TypeError):
            return None
        return int(entry[_EPOCH_KEY].asnumpy().item()) if _EPOCH_KEY in entry else None

    def save_resume_state(self, train_step: nn.Cell, position: Dict[str, float]) -> Path:
        """Save every parameter of the train step and the run's position."""
        atomic_save_checkpoint(
            train_step, self.resume_path, append_dict={f"position.{k}": v for k, v in position.items()}
        )
        return self.resume_path

    def find_resume_state(self, resume: str) -> Optional[Path]:
        """The state to resume from: `resume` as a path, or this run's newest for "auto"/True.

        "auto" with no state yet (a run killed before its first resume point) means starting
        from the beginning, with a warning, as Lightning's `ckpt_path="last"` does; a path that
        does not exist is an error.
        """
        if resume in ("auto", "True", "true", True):
            if self.resume_path.is_file():
                return self.resume_path
            _logger.warning(
                "no resume state at %s yet; starting the run from the beginning", self.resume_path
            )
            return None
        path = Path(resume)
        if not path.is_file():
            raise MindCVError(
                f"no resume state at {path}; pass --resume PATH to a {self.model_name}-resume.ckpt, "
                "or --resume alone for the newest one in ckpt_save_dir"
            )
        return path

    @staticmethod
    def load_resume_state(train_step: nn.Cell, path) -> Dict[str, float]:
        """Restore the train step in place from `path`; return the run's position."""
        from ..models.checkpoint import load_params, read_checkpoint

        params = read_checkpoint(path)
        if any(f"position.{k}" not in params for k in _REQUIRED_POSITION_KEYS):
            raise MindCVError(f"{path} is not a resume state (no position.* entries); pass a *-resume.ckpt")
        keys = [k for k in params if k.startswith("position.")]
        position = {k[len("position.") :]: params.pop(k).asnumpy().item() for k in keys}
        load_params(train_step, params, path, classifier=None)
        return position


def _as_metric(top1: Optional[float]) -> float:
    return -math.inf if top1 is None else float(top1)


def _metric_entry(top1: Optional[float]) -> Optional[dict]:
    return None if top1 is None else {_METRIC_KEY: float(top1)}


def _read_top1(path: str) -> float:
    """The top-1 stored in an epoch checkpoint; -inf for one without (never validated, written
    before top_k, or unreadable), so such files are pruned first."""
    try:
        entry = ms.load_checkpoint(path, choice_func=lambda name: name == _METRIC_KEY).get(_METRIC_KEY)
    except (ValueError, RuntimeError, TypeError):
        return -math.inf
    return -math.inf if entry is None else float(entry.asnumpy().item())
