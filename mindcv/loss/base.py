"""The shared part of the losses: argument checks, class weights and auxiliary logits.

A network with deep supervision (Inception-style) returns `(logits, aux_logits, ...)` while
training; the loss is then `loss(logits) + aux_factor * sum(loss(aux) for each aux)`. With
`aux_factor=0` the auxiliary outputs are ignored, as in MindCV.
"""

from typing import Optional, Sequence, Union

import mindspore as ms
import numpy as np
from mindspore import nn

from ..utils.errors import MindCVError

__all__ = ["ClassificationLoss"]

REDUCTIONS = ("mean", "sum", "none")


class ClassificationLoss(nn.LossBase):
    """Base of the losses: subclasses implement `loss(logits, labels)` for one logits tensor."""

    def __init__(
        self,
        smoothing: float = 0.0,
        aux_factor: float = 0.0,
        reduction: str = "mean",
        weight: Optional[Union[ms.Tensor, Sequence[float]]] = None,
    ):
        if reduction not in REDUCTIONS:
            raise MindCVError(f"unknown loss reduction '{reduction}': choose one of {', '.join(REDUCTIONS)}")
        if not 0.0 <= smoothing < 1.0:
            raise MindCVError(f"label_smoothing must be in [0, 1), got {smoothing}")
        if aux_factor < 0:
            raise MindCVError(f"aux_factor must be >= 0, got {aux_factor}")
        super().__init__(reduction)
        self.smoothing = float(smoothing)
        self.aux_factor = float(aux_factor)
        self.reduction = reduction
        self.weight = None if weight is None else ms.Tensor(np.asarray(weight, np.float32))

    def loss(self, logits, labels):
        raise NotImplementedError

    def construct(self, logits, labels):
        if not isinstance(logits, (tuple, list)):
            return self.loss(logits, labels)
        total = self.loss(logits[0], labels)
        if self.aux_factor > 0:
            for aux_logits in logits[1:]:
                total = total + self.aux_factor * self.loss(aux_logits, labels)
        return total
