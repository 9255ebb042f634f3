"""`Mixup`: batch mixup/cutmix with soft labels, in NumPy.

MindSpore's `MixUpBatch`/`CutMixBatch` fail on about 0.35% of batches ("addition of variable(x1
and x2) of Gamma should not be 0"), which kills a real run, and cannot be seeded per batch. This
follows timm's `Mixup` in batch mode; each batch's draw comes from a generator seeded with
(seed, epoch, batch index), so a resumed epoch mixes exactly like an uninterrupted one.
"""

from typing import Sequence, Tuple

import numpy as np

from ..utils.errors import MindCVError

__all__ = ["Mixup"]


class Mixup:
    """`per_batch_map` for `Dataset.batch`: stacks a batch, mixes it, returns soft labels.

    `prob` is the chance a batch is mixed at all (MindCV's `cutmix_prob`); when both alphas are
    > 0, `switch_prob` picks cutmix over mixup. Labels become float32 (B, num_classes) rows that
    sum to 1, smoothed by `label_smoothing` (so the loss must not smooth again).
    """

    def __init__(
        self,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
        num_classes: int = 1000,
        seed: int = 42,
    ):
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.prob = prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing
        self.num_classes = num_classes
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """The next iterator's first batch is batch `start_batch` of `epoch` (see `set_epoch`)."""
        self.epoch, self.start_batch = epoch, start_batch

    def __call__(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray], batch_info):
        # A multi-epoch iterator counts its epochs in batch_info; a resumed start applies to its first.
        epoch_offset = batch_info.get_epoch_num()
        batch = batch_info.get_batch_num() + (self.start_batch if epoch_offset == 0 else 0)
        rng = np.random.default_rng([self.seed, self.epoch + epoch_offset, batch])
        return self.mix(np.stack(images).astype(np.float32), np.asarray(labels).reshape(-1), rng)

    def mix(
        self, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Mix an NCHW batch with its reverse; return (images, soft labels)."""
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise MindCVError(
                f"label {labels.max()} is outside [0, {self.num_classes}); set num_classes to the "
                "dataset's class count"
            )
        lam = 1.0
        if rng.random() < self.prob and (self.mixup_alpha > 0 or self.cutmix_alpha > 0):
            use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha <= 0 or rng.random() < self.switch_prob)
            if use_cutmix:
                lam = self._cutmix(images, rng.beta(self.cutmix_alpha, self.cutmix_alpha), rng)
            else:
                lam = float(rng.beta(self.mixup_alpha, self.mixup_alpha))
                images = images * lam + images[::-1] * (1.0 - lam)
        return images, self._soft_labels(labels, lam)

    @staticmethod
    def _cutmix(images: np.ndarray, lam: float, rng: np.random.Generator) -> float:
        """Paste a box of area ~(1 - lam) from the reversed batch, in place; return the exact lam."""
        height, width = images.shape[-2:]
        ratio = np.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * ratio), int(width * ratio)
        cy, cx = rng.integers(height), rng.integers(width)
        y0, y1 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
        x0, x1 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
        images[:, :, y0:y1, x0:x1] = images[::-1, :, y0:y1, x0:x1].copy()
        return 1.0 - (y1 - y0) * (x1 - x0) / (height * width)

    def _soft_labels(self, labels: np.ndarray, lam: float) -> np.ndarray:
        off = self.label_smoothing / self.num_classes
        one_hot = np.full((len(labels), self.num_classes), off, dtype=np.float32)
        one_hot[np.arange(len(labels)), labels] += 1.0 - self.label_smoothing
        return (one_hot * lam + one_hot[::-1] * (1.0 - lam)).astype(np.float32)
