"""`create_loss`: MindCV's loss factory, with every argument honoured for both losses.

MindCV's own factory drops `weight` and `reduction` when `aux_factor > 0` and its BCE ignores
auxiliary logits; here CE and BCE take all five arguments.
"""

from typing import Optional, Sequence, Union

import mindspore as ms

from .. import names
from ..utils.errors import unknown_choice
from .base import ClassificationLoss
from .binary_cross_entropy import BinaryCrossEntropySmooth
from .cross_entropy import CrossEntropySmooth

__all__ = ["LOSSES", "create_loss"]

_CLASSES = {"CE": CrossEntropySmooth, "BCE": BinaryCrossEntropySmooth}
LOSSES = {name.lower(): _CLASSES[name] for name in names.LOSSES}  # the names are mindcv.names'


def create_loss(
    name: str = "CE",
    weight: Optional[Union[ms.Tensor, Sequence[float]]] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    aux_factor: float = 0.0,
) -> ClassificationLoss:
    """The loss cell `name` ("CE" or "BCE", any case), called as `loss(logits, labels)`.

    `logits` may be a tuple `(main, aux, ...)`; `labels` are class indices `(N,)` or soft labels
    `(N, C)`. `weight` is a per-class weight of shape `(C,)`.
    """
    key = name.lower()
    if key not in LOSSES:
        raise unknown_choice("loss", name, [k.upper() for k in LOSSES], match_as=name.upper())
    return LOSSES[key](smoothing=label_smoothing, aux_factor=aux_factor, reduction=reduction, weight=weight)
