"""LAMB: AdamW's bias-corrected step (adamw.py), each tensor's step rescaled by its trust ratio.

MindSpore 2.10's `nn.Lamb` has no CPU kernel; this one runs everywhere `AdamW` does.
"""

from .adamw import AdamW

__all__ = ["Lamb"]


class Lamb(AdamW):
    """LAMB (You et al., "Large Batch Optimization for Deep Learning", 2019): the AdamW step of
    each parameter tensor rescaled to that tensor's norm."""

    _trust_ratio = True

    def __init__(
        self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0, loss_scale=1.0
    ):
        super().__init__(params, learning_rate, beta1, beta2, eps, weight_decay, loss_scale)
