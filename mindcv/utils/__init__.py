"""Leaf helpers (atomic writes, errors, downloads, plots, seeds, distributed start-up, the script
runner) that import nothing of ours above them, plus the names MindCV's `mindcv.utils` exports
(loaded on first use, see `_lazy`).

`CheckpointManager` here is MindCV's API (`ckpt_save_policy=`, `save_ckpoint`) over the training
engine's own manager, `mindcv.engine.checkpoint_manager.CheckpointManager`, which train.py uses.
MindCV's `create_trainer` (a `mindspore.Model`), `StateMonitor` and `ValCallback` are MindCV's
API over `mindcv.engine.model_api`; train.py's own train step is
`mindcv.engine.train_step.create_trainer`.
The engine's modules that lived here (`train_step`, `fit`, `evaluate`, `checkpoints`,
`checkpoint_manager`, `metrics_log`, `stop_signals`, `runtime`, `onnx_runtime`) are aliases of
`mindcv.engine`'s, and `benchmark` of `mindcv.benchmark.harness`.
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
