"""`create_loss` picks the loss by name (any case) and passes every argument on."""

import mindspore as ms
import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.loss import BinaryCrossEntropySmooth, CrossEntropySmooth, create_loss


@pytest.mark.parametrize(
    "name, cls", [("CE", CrossEntropySmooth), ("ce", CrossEntropySmooth), ("BCE", BinaryCrossEntropySmooth)]
)
def test_names(name, cls):
    assert type(create_loss(name)) is cls


def test_arguments_reach_the_loss():
    loss = create_loss("BCE", weight=[1.0, 2.0], reduction="sum", label_smoothing=0.1, aux_factor=0.3)
    assert (loss.smoothing, loss.aux_factor, loss.reduction) == (0.1, 0.3, "sum")
    np.testing.assert_array_equal(loss.weight.asnumpy(), [1.0, 2.0])


def test_default_is_mean_cross_entropy_of_integer_labels():
    logits = ms.Tensor(np.array([[2.0, 0.0], [0.0, 1.0]], np.float32))
    labels = ms.Tensor(np.array([0, 0], np.int32))
    expected = np.mean([np.log(1 + np.exp(-2.0)), np.log(1 + np.exp(1.0))])
    assert create_loss()(logits, labels).asnumpy() == pytest.approx(expected, rel=1e-5)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(MindCVError, match="unknown loss 'BCEE': did you mean 'BCE'"):
        create_loss("BCEE")
