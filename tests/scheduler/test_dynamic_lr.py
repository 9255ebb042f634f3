"""`mindcv.scheduler.dynamic_lr` against PyTorch's schedulers, whose meaning MindCV's functions copy."""

import logging

import numpy as np
import pytest

from mindcv.scheduler import create_scheduler, dynamic_lr

torch = pytest.importorskip("torch")
S, E, LR = 3, 12, 0.1  # steps per epoch, epochs, base lr


def _torch(make, steps, per_step=False):
    """The lr torch's scheduler `make(optimizer)` gives each step (epoch-wise ones: per epoch)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    scheduler = make(optimizer)
    lrs = []
    for _ in range(steps if per_step else E):
        lrs += [optimizer.param_groups[0]["lr"]] * (1 if per_step else S)
        optimizer.step()
        scheduler.step()
    return lrs


EPOCH_WISE = [
    ("constant_lr", (0.5, 4), lambda o: torch.optim.lr_scheduler.ConstantLR(o, 0.5, 4)),
    ("linear_lr", (0.2, 1.0, 5), lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.2, 1.0, 5)),
    ("polynomial_lr", (6, 2.0), lambda o: torch.optim.lr_scheduler.PolynomialLR(o, 6, 2.0)),
    ("exponential_lr", (0.8,), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8)),
    ("step_lr", (3, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    ("multi_step_lr", ([7, 2], 0.5), lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 7], 0.5)),
]


@pytest.mark.parametrize("name, args, make", EPOCH_WISE, ids=[c[0] for c in EPOCH_WISE])
def test_epoch_wise_functions_match_pytorch(name, args, make):
    ours = getattr(dynamic_lr, name)(*args, lr=LR, steps_per_epoch=S, epochs=E)
    np.testing.assert_allclose(ours, _torch(make, S * E), rtol=1e-6, atol=1e-12)


def test_cosine_functions_match_pytorch():
    kw = {"eta_max": LR, "steps_per_epoch": S, "epochs": E}
    annealing = _torch(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 5, 0.01), S * E)
    np.testing.assert_allclose(dynamic_lr.cosine_annealing_lr(5, 0.01, **kw), annealing, rtol=1e-6)
    decay = dynamic_lr.cosine_decay_lr(5, 0.01, **kw)
    np.testing.assert_allclose(decay[: 5 * S], annealing[: 5 * S], rtol=1e-6)
    assert decay[5 * S :] == pytest.approx([0.01] * (E - 5) * S)  # held at eta_min after t_max
    refined = dynamic_lr.cosine_decay_refined_lr(5, 0.01, **kw)
    assert refined[1] < refined[0] and refined[1] > decay[S]  # changes within the first epoch


def test_warm_restarts_match_pytorch_at_epoch_starts():
    ours = dynamic_lr.cosine_annealing_warm_restarts_lr(2, 2, 0.0, eta_max=LR, steps_per_epoch=S, epochs=E)
    theirs = _torch(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 2, 2), S * E)
    np.testing.assert_allclose(ours[::S], theirs[::S], rtol=1e-6, atol=1e-12)
    assert ours[S * 2] == pytest.approx(LR)  # restart after 2 epochs, then after 4 more
    assert ours[S * 6] == pytest.approx(LR)


def test_refined_variants_change_every_step():
    coarse = dynamic_lr.exponential_lr(0.5, lr=LR, steps_per_epoch=S, epochs=2)
    fine = dynamic_lr.exponential_refined_lr(0.5, lr=LR, steps_per_epoch=S, epochs=2)
    assert coarse[:S] == [LR] * S and fine[1] == pytest.approx(LR * 0.5 ** (1 / S))
    assert dynamic_lr.linear_refined_lr(0, 1, 2, lr=1.0, steps_per_epoch=2, epochs=1) == [0, 0.25]
    assert dynamic_lr.polynomial_refined_lr(1, 1, lr=1.0, steps_per_epoch=2, epochs=1) == [1, 0.5]


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_matches_pytorch(three_phase, anneal):
    ours = dynamic_lr.one_cycle_lr(
        LR, anneal_strategy=anneal, three_phase=three_phase, lr=LR, steps_per_epoch=S, epochs=E
    )
    make = lambda o: torch.optim.lr_scheduler.OneCycleLR(  # noqa: E731
        o, LR, total_steps=S * E, anneal_strategy=anneal, three_phase=three_phase, cycle_momentum=False
    )
    np.testing.assert_allclose(ours, _torch(make, S * E, per_step=True), rtol=1e-6)


def test_one_cycle_and_cyclic_take_mindcvs_positional_order():
    positional = dynamic_lr.one_cycle_lr(2.5, 0.4, "linear", 10.0, 100.0, True, steps_per_epoch=S, epochs=E)
    named = dynamic_lr.one_cycle_lr(
        2.5,
        pct_start=0.4,
        anneal_strategy="linear",
        div_factor=10.0,
        final_div_factor=100.0,
        three_phase=True,
        steps_per_epoch=S,
        epochs=E,
    )
    assert positional == named and positional[0] == pytest.approx(0.25)
    cyclic = dynamic_lr.cyclic_lr(
        0.1, 2.5, 5, 5, "triangular", 1.0, None, "cycle", steps_per_epoch=2, epochs=15
    )
    assert cyclic[:6] == pytest.approx([0.1, 0.58, 1.06, 1.54, 2.02, 2.5]) and cyclic[10] == pytest.approx(
        0.1
    )
    longer = dynamic_lr.one_cycle_lr(2.5, steps_per_epoch=2, epochs=3, total_steps=12)
    assert len(longer) == 6 and max(longer) < 2.5  # a cycle longer than the run: only its start


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_matches_pytorch(mode):
    ours = dynamic_lr.cyclic_lr(0.01, LR, 4, 2, mode=mode, gamma=0.97, lr=LR, steps_per_epoch=S, epochs=E)
    make = lambda o: torch.optim.lr_scheduler.CyclicLR(  # noqa: E731
        o, 0.01, LR, 4, 2, mode=mode, gamma=0.97, cycle_momentum=False
    )
    np.testing.assert_allclose(ours, _torch(make, S * E, per_step=True), rtol=1e-6)


def test_create_scheduler_one_cycle_and_cyclic(caplog):
    with caplog.at_level(logging.WARNING):
        one = create_scheduler(10, "one_cycle", lr=0.1, min_lr=1e-5, warmup_epochs=3, num_epochs=10)
    assert "warmup_epochs" in caplog.text  # MindCV refuses warmup here; we warn and ignore it
    assert one[0] == pytest.approx(0.1 / 25) and max(one) == pytest.approx(0.1, rel=1e-3)
    assert one[-1] == pytest.approx(1e-5) and int(np.argmax(one)) == 29
    cyc = create_scheduler(10, "cyclic", lr=0.1, min_lr=0.0, warmup_epochs=0, num_epochs=10, num_cycles=2)
    assert len(cyc) == 100 and cyc[0] == 0 and cyc[25] == pytest.approx(0.1) and cyc[50] == pytest.approx(0)
