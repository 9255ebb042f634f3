"""`create_scheduler`: MindCV's learning-rate schedules as one learning rate per training step.

The list goes straight into an optimizer's `learning_rate`, which MindSpore indexes by the
optimizer's global step, so a resumed run continues on the same curve. Semantics are MindCV's:

- A linear warmup over `warmup_epochs`, from `warmup_factor * lr` towards `lr`, precedes the
  decay phase. Epochs of the decay phase, and so `decay_epochs` and `milestones`, count from the
  end of the warmup.
- Positions are fractional epochs, so the learning rate changes every step; `lr_epoch_stair`
  floors them, holding it constant within an epoch. `step_decay` and `multi_step_decay` change
  only at epoch boundaries in either mode.

With `e` the epoch of a step within the decay phase and `E = num_epochs - warmup_epochs`:

- constant: `lr`.
- cosine_decay: `min_lr + (peak - min_lr) * (1 + cos(pi * (e mod decay_epochs) / decay_epochs)) / 2`
  for `num_cycles` cycles of `decay_epochs`, `peak = lr * cycle_decay ** cycle`; then `min_lr`.
- step_decay: `lr * decay_rate ** (floor(e) // decay_epochs)`.
- exponential_decay: `lr * decay_rate ** e` (`decay_epochs` is not used).
- polynomial_decay: `lr * (1 - e / E) ** decay_rate`, reaching 0 at the end (`min_lr` is not used).
- multi_step_decay: `lr * decay_rate ** (number of milestones <= floor(e))`.
- one_cycle, cyclic (MindCV's settings of `cycles.py`): one cycle from `lr / 25` up to `lr` over
  the first 30% of the run and down to `min_lr`; `num_cycles` triangles between `min_lr` and `lr`.
  Both shape the whole run themselves, so `warmup_epochs` and `lr_epoch_stair` do not apply.
"""

import logging
import math
from typing import Collection, List, Optional, Sequence, Tuple

import numpy as np

from ..names import SCHEDULERS
from ..utils.errors import MindCVError, unknown_choice
from .cycles import cyclic_lr, one_cycle_lr

__all__ = ["SCHEDULERS", "create_scheduler"]

_ALIASES = {"warmup_cosine_decay": "cosine_decay"}  # MindCV's earlier name, still in old YAMLs

_logger = logging.getLogger(__name__)


