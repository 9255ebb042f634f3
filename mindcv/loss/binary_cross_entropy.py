"""Sigmoid binary cross-entropy per class, for multi-label targets or as a classification loss."""

from mindspore import ops

from .base import ClassificationLoss

__all__ = ["BinaryCrossEntropySmooth"]


class BinaryCrossEntropySmooth(ClassificationLoss):
    """Binary cross-entropy of logits `(N, C)` against labels `(N, C)` in [0, 1] (multi-hot or
    mixup targets) or `(N,)` class indices, which are one-hot encoded.

    Smoothing maps the target to `(1 - s) * target + s / C`, as timm and MindCV do. A class
    `weight` of shape `(C,)` scales each class's term. "mean" averages over all `N * C` terms and
    `reduction="none"` returns them, shape `(N, C)`.
    """

    def loss(self, logits, labels):
        if labels.ndim < logits.ndim:
            labels = ops.one_hot(labels, logits.shape[-1], 1.0, 0.0)
        labels = labels.astype(logits.dtype)
        if self.smoothing > 0:
            labels = labels * (1 - self.smoothing) + self.smoothing / logits.shape[-1]
        return ops.binary_cross_entropy_with_logits(logits, labels, self.weight, None, self.reduction)
