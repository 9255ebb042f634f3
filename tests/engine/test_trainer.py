"""When the epoch loop writes a mid-epoch resume point (--ckpt_save_steps, --ckpt_save_minutes)."""

import time
from types import SimpleNamespace

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
