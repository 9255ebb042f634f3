"""Auxiliary logits and argument checks shared by both losses."""

import mindspore as ms
import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.loss import BinaryCrossEntropySmooth, CrossEntropySmooth

RNG = np.random.default_rng(2)
MAIN = ms.Tensor(RNG.normal(size=(4, 3)).astype(np.float32))
AUX = ms.Tensor(RNG.normal(size=(4, 3)).astype(np.float32))
LABELS = ms.Tensor(np.array([0, 2, 1, 1], np.int32))


@pytest.mark.parametrize("cls", [CrossEntropySmooth, BinaryCrossEntropySmooth])
def test_aux_logits_add_aux_factor_times_their_loss(cls, mode):
    plain = cls(smoothing=0.1)
    main, aux = plain(MAIN, LABELS).asnumpy(), plain(AUX, LABELS).asnumpy()
    combined = cls(smoothing=0.1, aux_factor=0.4)((MAIN, AUX, AUX), LABELS).asnumpy()
    assert combined == pytest.approx(main + 0.4 * 2 * aux, rel=1e-5)


def test_aux_logits_are_ignored_without_aux_factor():
    loss = CrossEntropySmooth()
    assert loss((MAIN, AUX), LABELS).asnumpy() == pytest.approx(loss(MAIN, LABELS).asnumpy())


def test_aux_logits_with_reduction_none_add_per_sample():
    loss = CrossEntropySmooth(reduction="none", aux_factor=0.5)
    expected = loss(MAIN, LABELS).asnumpy() + 0.5 * loss(AUX, LABELS).asnumpy()
    np.testing.assert_allclose(loss((MAIN, AUX), LABELS).asnumpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reduction": "avg"}, "unknown loss reduction 'avg'"),
        ({"smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
        ({"aux_factor": -0.1}, "aux_factor must be >= 0"),
    ],
)
def test_bad_arguments_are_errors(kwargs, message):
    with pytest.raises(MindCVError, match=message):
        CrossEntropySmooth(**kwargs)
