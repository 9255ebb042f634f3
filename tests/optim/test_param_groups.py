"""The weight-decay filter excludes exactly normalisation parameters and biases."""

import pytest
from mindspore import nn

from mindcv import MindCVError
from mindcv.models import create_model
from mindcv.optim import create_optimizer, param_groups


@pytest.fixture(scope="module")
def densenet():
    return create_model("densenet121", num_classes=10)


def decayed_names(optimizer):
    """What MindSpore will decay: the optimizer's own per-parameter flags."""
    return {p.name for p, flag in zip(optimizer.parameters, optimizer.decay_flags) if flag}


@pytest.mark.parametrize("weight_decay_filter", ["auto", "norm_and_bias"])
def test_densenet_decays_exactly_conv_and_classifier_weights(densenet, weight_decay_filter):
    names = [p.name for p in densenet.trainable_params()]
    weights = {n for n in names if (".conv" in n and n.endswith(".weight")) or n == "classifier.weight"}
    norms = {n for n in names if n.endswith((".gamma", ".beta"))}
    assert len(weights) == 121 and len(norms) == 2 * 121
    assert set(names) == weights | norms | {"classifier.bias"}

    opt = create_optimizer(densenet, "momentum", weight_decay=1e-4, weight_decay_filter=weight_decay_filter)
    assert decayed_names(opt) == weights
    assert [p.name for p in opt.parameters] == names  # the network's order is kept


def test_disable_decays_everything_even_batchnorm(densenet):
    """MindSpore alone would skip every name containing "gamma" or "beta"."""
    opt = create_optimizer(densenet, "momentum", weight_decay=1e-4, weight_decay_filter="disable")
    assert decayed_names(opt) == {p.name for p in densenet.trainable_params()}


def test_group_dicts_keep_their_settings_and_are_split():
    net = nn.SequentialCell([nn.Dense(3, 4), nn.BatchNorm1d(4), nn.Dense(4, 2)])
    first, second = net[0].trainable_params(), net[1].trainable_params() + net[2].trainable_params()
    groups = param_groups(
        [{"params": first, "lr": 0.5, "weight_decay": 0.2}, {"params": second}], 0.01, "norm_and_bias"
    )
    summary = [([p.name for p in g["params"]], g.get("lr"), g["weight_decay"]) for g in groups[:-1]]
    assert summary == [
        (["0.weight"], 0.5, 0.2),
        (["0.bias"], 0.5, 0.0),
        (["2.weight"], None, 0.01),
        (["1.gamma", "1.beta", "2.bias"], None, 0.0),
    ]
    assert [p.name for p in groups[-1]["order_params"]] == [p.name for p in first + second]


@pytest.mark.parametrize(
    "args, message",
    [
        ((nn.Dense(2, 2), 0.1, "bn"), "unknown weight_decay_filter 'bn'"),
        (([], 0.1), "no trainable parameters"),
        (([nn.Dense(2, 2).weight, {"params": []}], 0.1), "a mix"),
    ],
)
def test_bad_inputs_are_errors(args, message):
    with pytest.raises(MindCVError, match=message):
        param_groups(*args)
