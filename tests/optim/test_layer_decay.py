"""layer_decay: timm's DenseNet layers, lr scale per layer, real steps of every optimizer, errors."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv import MindCVError
from mindcv.models import create_model
from mindcv.optim import OPTIMIZERS, create_optimizer, is_norm_or_bias, layer_ids

DECAY = 0.9
SCHEDULE = [0.1, 0.05]  # per-step rates
WD = 0.01


@pytest.fixture(scope="module")
def densenet():
    return create_model("densenet121", num_classes=10)


def test_densenet_layers_are_timms(densenet):
    """Stem 0, one layer per dense layer (a transition joins the one before it), then the head."""
    names = [p.name for p in densenet.trainable_params()]
    ids = dict(zip(names, layer_ids(names)))
    assert ids["features.conv0.weight"] == ids["features.norm0.gamma"] == 0
    assert ids["features.denseblock1.cell_list.0.conv1.weight"] == 1
    assert (
        ids["features.transition1.features.conv.weight"]
        == ids["features.denseblock1.cell_list.5.conv2.weight"]
    )
    assert ids["features.denseblock2.cell_list.0.norm1.gamma"] == 7  # after block 1's 6 layers
    assert ids["features.norm5.gamma"] == ids["classifier.weight"] == ids["classifier.bias"] == 59
    assert sorted(set(ids.values())) == list(range(60))  # 1 + (6 + 12 + 24 + 16) + 1
    assert list(ids.values()) == sorted(ids.values())  # depth grows along the network's order


def test_other_networks_get_one_layer_per_top_level_cell():
    net = nn.SequentialCell([nn.Dense(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3)])
    names = [p.name for p in net.trainable_params()]
    assert dict(zip(names, layer_ids(names))) == {
        "0.weight": 0,
        "0.bias": 0,
        "1.gamma": 1,
        "1.beta": 1,
        "3.weight": 2,
        "3.bias": 2,
    }


def test_densenet_sgd_steps_follow_the_schedule_times_each_layers_scale():
    """Two plain-SGD steps along a per-step schedule: every parameter moves by
    lr[t] * scale * (grad + decay * w), decay only on conv and classifier weights; the head's
    scale is 1, the stem's DECAY ** top, and the measured scale grows with depth. The tests'
    small DenseNet (10 layers): the arithmetic is the same at any depth."""
    params = create_model("densenet_test", num_classes=10).trainable_params()
    opt = create_optimizer(
        params,
        "sgd",
        lr=SCHEDULE,
        momentum=0.0,
        weight_decay=WD,
        weight_decay_filter="norm_and_bias",
        layer_decay=DECAY,
    )
    rng = np.random.default_rng(0)
    grads = [rng.uniform(0.5, 1.5, p.shape).astype(np.float32) for p in params]
    w = [p.asnumpy().astype(np.float64) for p in params]
    start = [x.copy() for x in w]
    ids = layer_ids([p.name for p in params])
    top = max(ids)
    assert top == 9  # stem, 2 + 2 + 2 + 2 dense layers, head
    for lr in SCHEDULE:
        opt(tuple(ms.Tensor(g) for g in grads))
        for i, (p, g, layer) in enumerate(zip(params, grads, ids)):
            decay = 0.0 if is_norm_or_bias(p) else WD
            w[i] = w[i] - lr * DECAY ** (top - layer) * (g + decay * w[i])
    for p, expected, w0 in zip(params, w, start):
        np.testing.assert_allclose(p.asnumpy() - w0, expected - w0, rtol=2e-3, atol=1e-7, err_msg=p.name)

    # the scale as measured on the undecayed parameters, layer by layer
    measured = {}
    for p, g, w0, layer in zip(params, grads, start, ids):
        if is_norm_or_bias(p):
            measured.setdefault(layer, []).append(np.mean((w0 - p.asnumpy()) / (sum(SCHEDULE) * g)))
    scales = [np.mean(measured[layer]) for layer in range(top + 1)]
    assert scales[-1] == pytest.approx(1.0, rel=1e-5)
    assert scales[0] == pytest.approx(DECAY**top, rel=2e-3) and scales[0] == min(scales)
    assert all(a < b for a, b in zip(scales, scales[1:]))


def deltas(opt_name, layer_decay, lr):
    """How far one step of `opt_name` moves each parameter of a small network."""
    ms.set_seed(0)
    net = nn.SequentialCell([nn.Dense(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3)])
    params = net.trainable_params()
    before = [p.asnumpy().copy() for p in params]
    opt = create_optimizer(
        net, opt_name, lr=lr, weight_decay=WD, weight_decay_filter="norm_and_bias", layer_decay=layer_decay
    )
    rng = np.random.default_rng(1)
    opt(tuple(ms.Tensor(rng.normal(size=p.shape).astype(np.float32)) for p in params))
    return {p.name: p.asnumpy() - b for p, b in zip(params, before)}


@pytest.mark.parametrize("lr", [0.05, SCHEDULE], ids=["float", "schedule"])
@pytest.mark.parametrize("opt_name", OPTIMIZERS)
def test_every_optimizer_scales_its_step_per_layer(opt_name, lr, mode):
    """A first step is linear in the lr, so with layer_decay each layer moves by its scale
    times the step without it: MindSpore's optimizers and our AdamW/LAMB honour group rates."""
    plain, decayed = deltas(opt_name, None, lr), deltas(opt_name, 0.5, lr)
    scale = {"0": 0.25, "1": 0.5, "3": 1.0}  # three layers: 0.5 ** 2, 0.5 ** 1, 0.5 ** 0
    for name, delta in plain.items():
        assert np.abs(delta).max() > 0, name
        np.testing.assert_allclose(decayed[name], scale[name[0]] * delta, rtol=1e-4, atol=1e-8, err_msg=name)


def test_the_resume_state_holds_one_schedule_not_one_per_layer(densenet):
    """All layers read one shared per-step Parameter, named as without layer_decay."""
    opt = create_optimizer(densenet, "momentum", lr=SCHEDULE, layer_decay=DECAY, weight_decay_filter="auto")
    rates = [p for p in opt.get_parameters() if p.name.startswith("learning_rate")]
    assert [p.name for p in rates] == ["learning_rate"]
    np.testing.assert_allclose(rates[0].asnumpy(), SCHEDULE)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layer_decay": 1.5}, r"layer_decay must be in \(0, 1\]"),
        ({"layer_decay": 0.0}, r"layer_decay must be in \(0, 1\]"),
        ({"layer_decay": 0.9, "lr": nn.CosineDecayLR(0.0, 0.1, 10)}, "not a CosineDecayLR"),
    ],
)
def test_bad_layer_decay_is_an_error(kwargs, message):
    with pytest.raises(MindCVError, match=message):
        create_optimizer(nn.Dense(2, 2), **kwargs)


def test_layer_decay_refuses_group_dicts():
    with pytest.raises(MindCVError, match="not parameter-group dicts"):
        create_optimizer([{"params": nn.Dense(2, 2).trainable_params()}], layer_decay=0.9)
