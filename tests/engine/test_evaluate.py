"""`mindcv.engine.evaluate`: top-1, top-5 and loss over a whole loader, each sample counted once."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.engine.evaluate import Evaluator, evaluate
from tests.engine.fakes import FakeLoader


def _expected(network, loader):
    logits = np.concatenate([network(ms.Tensor(x)).asnumpy() for x, _ in loader.data]).astype(np.float64)
    labels = np.concatenate([y for _, y in loader.data])
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    order = np.argsort(-logits, axis=1)
    return {
        "top1": float(np.mean(order[:, 0] == labels)),
        "top5": float(np.mean((order[:, :5] == labels[:, None]).any(axis=1))),
        "loss": float(-log_probs[np.arange(len(labels)), labels].mean()),
        "num_samples": len(labels),
    }


def test_metrics_match_numpy_and_an_uneven_last_batch_weighs_what_it_holds(mode):
    ms.set_seed(0)
    network = nn.Dense(4, 7)
    loader = FakeLoader(3, batch_size=4, classes=7)
    loader.data[-1] = (loader.data[-1][0][:1], loader.data[-1][1][:1])  # a last batch of one sample
    result = evaluate(network, loader, progress=False)
    expected = _expected(network, loader)
    assert result["num_samples"] == 9
    assert result["top1"] == pytest.approx(expected["top1"])
    assert result["top5"] == pytest.approx(expected["top5"])
    assert result["loss"] == pytest.approx(expected["loss"], rel=1e-5)


def test_fewer_than_five_classes_count_every_class_in_top5_and_one_evaluator_is_reusable():
    network = nn.Dense(4, 3)
    evaluator = Evaluator(network)
    loader = FakeLoader(2, batch_size=2, classes=3)
    first = evaluator(loader, progress=False)
    assert first["top5"] == 1.0
    assert evaluator(loader, progress=False) == first
    assert not network.training  # evaluated in eval mode
