"""`create_optimizer`: MindCV's optimizer factory on MindSpore 2.10.

Differences from MindCV, each a fix: `weight_decay_filter` excludes exactly normalisation
parameters and biases (see `param_groups`); "nesterov" always uses Nesterov momentum (MindCV's
needs `nesterov=True` too); "adamw" is bias-corrected and "lamb" runs on CPU (see `adamw`); a
missing `checkpoint_path` is an error instead of being ignored.
"""

from typing import Iterable, Optional, Sequence, Union

import mindspore as ms
import numpy as np
from mindspore import Parameter, nn
from mindspore.nn.learning_rate_schedule import LearningRateSchedule

from ..names import OPTIMIZERS
from ..utils.errors import MindCVError, unknown_choice
from .adamw import AdamW
from .lamb import Lamb
from .lion import Lion
from .nadam import NAdam
from .param_groups import layer_decay_groups, param_groups
from .state import load_optimizer_state

__all__ = ["OPTIMIZERS", "create_optimizer"]


def create_optimizer(
    model_or_params: Union[nn.Cell, Iterable[Parameter], Iterable[dict]],
    opt: str = "adam",
    lr: Union[float, Sequence[float], np.ndarray, ms.Tensor] = 1e-3,
    weight_decay: float = 0,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay_filter: str = "disable",
    layer_decay: Optional[float] = None,
    loss_scale: float = 1.0,
    schedule_decay: float = 4e-3,
    checkpoint_path: str = "",
    eps: float = 1e-10,
    **kwargs,
) -> nn.Optimizer:
    """The optimizer `opt` (any case) over a network, its parameters or parameter-group dicts.

    `lr` is a float, or one learning rate per step (`create_scheduler`'s list, an array or a
    Tensor). `momentum` is used by sgd, momentum, nesterov and rmsprop; `nesterov` by sgd,
    momentum and adam; `eps` is RMSProp's epsilon, as in MindCV (Adam-family optimizers keep
    their defaults). `loss_scale` divides the gradients of a loss scaled by that factor.
    `layer_decay` (in (0, 1]) trains each layer at its own fraction of `lr`, the head at `lr` (see
    `param_groups.layer_ids`); it needs a network or parameters, and `lr` as a number or list.
    `checkpoint_path` restores moments and step from a checkpoint. `schedule_decay` is NAdam's
    momentum warm-up. Further `kwargs` (e.g. `beta1`) go to the optimizer class.
    """
    name = opt.lower()
    if name not in OPTIMIZERS:
        raise unknown_choice("optimizer", opt, OPTIMIZERS, match_as=name)
    learning_rate = _learning_rate(lr)
    if layer_decay is not None:
        model_or_params = layer_decay_groups(model_or_params, float(layer_decay), learning_rate)
    common = {
        "params": param_groups(model_or_params, float(weight_decay), weight_decay_filter),
        "learning_rate": learning_rate,
        "weight_decay": float(weight_decay),
        "loss_scale": float(loss_scale),
    }
    momentum = float(momentum)
    build = {
        "sgd": lambda: nn.SGD(**common, momentum=momentum, nesterov=nesterov, **kwargs),
        "momentum": lambda: nn.Momentum(**common, momentum=momentum, use_nesterov=nesterov, **kwargs),
        "nesterov": lambda: nn.Momentum(**common, momentum=momentum, use_nesterov=True, **kwargs),
        "adam": lambda: nn.Adam(**common, use_nesterov=nesterov, **kwargs),
        "adamw": lambda: AdamW(**common, **kwargs),
        "rmsprop": lambda: nn.RMSProp(**common, momentum=momentum, epsilon=eps, **kwargs),
        "adagrad": lambda: nn.Adagrad(**common, **kwargs),
        "lamb": lambda: Lamb(**common, **kwargs),
        "lion": lambda: Lion(**common, **kwargs),
        "nadam": lambda: NAdam(**common, schedule_decay=schedule_decay, **kwargs),
    }
    optimizer = build[name]()
    if checkpoint_path:
        load_optimizer_state(optimizer, checkpoint_path)
    return optimizer


def _learning_rate(lr):
    """A float, or a per-step schedule as a 1-D float32 Tensor that MindSpore indexes by step
    (a MindSpore `LearningRateSchedule` cell passes through)."""
    if isinstance(lr, LearningRateSchedule):
        return lr
    values = np.asarray(lr.asnumpy() if isinstance(lr, ms.Tensor) else lr, np.float32)
    if values.ndim == 0:
        return float(values)
    if values.ndim != 1 or values.size == 0:
        raise MindCVError(f"lr must be a number or a non-empty list of per-step rates, got {values.shape}")
    return ms.Tensor(values)
