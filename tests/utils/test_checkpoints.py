"""Checkpoint files: atomic writes, pruning, best, resume state round trip and refusals."""

import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv import MindCVError
from mindcv.utils.atomic import atomic_save_checkpoint
from mindcv.utils.checkpoints import CheckpointManager
from mindcv.utils.metrics_log import MetricsLog
from mindcv.utils.train_step import create_trainer

POSITION = {"epoch": 3, "step_in_epoch": 5, "global_step": 35, "best_top1": 0.5, "nonfinite_steps": 1}


def train_step(seed=0, ema=True):
    ms.set_seed(seed)
    net = nn.Dense(4, 2)
    return create_trainer(net, nn.CrossEntropyLoss(), nn.Momentum(net.trainable_params(), 0.1, 0.9), ema=ema)


def test_resume_state_round_trip(tmp_path):
    step = train_step()
    step.set_train()
    step(ms.Tensor(np.ones((2, 4), np.float32)), ms.Tensor(np.array([0, 1], np.int32)))
    manager = CheckpointManager(tmp_path, "net")
    manager.save_resume_state(step, POSITION)
    fresh = train_step(seed=1)
    position = manager.load_resume_state(fresh, manager.find_resume_state("auto"))
    assert position == POSITION
    for a, b in zip(step.get_parameters(), fresh.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=a.name)


def test_resume_refuses_other_runs_and_missing_files(tmp_path):
    manager = CheckpointManager(tmp_path, "net")
    with pytest.raises(MindCVError, match="no resume state"):
        manager.find_resume_state("auto")
    manager.save_resume_state(train_step(ema=False), POSITION)
    with pytest.raises(MindCVError, match="missing ema"):
        manager.load_resume_state(train_step(ema=True), manager.resume_path)
    weights_only = tmp_path / "w.ckpt"
    atomic_save_checkpoint(nn.Dense(4, 2), weights_only)
    with pytest.raises(MindCVError, match="not a resume state"):
        manager.load_resume_state(train_step(), weights_only)


def test_epoch_checkpoints_are_pruned_and_best_kept(tmp_path):
    manager = CheckpointManager(tmp_path, "densenet121", keep_max=2)
    weights = [{"name": "w", "data": ms.Tensor(np.ones(3, np.float32))}]
    for epoch in range(1, 5):
        manager.save_epoch(weights, epoch, epoch * 10)
        os.utime(manager.epoch_path(epoch, epoch * 10), (epoch, epoch))  # distinct, ordered mtimes
    manager.save_best(weights)
    assert sorted(os.listdir(tmp_path)) == [
        "densenet121-3_30.ckpt",
        "densenet121-4_40.ckpt",
        "densenet121-best.ckpt",
    ]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "a.ckpt"
    atomic_save_checkpoint(nn.Dense(2, 2), path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise RuntimeError("No space left on device")

    monkeypatch.setattr(ms, "save_checkpoint", disk_full)
    with pytest.raises(MindCVError, match="No space left"):
        atomic_save_checkpoint(nn.Dense(2, 2), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["a.ckpt"]


def test_metrics_log_writes_csv_and_png_and_truncates_on_resume(tmp_path):
    log = MetricsLog(tmp_path / "m.csv", tmp_path / "m.png")
    for epoch in (1, 2, 3):
        log.append({"epoch": epoch, "train_loss": 1.0 / epoch, "val_top1": 0.3 * epoch})
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    resumed = MetricsLog(tmp_path / "m.csv", resume_epoch=2)
    assert [r["epoch"] for r in resumed.rows] == ["1", "2"]
    resumed.append({"epoch": 3, "train_loss": 0.25, "val_top1": 0.95})
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_top1" and lines[-1] == "3,0.25,0.95" and len(lines) == 4
