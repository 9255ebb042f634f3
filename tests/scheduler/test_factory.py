"""Every schedule's learning rates at chosen steps, against values worked out by hand."""

import math

import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.scheduler import SCHEDULERS, create_scheduler


@pytest.mark.parametrize("name", SCHEDULERS)
def test_one_float_per_step(name):
    lrs = create_scheduler(7, name, warmup_epochs=2, decay_epochs=3, milestones=[2], num_epochs=5)
    assert len(lrs) == 35
    assert all(type(x) is float for x in lrs)


def test_linear_warmup_then_constant():
    lrs = create_scheduler(4, "constant", lr=0.5, warmup_epochs=2, warmup_factor=0.1, num_epochs=5)
    # step i of the warmup is at epoch i/4, so lr = 0.5 * (0.1 + 0.9 * (i/4) / 2)
    assert lrs[0] == pytest.approx(0.05)
    assert lrs[1] == pytest.approx(0.5 * (0.1 + 0.9 / 8))
    assert lrs[7] == pytest.approx(0.5 * (0.1 + 0.9 * 7 / 8))
    assert lrs[8:] == pytest.approx([0.5] * 12)


def test_stair_holds_the_rate_within_an_epoch():
    lrs = create_scheduler(
        4, "constant", lr=0.5, warmup_epochs=2, warmup_factor=0.1, num_epochs=3, lr_epoch_stair=True
    )
    assert lrs[:4] == pytest.approx([0.05] * 4)
    assert lrs[4:8] == pytest.approx([0.5 * (0.1 + 0.9 / 2)] * 4)
    assert lrs[8:] == pytest.approx([0.5] * 4)


def test_cosine_cycles_shrink_then_stay_at_min_lr():
    lrs = create_scheduler(
        2, "cosine_decay", lr=1.0, min_lr=0.1, warmup_epochs=0, decay_epochs=2, num_epochs=6,
        num_cycles=2, cycle_decay=0.5,
    )  # fmt: skip
    half = 0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2  # a quarter into the first cycle
    assert lrs[:4] == pytest.approx([1.0, half, 0.55, 0.1 + 0.9 * (1 + math.cos(3 * math.pi / 4)) / 2])
    assert lrs[4] == pytest.approx(0.5)  # second cycle starts from lr * cycle_decay
    assert lrs[6] == pytest.approx(0.1 + 0.4 * 0.5)
    assert lrs[8:] == pytest.approx([0.1] * 4)


def test_cosine_after_warmup_in_stair_mode():
    lrs = create_scheduler(
        3, "warmup_cosine_decay", lr=2.0, min_lr=0.0, warmup_epochs=1, decay_epochs=4, num_epochs=5,
        lr_epoch_stair=True,
    )  # fmt: skip
    assert lrs[:3] == [0.0] * 3  # warmup_factor 0: the first epoch has lr 0
    expected = [2.0, 1 + math.cos(math.pi / 4), 1.0, 1 + math.cos(3 * math.pi / 4)]
    assert lrs[3:] == pytest.approx([x for x in expected for _ in range(3)])


def test_step_decay_changes_only_at_epoch_boundaries():
    lrs = create_scheduler(
        3, "step_decay", lr=1.0, warmup_epochs=1, decay_epochs=2, decay_rate=0.5, num_epochs=6
    )
    assert lrs[3:9] == pytest.approx([1.0] * 6)  # decay epochs 0-1
    assert lrs[9:15] == pytest.approx([0.5] * 6)  # decay epochs 2-3
    assert lrs[15:] == pytest.approx([0.25] * 3)


def test_exponential_decay_per_epoch():
    smooth = create_scheduler(4, "exponential_decay", lr=1.0, warmup_epochs=0, decay_rate=0.5, num_epochs=3)
    assert smooth[1] == pytest.approx(0.5**0.25)
    assert smooth[6] == pytest.approx(0.5**1.5)
    stair = create_scheduler(
        4, "exponential_decay", lr=1.0, warmup_epochs=0, decay_rate=0.5, num_epochs=3, lr_epoch_stair=True
    )
    assert stair == pytest.approx([1.0] * 4 + [0.5] * 4 + [0.25] * 4)


