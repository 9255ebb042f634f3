"""Cross-entropy against NumPy formulas: smoothing, soft labels, class weights, reductions."""

import mindspore as ms
import numpy as np
import pytest

from mindcv.loss import CrossEntropySmooth

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 5)).astype(np.float32)
LABELS = np.array([0, 3, 1, 4, 3, 2], np.int32)
SOFT = RNG.dirichlet(np.ones(5), size=6).astype(np.float32)  # mixup-like class probabilities
WEIGHT = np.array([1.0, 2.0, 0.5, 1.5, 3.0], np.float32)


def neg_log_softmax(x):
    x = x.astype(np.float64)
    return np.log(np.exp(x).sum(1, keepdims=True)) - x


def loss(labels, **kwargs):
    return CrossEntropySmooth(**kwargs)(ms.Tensor(LOGITS), ms.Tensor(labels)).asnumpy()


def test_integer_labels_with_smoothing(mode):
    nll = neg_log_softmax(LOGITS)
    s = 0.1
    expected = ((1 - s) * nll[np.arange(6), LABELS] + s * nll.mean(1)).mean()
    assert loss(LABELS, smoothing=s) == pytest.approx(expected, rel=1e-5)


def test_soft_labels_with_smoothing():
    s = 0.2
    target = (1 - s) * SOFT + s / 5
    expected = (target * neg_log_softmax(LOGITS)).sum(1).mean()
    assert loss(SOFT, smoothing=s) == pytest.approx(expected, rel=1e-5)


def test_one_hot_soft_labels_equal_integer_labels():
    one_hot = np.eye(5, dtype=np.float32)[LABELS]
    assert loss(one_hot, smoothing=0.1) == pytest.approx(loss(LABELS, smoothing=0.1), rel=1e-5)


def test_class_weight_mean_divides_by_the_weights_of_the_labels():
    per_sample = WEIGHT[LABELS] * neg_log_softmax(LOGITS)[np.arange(6), LABELS]
    assert loss(LABELS, weight=WEIGHT) == pytest.approx(per_sample.sum() / WEIGHT[LABELS].sum(), rel=1e-5)


def test_class_weight_with_soft_labels():
    expected = (WEIGHT * SOFT * neg_log_softmax(LOGITS)).sum(1).mean()
    assert loss(SOFT, weight=WEIGHT.tolist()) == pytest.approx(expected, rel=1e-5)


def test_reduction_none_and_sum():
    per_sample = neg_log_softmax(LOGITS)[np.arange(6), LABELS]
    none = loss(LABELS, reduction="none")
    assert none.shape == (6,)
    np.testing.assert_allclose(none, per_sample, rtol=1e-5)
    assert loss(LABELS, reduction="sum") == pytest.approx(per_sample.sum(), rel=1e-5)
