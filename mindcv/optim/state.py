"""Restore an optimizer's state (moments, step counters) from a checkpoint, to resume training.

The learning rate and momentum, which MindSpore keeps as parameters too, are not restored: they
come from the arguments, so a resumed run may change them. Network weights in the same file are
left to the model loader.
"""

from pathlib import Path
from typing import Dict

from mindspore import Parameter, nn

from ..models.checkpoint import read_checkpoint
from ..utils.errors import MindCVError

__all__ = ["load_optimizer_state", "optimizer_state"]

_MAX_KEYS_SHOWN = 3


def optimizer_state(optimizer: nn.Optimizer) -> Dict[str, Parameter]:
    """The optimizer's own state parameters by name: moments, global step, beta powers."""
    weights = {p.name for p in optimizer.parameters}
    return {
        p.name: p
        for p in optimizer.get_parameters()
        if p.name not in weights and p.name != "momentum" and not p.name.startswith("learning_rate")
    }


def load_optimizer_state(optimizer: nn.Optimizer, path) -> None:
    """Load the state saved by `ms.save_checkpoint(optimizer or train cell, path)` into
    `optimizer`, requiring all of it to be there with its shapes."""
    if not Path(path).is_file():
        raise MindCVError(f"optimizer checkpoint {path} does not exist; check checkpoint_path")
    saved = read_checkpoint(path)
    state = optimizer_state(optimizer)
    problems = [f"missing {k}" for k in state if k not in saved]
    problems += [
        f"{k} {tuple(saved[k].shape)} vs {tuple(p.shape)}"
        for k, p in state.items()
        if k in saved and tuple(saved[k].shape) != tuple(p.shape)
    ]
    if problems:
        more = f" (+{len(problems) - _MAX_KEYS_SHOWN} more)" if len(problems) > _MAX_KEYS_SHOWN else ""
        raise MindCVError(
            f"checkpoint {path} does not hold the state of this {type(optimizer).__name__}: "
            f"{'; '.join(problems[:_MAX_KEYS_SHOWN])}{more}. Was it saved with another opt or model?"
        )
    for name, param in state.items():
        param.set_data(saved[name].astype(param.dtype))
