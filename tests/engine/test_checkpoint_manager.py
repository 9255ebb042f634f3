"""Checkpoint files: atomic writes, pruning (latest_k, top_k, keep all), best, resume state
round trip and refusals."""

import csv
import os
import signal
import time

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv import MindCVError
from mindcv.engine.checkpoint_manager import CheckpointManager
from mindcv.engine.metrics_log import MetricsLog
from mindcv.engine.train_step import create_trainer
from mindcv.models.checkpoint import load_params, read_checkpoint
from mindcv.utils.atomic import atomic_save_checkpoint
from tests.scripts import ROOT, SMALL_NET, run_script, start

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


def test_resume_refuses_other_runs_and_missing_files(tmp_path, caplog):
    manager = CheckpointManager(tmp_path, "net")
    with pytest.raises(MindCVError, match="no resume state at .*nothing.ckpt"):
        manager.find_resume_state(str(tmp_path / "nothing.ckpt"))
    assert manager.find_resume_state("auto") is None  # nothing yet: the run starts from the beginning
    assert "starting the run from the beginning" in caplog.text
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
    manager.save_best(weights, epoch=4)
    assert manager.best_epoch() == 4
    assert sorted(os.listdir(tmp_path)) == [
        "densenet121-3_30.ckpt",
        "densenet121-4_40.ckpt",
        "densenet121-best.ckpt",
    ]


def epoch_files(folder, model="densenet121"):
    return sorted(f for f in os.listdir(folder) if f.startswith(f"{model}-") and f[len(model) + 1].isdigit())


def test_top_k_keeps_the_best_across_managers_and_ties_keep_the_older(tmp_path):
    """keep_max=2 by top-1; a new manager (as after --resume) ranks the files already on disk."""
    weights = [{"name": "weight", "data": ms.Tensor(np.ones((2, 2), np.float32))}]

    def save(manager, epoch, top1):
        path = manager.save_epoch(weights, epoch, 10, top1)
        if path is not None:
            os.utime(path, (epoch, epoch))  # distinct, ordered ages
        return path

    first = CheckpointManager(tmp_path, "densenet121", keep_max=2, policy="top_k")
    for epoch, top1 in [(1, 0.3), (2, 0.5), (3, 0.4)]:
        assert save(first, epoch, top1) is not None
    assert epoch_files(tmp_path) == ["densenet121-2_10.ckpt", "densenet121-3_10.ckpt"]

    resumed = CheckpointManager(tmp_path, "densenet121", keep_max=2, policy="top_k")
    assert save(resumed, 4, 0.2) is None  # worse than both kept: not even written
    assert save(resumed, 5, 0.5) is not None  # ties epoch 2, beats epoch 3
    assert save(resumed, 6, None) is None  # not validated: ranks last
    assert save(resumed, 7, 0.5) is None  # ties both: the older ones stay
    assert epoch_files(tmp_path) == ["densenet121-2_10.ckpt", "densenet121-5_10.ckpt"]

    path = tmp_path / "densenet121-5_10.ckpt"
    assert read_checkpoint(path)["metric.val_top1"].asnumpy().item() == pytest.approx(0.5)
    net = nn.Dense(2, 2, has_bias=False)
    load_params(net, read_checkpoint(path), path)  # the metric entry does not disturb loading
    np.testing.assert_array_equal(net.weight.asnumpy(), np.ones((2, 2)))


def test_policy_none_keeps_every_epoch_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path, "densenet121", keep_max=1, policy=None)
    for epoch in range(1, 4):
        manager.save_epoch([{"name": "w", "data": ms.Tensor(np.ones(3, np.float32))}], epoch, 5)
    assert epoch_files(tmp_path) == [f"densenet121-{e}_5.ckpt" for e in (1, 2, 3)]


@pytest.mark.slow
def test_train_top_k_keeps_the_best_by_validation_across_resume(tmp_path):
    """train.py --ckpt_save_policy top_k, killed after epoch 3 of 6 and resumed: the epoch checkpoints
    left are the 2 best by metrics.csv's val_top1 (ties: the older), the best of them is
    -best.ckpt, and each file holds its own top-1."""
    args = [
        "-c",
        str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml"),
        *SMALL_NET,
        "--num_samples",
        "64",
        "--batch_size",
        "16",
        "--warmup_epochs",
        "0",
        "--ckpt_save_policy",
        "top_k",
        "--keep_checkpoint_max",
        "2",
        "--epoch_size",
        "6",
    ]

    ckpt = tmp_path / "ckpt"
    killed = start(["python", ROOT / "train.py", *args], tmp_path)
    deadline = time.monotonic() + 600
    while killed.poll() is None and time.monotonic() < deadline and _rows(ckpt / "metrics.csv") < 3:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert _rows(ckpt / "metrics.csv") < 6, "the run ended before it was killed"
    result = run_script("train.py", *args, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stderr

    with open(ckpt / "metrics.csv") as f:
        top1 = {int(r["epoch"]): float(r["val_top1"]) for r in csv.DictReader(f)}
    assert sorted(top1) == [1, 2, 3, 4, 5, 6]
    assert len(set(top1.values())) > 2, f"every epoch scored alike, nothing was ranked: {top1}"
    best = sorted(top1, key=lambda e: (-top1[e], e))[:2]
    assert epoch_files(ckpt, "densenet_test") == sorted(f"densenet_test-{e}_4.ckpt" for e in best), top1
    for e in best:
        stored = read_checkpoint(ckpt / f"densenet_test-{e}_4.ckpt")
        assert stored["metric.val_top1"].asnumpy().item() == pytest.approx(top1[e], abs=1e-6)
    first = read_checkpoint(ckpt / f"densenet_test-{best[0]}_4.ckpt")
    best_file = read_checkpoint(ckpt / "densenet_test-best.ckpt")
    assert best_file.pop("metric.epoch").asnumpy().item() == best[0]
    for name, value in best_file.items():
        np.testing.assert_array_equal(value.asnumpy(), first[name].asnumpy(), err_msg=name)


def _rows(metrics_csv) -> int:
    return len(metrics_csv.read_text().splitlines()) - 1 if metrics_csv.exists() else 0


def test_train_refuses_top_k_without_validation(tmp_path):
    result = run_script("train.py", "--ckpt_save_policy", "top_k", "--val_while_train", "False", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "top_k" in lines[0] and "--val_while_train" in lines[0], result.stderr


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


def test_temporaries_left_by_a_kill_are_removed_and_nothing_else(tmp_path):
    from mindcv.utils.atomic import remove_temporaries

    left = [".densenet121-resume-ab12cd_3.ckpt", ".densenet121-resume-ab12cd_3.tmp", ".metrics-x1y2z3w4"]
    kept = ["densenet121-1_3.ckpt", ".other-abcdefgh", ".densenet121-notes", "metrics.csv"]
    for name in left + kept:
        (tmp_path / name).write_bytes(b"x")
    remove_temporaries(tmp_path, ("densenet121", "metrics"))
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
