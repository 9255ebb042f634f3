"""The epoch loop (`mindcv.engine.trainer`): when it writes a mid-epoch resume point
(--ckpt_save_steps, --ckpt_save_minutes), the saved run position, and whole runs on a fake train step."""

import time
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from mindcv.engine.trainer import RunPosition, Trainer
from mindcv.utils.distributed import DistributedInfo


class _Loader:
    def get_dataset_size(self):
        return 10


def trainer(steps, minutes):
    return Trainer(
        SimpleNamespace(network=None),
        _Loader(),
        None,
        None,
        None,
        [],
        epochs=1,
        dist=DistributedInfo(),
        global_batch_size=1,
        ckpt_save_steps=steps,
        ckpt_save_minutes=minutes,
    )


def test_resume_points_every_n_steps_and_every_m_minutes():
    by_steps = trainer(steps=3, minutes=0)
    by_steps._last_save = time.monotonic() - 3600
    assert [by_steps._resume_point_due(RunPosition(step_in_epoch=s)) for s in range(1, 8)] == [
        False, False, True, False, False, True, False,
    ]  # fmt: skip
    by_time = trainer(steps=0, minutes=0.5)
    by_time._last_save = time.monotonic()
    assert not by_time._resume_point_due(RunPosition(step_in_epoch=1))
    by_time._last_save -= 31
    assert by_time._resume_point_due(RunPosition(step_in_epoch=2))
    assert not trainer(steps=0, minutes=0)._resume_point_due(RunPosition(step_in_epoch=5))


def test_a_saved_position_restores_with_its_types_and_defaults_for_older_states():
    saved = {
        "epoch": 2.0,
        "step_in_epoch": 3.0,
        "global_step": 23.0,
        "best_top1": 0.5,
        "nonfinite_steps": 0.0,
    }
    position = RunPosition.from_saved({**saved, "unknown_later_field": 1.0})
    assert position == RunPosition(epoch=2, step_in_epoch=3, global_step=23, best_top1=0.5)
    assert isinstance(position.epoch, int) and position.loss_sum == 0.0 and position.best_epoch == 0


# The epoch loop end to end on a fake train step (tests/engine/fakes.py): what it trains on,
# what it records and saves, and in which order.


def _loop(tmp_path, monkeypatch, losses, batches=3, epochs=2, validate=True, **options):
    from mindcv.engine import trainer as trainer_module
    from mindcv.engine.metrics_log import MetricsLog
    from tests.engine.fakes import FakeLoader, FakeTrainStep, RecordingCheckpoints, fake_epoch_iterator

    monkeypatch.setattr(trainer_module, "epoch_iterator", fake_epoch_iterator)
    step = FakeTrainStep(losses)
    checkpoints = RecordingCheckpoints(tmp_path)
    loop = Trainer(
        step,
        FakeLoader(batches),
        FakeLoader(2) if validate else None,
        checkpoints,
        MetricsLog(),
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        epochs=epochs,
        dist=DistributedInfo(),
        global_batch_size=2,
        progress=False,
        ckpt_save_minutes=0,
        **options,
    )
    return loop, step, checkpoints


def test_each_epoch_trains_every_batch_then_logs_validates_and_saves(tmp_path, monkeypatch):
    loop, step, checkpoints = _loop(tmp_path, monkeypatch, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    position = RunPosition()
    result = loop.fit(position)

    assert step.seen == [0, 1, 2, 0, 1, 2]  # every batch of each epoch, in order
    assert (position.epoch, position.step_in_epoch, position.global_step) == (2, 0, 6)
    assert [row["epoch"] for row in loop.metrics.rows] == ["1", "2"]
    assert [float(row["train_loss"]) for row in loop.metrics.rows] == [2.0, 5.0]  # each epoch's mean
    assert [row["global_step"] for row in loop.metrics.rows] == ["3", "6"]
    assert set(result) == {"top1", "top5", "loss", "num_samples"} and result["num_samples"] == 4
    assert "val_top1" in loop.metrics.rows[0]
    # Per epoch: the resume state first, then the epoch checkpoint (with its top-1), then the
    # best (the first validated epoch is the best so far; later ones only if better).
    kinds = [call[0] for call in checkpoints.calls]
    assert kinds[:3] == ["resume", "epoch", "best"] and kinds[3:5] == ["resume", "epoch"]
    assert checkpoints.calls[0][1]["epoch"] == 1 and checkpoints.calls[1][1:3] == (1, 3)
    assert checkpoints.calls[1][3] == pytest.approx(float(loop.metrics.rows[0]["val_top1"]), rel=1e-5)
    assert position.best_epoch in (1, 2) and position.best_top1 >= 0


def test_without_validation_the_latest_checkpoint_is_the_best(tmp_path, monkeypatch):
    loop, _, checkpoints = _loop(tmp_path, monkeypatch, [1.0] * 6, validate=False)
    position = RunPosition()
    assert loop.fit(position) is None
    assert [c for c in checkpoints.calls if c[0] != "resume"] == [
        ("epoch", 1, 3, None), ("best", 1), ("epoch", 2, 3, None), ("best", 2),
    ]  # fmt: skip
    assert position.best_epoch == 2 and "val_top1" not in loop.metrics.rows[0]


def test_a_mid_epoch_resume_trains_only_the_batches_left(tmp_path, monkeypatch):
    loop, step, _ = _loop(tmp_path, monkeypatch, [9.0, 1.0, 1.0, 1.0], validate=False)
    position = RunPosition(epoch=0, step_in_epoch=2, global_step=2, loss_sum=4.0, loss_count=2)
    loop.fit(position)
    assert step.seen == [2, 0, 1, 2]  # the rest of epoch 1, then all of epoch 2
    # The running loss saved in the position counts in the epoch mean.
    assert float(loop.metrics.rows[0]["train_loss"]) == pytest.approx((4.0 + 9.0) / 3, rel=1e-5)
    assert position.global_step == 6


def test_a_non_finite_loss_stops_the_run_unless_skipped(tmp_path, monkeypatch):
    from mindcv.utils.errors import MindCVError

    loop, _, _ = _loop(tmp_path, monkeypatch, [1.0, float("nan"), 1.0], epochs=1, validate=False)
    with pytest.raises(MindCVError, match="non-finite loss .* at epoch 1, step 2"):
        loop.fit(RunPosition())

    loop, _, _ = _loop(
        tmp_path, monkeypatch, [1.0, float("nan"), 3.0], epochs=1, validate=False, nonfinite_policy="skip"
    )
    position = RunPosition()
    loop.fit(position)
    assert position.nonfinite_steps == 1
    assert float(loop.metrics.rows[0]["train_loss"]) == 2.0  # the skipped step is not averaged in


def test_val_interval_validates_every_nth_epoch_and_the_last(tmp_path, monkeypatch):
    loop, _, _ = _loop(tmp_path, monkeypatch, [1.0] * 9, epochs=3, val_interval=2)
    loop.fit(RunPosition())
    assert ["val_top1" in row for row in loop.metrics.rows] == [False, True, True]


def test_a_saved_position_round_trips():
    position = RunPosition(epoch=3, step_in_epoch=1, global_step=31, best_top1=0.75, best_epoch=2)
    saved = {key: float(value) for key, value in asdict(position).items()}  # as a checkpoint stores them
    assert RunPosition.from_saved(saved) == position
