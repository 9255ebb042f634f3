"""Softmax cross-entropy for integer labels and for soft labels (mixup / cutmix)."""

from mindspore import ops

from .base import ClassificationLoss

__all__ = ["CrossEntropySmooth"]


class CrossEntropySmooth(ClassificationLoss):
    """Cross-entropy of logits `(N, C)` against labels `(N,)` of class indices or `(N, C)` of
    class probabilities, with torch's semantics (MindSpore's `ops.cross_entropy`).

    Smoothing mixes the target with the uniform distribution: `(1 - s) * target + s / C`.
    With a class `weight`, each class's term is scaled by its weight, and the mean of
    integer-labelled samples divides by the summed weights of their classes (soft labels divide
    by N). `reduction="none"` returns one loss per sample, shape `(N,)`.
    """

    def loss(self, logits, labels):
        return ops.cross_entropy(
            logits, labels, weight=self.weight, reduction=self.reduction, label_smoothing=self.smoothing
        )
