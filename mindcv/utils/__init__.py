"""Leaf helpers (atomic writes, errors, downloads, plots, seeds, distributed start-up, the script
runner) that import nothing of ours above them, plus MindCV's public `mindcv.utils` names and
module paths (`checkpoint_manager`, `train_step`), kept as re-exports so MindCV scripts run
unchanged (names load on first use, see `_lazy`).

`CheckpointManager` here is MindCV's API (`ckpt_save_policy=`, `save_ckpoint`) over the training
engine's own manager, `mindcv.engine.checkpoint_manager.CheckpointManager`, which train.py uses.
MindCV's `create_trainer` (a `mindspore.Model`), `StateMonitor` and `ValCallback` are MindCV's
API over `mindcv.engine.model_api`; train.py's own train step is
`mindcv.engine.train_step.create_trainer`.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "CheckpointManager": "mindcv.engine.mindcv_checkpoint_manager",
    "DownLoad": "mindcv.utils.download",
    "MindCVError": "mindcv.utils.errors",
    "StateMonitor": "mindcv.utils.callbacks",
    "ValCallback": "mindcv.utils.callbacks",
    "create_trainer": "mindcv.utils.trainer_factory",
    "set_seed": "mindcv.utils.random",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
