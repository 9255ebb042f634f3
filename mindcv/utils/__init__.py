"""Utilities, with the names MindCV's `mindcv.utils` exports (loaded on first use, see `_lazy`).

`CheckpointManager` here is MindCV's API (`ckpt_save_policy=`, `save_ckpoint`) over this
package's own manager, `mindcv.utils.checkpoints.CheckpointManager`, which train.py uses.
MindCV's `create_trainer` (a `mindspore.Model` of other arguments) is not exported under its
name; ours, returning a train step, is `mindcv.utils.train_step.create_trainer`.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "CheckpointManager": "mindcv.utils.checkpoint_manager",
    "DownLoad": "mindcv.utils.download",
    "MindCVError": "mindcv.utils.errors",
    "set_seed": "mindcv.utils.random",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
