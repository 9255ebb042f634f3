"""Binary cross-entropy against NumPy formulas: one-hot encoding, smoothing, weights, reductions."""

import mindspore as ms
import numpy as np
import pytest

from mindcv.loss import BinaryCrossEntropySmooth

RNG = np.random.default_rng(1)
LOGITS = RNG.normal(size=(4, 3)).astype(np.float32)
LABELS = np.array([2, 0, 1, 2], np.int32)
WEIGHT = np.array([0.5, 1.0, 2.0], np.float32)


def bce(target):
    """Elementwise BCE of sigmoid(LOGITS) against `target`, shape (4, 3)."""
    p = 1 / (1 + np.exp(-LOGITS.astype(np.float64)))
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def loss(labels, **kwargs):
    return BinaryCrossEntropySmooth(**kwargs)(ms.Tensor(LOGITS), ms.Tensor(labels)).asnumpy()


def test_integer_labels_are_one_hot_encoded(mode):
    assert loss(LABELS) == pytest.approx(bce(np.eye(3)[LABELS]).mean(), rel=1e-5)


def test_smoothing_moves_targets_towards_one_over_c():
    s = 0.3
    target = np.eye(3)[LABELS] * (1 - s) + s / 3
    assert loss(LABELS, smoothing=s) == pytest.approx(bce(target).mean(), rel=1e-5)


def test_multi_label_soft_targets_with_class_weight_and_sum():
    target = RNG.uniform(size=(4, 3)).astype(np.float32)
    expected = (WEIGHT * bce(target)).sum()
    assert loss(target, weight=WEIGHT, reduction="sum") == pytest.approx(expected, rel=1e-5)


def test_reduction_none_keeps_every_term():
    none = loss(LABELS, reduction="none")
    assert none.shape == (4, 3)
    np.testing.assert_allclose(none, bce(np.eye(3)[LABELS]), rtol=1e-5)
