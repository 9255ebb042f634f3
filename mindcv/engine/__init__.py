"""The training engine: train step, epoch loop, evaluation, run checkpoints, metrics, run set-up.

Each module is one piece train.py wires together, importable alone (names load on first use,
see `mindcv._lazy`):
- `train_step`: `create_trainer` -> `TrainStep` (amp, loss scale, clipping, accumulation, EMA)
- `trainer`: `Trainer`, the epoch loop, and `RunPosition`, where a run stands (saved for --resume)
- `evaluate`: `evaluate` / `Evaluator`, top-1, top-5 and loss over a loader
- `checkpoint_manager`: `CheckpointManager`, the checkpoint files of one run
- `mindcv_checkpoint_manager`: MindCV's `CheckpointManager(ckpt_save_policy)` over it
- `metrics_log`: `MetricsLog`, metrics.csv and curves.png
- `stop_signals`: `StopSignals`, SIGTERM and SIGINT as requests to stop at the next step
- `runtime`: `init_runtime`, device, mode, threads, seeds, compile cache and data parallel
- `builders`: `build_loader` (train.py, validate.py) and `build_eval_model` (infer.py, export.py)
- `onnx_runtime`: `onnxruntime_forward`, a network exported to ONNX and run by onnxruntime
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "CheckpointManager": "mindcv.engine.checkpoint_manager",
    "Evaluator": "mindcv.engine.evaluate",
    "build_eval_model": "mindcv.engine.builders",
    "build_loader": "mindcv.engine.builders",
    "MetricsLog": "mindcv.engine.metrics_log",
    "RunPosition": "mindcv.engine.trainer",
    "StopSignals": "mindcv.engine.stop_signals",
    "TrainStep": "mindcv.engine.train_step",
    "Trainer": "mindcv.engine.trainer",
    "create_trainer": "mindcv.engine.train_step",
    "evaluate": "mindcv.engine.evaluate",
    "init_runtime": "mindcv.engine.runtime",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
