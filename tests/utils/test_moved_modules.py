"""The old import paths of the modules moved out of `mindcv.utils` name the same objects."""

import importlib

import pytest

MOVED = {
    "mindcv.utils.train_step": ("mindcv.engine.train_step", ["TrainStep", "create_trainer"]),
    "mindcv.utils.fit": ("mindcv.engine.trainer", ["RunPosition", "Trainer"]),
    "mindcv.utils.evaluate": ("mindcv.engine.evaluate", ["Evaluator", "evaluate"]),
    "mindcv.utils.checkpoints": ("mindcv.engine.checkpoint_manager", ["POLICIES", "CheckpointManager"]),
    "mindcv.utils.checkpoint_manager": ("mindcv.engine.mindcv_checkpoint_manager", ["CheckpointManager"]),
    "mindcv.utils.metrics_log": ("mindcv.engine.metrics_log", ["MetricsLog"]),
    "mindcv.utils.stop_signals": ("mindcv.engine.stop_signals", ["StopSignals"]),
    "mindcv.utils.benchmark": (
        "mindcv.benchmark.harness",
        ["benchmark", "format_report", "run_isolated", "time_steps"],
    ),
    "mindcv.utils.onnx_runtime": ("mindcv.engine.onnx_runtime", ["onnxruntime_forward"]),
    "mindcv.utils.runtime": (
        "mindcv.engine.runtime",
        ["compile_cache_folder", "enable_compile_cache", "init_runtime", "limit_onednn_isa", "source_digest"],
    ),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_names_the_moved_objects(old):
    new, names = MOVED[old]
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), f"{old}.{name}"


def test_package_level_names():
    import mindcv.engine
    import mindcv.utils
    from mindcv.engine.checkpoint_manager import CheckpointManager
    from mindcv.engine.mindcv_checkpoint_manager import CheckpointManager as MindCVCheckpointManager
    from mindcv.engine.trainer import Trainer

    assert mindcv.utils.CheckpointManager is MindCVCheckpointManager
    assert mindcv.engine.CheckpointManager is CheckpointManager
    assert mindcv.engine.Trainer is Trainer


def test_lamb_moved_out_of_adamw_keeps_its_old_path():
    from mindcv.optim.adamw import Lamb as old
    from mindcv.optim.lamb import Lamb

    assert old is Lamb


def test_the_epoch_controls_moved_out_of_data_pipeline_keep_their_old_path():
    import mindcv.data.epochs as epochs
    import mindcv.data.pipeline as pipeline

    assert pipeline.set_epoch is epochs.set_epoch and pipeline.epoch_iterator is epochs.epoch_iterator
