"""One-cycle and cyclic learning rates per step, with MindCV's (PyTorch's) arguments and meaning.

- `one_cycle_lr`: from `max_lr / div_factor` up to `max_lr` over the first `pct_start` of
  `total_steps`, then down to `max_lr / div_factor / final_div_factor` (three_phase: back to the
  start first, then down), annealed by cosine or linearly (Smith, "Super-Convergence", 2017).
- `cyclic_lr`: triangles between `base_lr` and `max_lr`, `step_size_up` steps up and
  `step_size_down` down; "triangular2" halves the height each cycle, "exp_range" scales it by
  `gamma ** step` (Smith, "Cyclical Learning Rates", 2015).
"""

from typing import Callable, List, Optional

import numpy as np

from ..utils.errors import MindCVError

__all__ = ["cyclic_lr", "one_cycle_lr"]


def one_cycle_lr(
    max_lr: float,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    *,
    steps_per_epoch: int,
    epochs: int,
    lr: Optional[float] = None,
    total_steps: Optional[int] = None,
) -> List[float]:
    """`steps_per_epoch * epochs` learning rates (`lr` is accepted as in MindCV and not used).
    The positional parameters are MindCV's, in its order; `total_steps` (PyTorch's: the cycle's
    length when it differs from the run's) is ours, so keyword-only."""
    steps = steps_per_epoch * epochs
    total = total_steps or steps
    if anneal_strategy not in ("cos", "linear"):
        raise MindCVError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    if not 0 < pct_start < 1 or total < 2:
        raise MindCVError(f"one_cycle needs 0 < pct_start < 1 and >= 2 steps, got {pct_start} and {total}")
    initial = max_lr / div_factor
    final = initial / final_div_factor
    rise = pct_start * total - 1
    if three_phase:
        ends, values = [rise, 2 * pct_start * total - 2, total - 1], [initial, max_lr, initial, final]
    else:
        ends, values = [rise, total - 1], [initial, max_lr, final]
    step = np.minimum(np.arange(steps, dtype=np.float64), total - 1)
    phase = np.minimum(np.searchsorted(ends, step, "left"), len(ends) - 1)
    starts = np.array([0.0] + ends[:-1])
    done = (step - starts[phase]) / (np.array(ends)[phase] - starts[phase])
    start, end = np.array(values[:-1])[phase], np.array(values[1:])[phase]
    if anneal_strategy == "cos":
        return (end + (start - end) / 2 * (np.cos(np.pi * done) + 1)).tolist()
    return (start + (end - start) * done).tolist()


def cyclic_lr(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: Optional[int] = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Optional[Callable[[float], float]] = None,
    scale_mode: str = "cycle",
    *,
    steps_per_epoch: int,
    epochs: int,
    lr: Optional[float] = None,
) -> List[float]:
    """`steps_per_epoch * epochs` learning rates (`lr` is accepted as in MindCV and not used)."""
    down = step_size_up if step_size_down is None else step_size_down
    if step_size_up < 1 or down < 0:
        raise MindCVError(f"cyclic needs step_size_up >= 1, step_size_down >= 0; got {step_size_up}, {down}")
    if scale_fn is None:
        modes = {
            "triangular": (lambda x: 1.0, "cycle"),
            "triangular2": (lambda x: 1 / 2.0 ** (x - 1), "cycle"),
            "exp_range": (lambda x: gamma**x, "iterations"),
        }
        if mode not in modes:
            raise MindCVError(f"unknown cyclic mode {mode!r}: choose triangular, triangular2 or exp_range")
        scale_fn, scale_mode = modes[mode]
    size = step_size_up + down
    lrs = []
    for i in range(steps_per_epoch * epochs):
        cycle = np.floor(1 + i / size)
        x = 1 + i / size - cycle
        ratio = step_size_up / size
        height = (max_lr - base_lr) * (x / ratio if x <= ratio else (x - 1) / (ratio - 1))
        lrs.append(float(base_lr + height * scale_fn(cycle if scale_mode == "cycle" else i)))
    return lrs