def create_scheduler(
    steps_per_epoch: int,
    scheduler: str = "constant",
    lr: float = 0.01,
    min_lr: float = 1e-6,
    warmup_epochs: int = 3,
    warmup_factor: float = 0.0,
    decay_epochs: int = 10,
    decay_rate: float = 0.9,
    milestones: Optional[Sequence[int]] = None,
    num_epochs: int = 200,
    num_cycles: int = 1,
    cycle_decay: float = 1.0,
    lr_epoch_stair: bool = False,
    fit_to_run: Collection[str] = (),
) -> List[float]:
    """The learning rate of each of the `steps_per_epoch * num_epochs` steps (see the module doc).

    `fit_to_run` names the lengths among `warmup_epochs` and `decay_epochs` that the user did not
    choose: where such a default does not fit the run it is shortened with one warning line, so
    a one-epoch trial runs. A chosen value that cannot work stays an error.
    """
    name = _ALIASES.get(scheduler.lower(), scheduler.lower())
    if name not in SCHEDULERS:
        raise unknown_choice("scheduler", scheduler, SCHEDULERS, match_as=name)
    if name in ("one_cycle", "cyclic"):
        if (warmup_epochs and "warmup_epochs" not in fit_to_run) or lr_epoch_stair:
            _logger.warning(
                "%s sets the lr of every step itself: warmup_epochs and lr_epoch_stair are ignored", name
            )
        steps_per_epoch, num_epochs, _ = _whole_lengths(steps_per_epoch, num_epochs, 0)
        length = {"steps_per_epoch": steps_per_epoch, "epochs": num_epochs}
        if name == "one_cycle":
            final_div_factor = lr / 25.0 / min_lr if min_lr > 0 else math.inf  # ends at min_lr
            return one_cycle_lr(lr, div_factor=25.0, final_div_factor=final_div_factor, **length)
        up = max(steps_per_epoch * num_epochs // (2 * num_cycles), 1)
        return cyclic_lr(min_lr, lr, step_size_up=up, **length)
    if "warmup_epochs" in fit_to_run:  # leave an epoch to decay in, so a short trial reaches lr
        warmup_epochs = _fitted("warmup_epochs", warmup_epochs, max(int(num_epochs) - 1, 0), num_epochs)
    steps_per_epoch, num_epochs, warmup_epochs = _whole_lengths(steps_per_epoch, num_epochs, warmup_epochs)
    if "decay_epochs" in fit_to_run and name == "cosine_decay":  # the cosine ends at min_lr in the run
        room = max((num_epochs - warmup_epochs) // num_cycles, 1)
        decay_epochs = _fitted("decay_epochs", decay_epochs, room, num_epochs)
    milestones = list(milestones or [])
    if name == "multi_step_decay" and (not milestones or np.any(np.diff(milestones) <= 0)):
        raise MindCVError(
            f"multi_step_decay needs increasing epoch milestones, got {milestones}; e.g. milestones=[30, 60]"
        )
    if name in ("cosine_decay", "step_decay") and decay_epochs <= 0:
        raise MindCVError(f"{name} needs decay_epochs > 0, got {decay_epochs}")
    if name == "cosine_decay" and warmup_epochs + num_cycles * decay_epochs > num_epochs:
        _logger.warning(
            "cosine_decay: warmup_epochs + num_cycles * decay_epochs exceeds num_epochs=%d, "
            "so the learning rate stops before reaching min_lr",
            num_epochs,
        )
    if lr_epoch_stair and warmup_epochs and warmup_factor == 0:
        _logger.warning("warmup_factor=0 with lr_epoch_stair: the whole first epoch has lr 0; try 0.01")

    epochs = np.arange(steps_per_epoch * num_epochs) / steps_per_epoch
    if lr_epoch_stair:
        epochs = np.floor(epochs)
    warmup_steps = warmup_epochs * steps_per_epoch
    warmup = lr * (warmup_factor + (1 - warmup_factor) * epochs[:warmup_steps] / warmup_epochs)
    decay_phase_epochs = num_epochs - warmup_epochs
    decay = {
        "constant": lambda e: np.full_like(e, lr),
        "cosine_decay": lambda e: _cosine(e, lr, min_lr, decay_epochs, num_cycles, cycle_decay),
        "step_decay": lambda e: lr * decay_rate ** (np.floor(e) // decay_epochs),
        "exponential_decay": lambda e: lr * decay_rate**e,
        "polynomial_decay": lambda e: lr * (1 - e / decay_phase_epochs) ** decay_rate,
        "multi_step_decay": lambda e: lr * decay_rate ** np.searchsorted(milestones, np.floor(e), "right"),
    }[name]
    return np.concatenate([warmup, decay(epochs[warmup_steps:] - warmup_epochs)]).tolist()


def _fitted(option: str, default, largest: int, num_epochs):
    """`default`, or `largest` with a warning when the default does not fit the run."""
    if default <= largest:
        return default
    _logger.warning(
        "%s: the default %d does not fit a run of %s epochs; using %d (set %s to choose)",
        option,
        default,
        num_epochs,
        largest,
        option,
    )
    return largest


def _whole_lengths(steps_per_epoch, num_epochs, warmup_epochs) -> Tuple[int, int, int]:
    """The step and epoch counts as ints (YAML may give 3.0), checked whole, positive and the
    warmup within the run."""
    for key, value in (("steps_per_epoch", steps_per_epoch), ("num_epochs", num_epochs)):
        if int(value) != value or value < 1:
            raise MindCVError(f"{key} must be a whole number >= 1, got {value}")
    if int(warmup_epochs) != warmup_epochs or not 0 <= warmup_epochs <= num_epochs:
        raise MindCVError(
            f"warmup_epochs must be a whole number of epochs within num_epochs={num_epochs}, "
            f"got {warmup_epochs}; lower warmup_epochs"
        )
    return int(steps_per_epoch), int(num_epochs), int(warmup_epochs)


def _cosine(epochs, lr, min_lr, decay_epochs, num_cycles, cycle_decay):
    """Half-cosine cycles from a peak (shrinking by `cycle_decay`) down to `min_lr`, then `min_lr`."""
    cycle = np.floor(epochs / decay_epochs)
    phase = epochs / decay_epochs - cycle
    peak = lr * cycle_decay**cycle
    lrs = min_lr + 0.5 * (peak - min_lr) * (1 + np.cos(np.pi * phase))
    return np.where(cycle < num_cycles, lrs, min_lr)
