"""MindCV's `mindcv.scheduler.dynamic_lr`: PyTorch's schedulers as one learning rate per step.

Positional arguments are PyTorch's; the keywords `lr`, `steps_per_epoch` and `epochs` (cosine
ones: `eta_max` instead of `lr`) give the base rate and the length. Plain functions hold the
rate within an epoch, as PyTorch's epoch-wise schedulers do; `*_refined_lr` changes it every
step. Step, multi-step, exponential and cosine-decay schedules are `create_scheduler`'s math.
"""

from typing import List, Sequence

import numpy as np

from .cycles import cyclic_lr, one_cycle_lr
from .factory import create_scheduler

__all__ = [
    "constant_lr",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts_lr",
    "cosine_decay_lr",
    "cosine_decay_refined_lr",
    "cyclic_lr",
    "exponential_lr",
    "exponential_refined_lr",
    "linear_lr",
    "linear_refined_lr",
    "multi_step_lr",
    "one_cycle_lr",
    "polynomial_lr",
    "polynomial_refined_lr",
    "step_lr",
]


def _epochs(steps_per_epoch: int, epochs: int, refined: bool) -> np.ndarray:
    """The epoch position of every step: fractional (refined) or floored."""
    position = np.arange(steps_per_epoch * epochs) / steps_per_epoch
    return position if refined else np.floor(position)


def _ours(scheduler: str, lr: float, steps_per_epoch: int, epochs: int, refined: bool, **kwargs) -> list:
    """`create_scheduler` without warmup, per epoch (`refined`: per step)."""
    stair = not refined
    return create_scheduler(
        steps_per_epoch, scheduler, lr, warmup_epochs=0, num_epochs=epochs, lr_epoch_stair=stair, **kwargs
    )


def constant_lr(factor, total_iters, *, lr, steps_per_epoch, epochs) -> List[float]:
    """`lr * factor` for the first `total_iters` epochs, then `lr`."""
    e = _epochs(steps_per_epoch, epochs, False)
    return np.where(e < total_iters, lr * factor, lr).tolist()


def _linear(start_factor, end_factor, total_iters, lr, steps_per_epoch, epochs, refined):
    e = _epochs(steps_per_epoch, epochs, refined)
    done = np.minimum(e, total_iters) / total_iters
    return (lr * (start_factor + (end_factor - start_factor) * done)).tolist()


def linear_lr(start_factor, end_factor, total_iters, *, lr, steps_per_epoch, epochs) -> List[float]:
    """From `lr * start_factor` to `lr * end_factor` over `total_iters` epochs, then constant."""
    return _linear(start_factor, end_factor, total_iters, lr, steps_per_epoch, epochs, False)


def linear_refined_lr(start_factor, end_factor, total_iters, *, lr, steps_per_epoch, epochs) -> List[float]:
    return _linear(start_factor, end_factor, total_iters, lr, steps_per_epoch, epochs, True)


def _polynomial(total_iters, power, lr, steps_per_epoch, epochs, refined):
    e = _epochs(steps_per_epoch, epochs, refined)
    return (lr * (1 - np.minimum(e, total_iters) / total_iters) ** power).tolist()


def polynomial_lr(total_iters, power, *, lr, steps_per_epoch, epochs) -> List[float]:
    """`lr * (1 - e / total_iters) ** power`, 0 from epoch `total_iters` on."""
    return _polynomial(total_iters, power, lr, steps_per_epoch, epochs, False)


def polynomial_refined_lr(total_iters, power, *, lr, steps_per_epoch, epochs) -> List[float]:
    return _polynomial(total_iters, power, lr, steps_per_epoch, epochs, True)


def exponential_lr(gamma, *, lr, steps_per_epoch, epochs) -> List[float]:
    """`lr * gamma ** e`."""
    return _ours("exponential_decay", lr, steps_per_epoch, epochs, False, decay_rate=gamma)


def exponential_refined_lr(gamma, *, lr, steps_per_epoch, epochs) -> List[float]:
    return _ours("exponential_decay", lr, steps_per_epoch, epochs, True, decay_rate=gamma)


def step_lr(step_size, gamma, *, lr, steps_per_epoch, epochs) -> List[float]:
    """`lr * gamma ** (e // step_size)`."""
    return _ours("step_decay", lr, steps_per_epoch, epochs, False, decay_epochs=step_size, decay_rate=gamma)


def multi_step_lr(milestones: Sequence[int], gamma, *, lr, steps_per_epoch, epochs) -> List[float]:
    """`lr * gamma ** (number of milestones <= e)`."""
    milestones = sorted(milestones)
    return _ours(
        "multi_step_decay", lr, steps_per_epoch, epochs, False, milestones=milestones, decay_rate=gamma
    )


def cosine_decay_lr(t_max, eta_min, *, eta_max, steps_per_epoch, epochs) -> List[float]:
    """Half a cosine from `eta_max` to `eta_min` over `t_max` epochs, then `eta_min`."""
    return _ours("cosine_decay", eta_max, steps_per_epoch, epochs, False, min_lr=eta_min, decay_epochs=t_max)


def cosine_decay_refined_lr(t_max, eta_min, *, eta_max, steps_per_epoch, epochs) -> List[float]:
    return _ours("cosine_decay", eta_max, steps_per_epoch, epochs, True, min_lr=eta_min, decay_epochs=t_max)


def cosine_annealing_lr(t_max, eta_min, *, eta_max, steps_per_epoch, epochs) -> List[float]:
    """PyTorch's CosineAnnealingLR: the cosine keeps going past `t_max` (back up to `eta_max`)."""
    e = _epochs(steps_per_epoch, epochs, False)
    return (eta_min + 0.5 * (eta_max - eta_min) * (1 + np.cos(np.pi * e / t_max))).tolist()


def cosine_annealing_warm_restarts_lr(te, tm, eta_min, *, eta_max, steps_per_epoch, epochs) -> List[float]:
    """SGDR: cosine periods of `te` epochs, each `tm` times longer than the last, restarting at
    `eta_max`; the rate changes every step."""
    lrs, period, start = [], te, 0
    for epoch in range(epochs):
        if epoch == start + period:  # a restart
            start, period = start + period, period * tm
        phase = (epoch - start + np.arange(steps_per_epoch) / steps_per_epoch) / period
        lrs.extend((eta_min + 0.5 * (eta_max - eta_min) * (1 + np.cos(np.pi * phase))).tolist())
    return lrs
