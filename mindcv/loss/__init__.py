"""Classification losses with label smoothing, soft labels and auxiliary logits; `create_loss`."""

from .base import ClassificationLoss
from .binary_cross_entropy import BinaryCrossEntropySmooth
from .cross_entropy import CrossEntropySmooth
from .factory import LOSSES, create_loss

__all__ = ["LOSSES", "BinaryCrossEntropySmooth", "CrossEntropySmooth", "ClassificationLoss", "create_loss"]