def test_polynomial_decay_reaches_zero_at_the_end():
    lrs = create_scheduler(2, "polynomial_decay", lr=1.0, warmup_epochs=1, decay_rate=2.0, num_epochs=5)
    # 4 decay epochs of 2 steps: step j after warmup has lr (1 - j/8) ** 2
    assert lrs[2:] == pytest.approx([(1 - j / 8) ** 2 for j in range(8)])
    assert lrs[-1] == pytest.approx(1 / 64)


def test_multi_step_milestones_count_from_the_end_of_warmup():
    lrs = create_scheduler(
        2, "multi_step_decay", lr=1.0, warmup_epochs=1, warmup_factor=0.5, milestones=[1, 3],
        decay_rate=0.1, num_epochs=6,
    )  # fmt: skip
    assert lrs[:2] == pytest.approx([0.5, 0.75])
    per_epoch = [1.0, 0.1, 0.1, 0.01, 0.01]  # epochs 1..5 of the run are decay epochs 0..4
    assert lrs[2:] == pytest.approx([x for x in per_epoch for _ in range(2)])


def test_unknown_scheduler_suggests_the_closest():
    with pytest.raises(MindCVError, match="unknown scheduler 'cosine'.*cosine_decay"):
        create_scheduler(10, "cosine")


@pytest.mark.parametrize("milestones", [None, [], [5, 5], [6, 3]])
def test_multi_step_needs_increasing_milestones(milestones):
    with pytest.raises(MindCVError, match="increasing epoch milestones"):
        create_scheduler(10, "multi_step_decay", milestones=milestones, num_epochs=10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"warmup_epochs": 5, "num_epochs": 3}, "warmup_epochs"),
        ({"warmup_epochs": 1.5}, "warmup_epochs"),
        ({"num_epochs": 0}, "num_epochs"),
        ({"scheduler": "cosine_decay", "decay_epochs": 0}, "decay_epochs > 0"),
    ],
)
def test_bad_lengths_are_errors(kwargs, message):
    with pytest.raises(MindCVError, match=message):
        create_scheduler(10, **kwargs)


def test_whole_float_epochs_from_yaml_are_accepted():
    assert len(create_scheduler(2.0, "step_decay", warmup_epochs=1.0, num_epochs=3.0)) == 6


def test_defaults_the_user_did_not_set_are_fitted_to_a_short_run(caplog):
    """A one-epoch trial with MindCV's default warmup (3) runs: the warmup is shortened to leave
    an epoch of decay, and the cosine ends within the run; each with one warning line."""
    lrs = create_scheduler(
        4, "cosine_decay", lr=1.0, min_lr=0.0, num_epochs=1, fit_to_run={"warmup_epochs", "decay_epochs"}
    )
    assert lrs[0] == 1.0 and lrs[-1] == pytest.approx(0.5 * (1 + np.cos(np.pi * 3 / 4)))
    assert "warmup_epochs: the default 3 does not fit a run of 1 epochs; using 0" in caplog.text
    assert "decay_epochs: the default 10 does not fit a run of 1 epochs; using 1" in caplog.text
    three = create_scheduler(2, "cosine_decay", lr=1.0, num_epochs=3, fit_to_run={"warmup_epochs"})
    assert three[:4] == pytest.approx([0.0, 0.25, 0.5, 0.75])  # warmup 2 epochs, then decay
    caplog.clear()
    long = create_scheduler(2, "cosine_decay", num_epochs=50, fit_to_run={"warmup_epochs", "decay_epochs"})
    assert long == create_scheduler(2, "cosine_decay", num_epochs=50) and not caplog.text  # defaults fit


def test_a_length_the_user_chose_is_never_fitted():
    with pytest.raises(MindCVError, match="warmup_epochs must be .* within num_epochs=1"):
        create_scheduler(4, num_epochs=1, warmup_epochs=3, fit_to_run={"decay_epochs"})
