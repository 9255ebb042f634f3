"""Checkpoint files of a training run, each written to a temporary name and renamed.

- `{model}-{epoch}_{step}.ckpt`: the weights after an epoch (EMA weights as `ema.*` beside
  them); the newest `keep_max` are kept.
- `{model}-best.ckpt`: the weights with the best validation top-1 (EMA weights when validation
  runs on EMA), or the latest when there is no validation.
- `{model}-resume.ckpt`: everything `--resume` needs: the whole train step's parameters
  (weights, optimizer state, loss scale, EMA, accumulation buffers) plus the position in the
  run. The position is stored inside the file, never parsed from a file name.
"""

import glob
import os
from pathlib import Path
from typing import Dict

from mindspore import nn

from .atomic import atomic_save_checkpoint
from .errors import MindCVError

__all__ = ["CheckpointManager"]

# The run's position, stored as `position.<key>` beside the train step's parameters.
_POSITION_KEYS = ("epoch", "step_in_epoch", "global_step", "best_top1", "nonfinite_steps")


class CheckpointManager:
    """Names, writes, prunes and finds the checkpoints of one run in `ckpt_dir`."""

    def __init__(self, ckpt_dir, model_name: str, keep_max: int = 10):
        self.ckpt_dir = Path(ckpt_dir)
        self.model_name = model_name
        self.keep_max = keep_max

    @property
    def best_path(self) -> Path:
        return self.ckpt_dir / f"{self.model_name}-best.ckpt"

    @property
    def resume_path(self) -> Path:
        return self.ckpt_dir / f"{self.model_name}-resume.ckpt"

    def epoch_path(self, epoch: int, step: int) -> Path:
        return self.ckpt_dir / f"{self.model_name}-{epoch}_{step}.ckpt"

    def save_epoch(self, weights: list, epoch: int, step: int) -> Path:
        """Save `weights` (a list of {"name", "data"}) as the epoch checkpoint; drop the oldest."""
        path = self.epoch_path(epoch, step)
        atomic_save_checkpoint(weights, path)
        epochs = sorted(self._epoch_checkpoints(), key=os.path.getmtime)
        for old in epochs[: max(len(epochs) - self.keep_max, 0)]:
            os.unlink(old)
        return path

    def _epoch_checkpoints(self):
        pattern = glob.escape(str(self.ckpt_dir / self.model_name)) + "-*_*.ckpt"
        return [p for p in glob.glob(pattern) if Path(p).stem.rsplit("-", 1)[-1].replace("_", "").isdigit()]

    def save_best(self, weights: list) -> Path:
        atomic_save_checkpoint(weights, self.best_path)
        return self.best_path

    def save_resume_state(self, train_step: nn.Cell, position: Dict[str, float]) -> Path:
        """Save every parameter of the train step and the run's position (see `_POSITION_KEYS`)."""
        atomic_save_checkpoint(
            train_step, self.resume_path, append_dict={f"position.{k}": position[k] for k in _POSITION_KEYS}
        )
        return self.resume_path

    def find_resume_state(self, resume: str) -> Path:
        """The state to resume from: `resume` as a path, or this run's newest for "auto"/True."""
        path = self.resume_path if resume in ("auto", "True", "true", True) else Path(resume)
        if not path.is_file():
            raise MindCVError(
                f"no resume state at {path}; train without --resume first, or pass --resume PATH "
                f"to a {self.model_name}-resume.ckpt"
            )
        return path

    @staticmethod
    def load_resume_state(train_step: nn.Cell, path) -> Dict[str, float]:
        """Restore the train step in place from `path`; return the run's position."""
        from ..models.checkpoint import load_params, read_checkpoint

        params = read_checkpoint(path)
        if any(f"position.{k}" not in params for k in _POSITION_KEYS):
            raise MindCVError(f"{path} is not a resume state (no position.* entries); pass a *-resume.ckpt")
        position = {k: params.pop(f"position.{k}").asnumpy().item() for k in _POSITION_KEYS}
        load_params(train_step, params, path, classifier=None)
        return position
