"""MindCV's model calls: entry points with `pretrained`, `create_model(ema=, auto_mapping=)` and
None-valued options, and `mindcv.models.features.FeatureExtractWrapper`."""

import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.models import create_model, densenet, densenet121
from mindcv.models.features import FeatureExtractWrapper
from mindcv.utils.errors import MindCVError

IMAGES = ms.Tensor(np.random.RandomState(0).rand(2, 3, 32, 32).astype(np.float32))


def _params(model):
    return {p.name: p.asnumpy() for p in model.get_parameters()}


def _randomised(model, seed=1):
    """Every parameter random (normal; a BatchNorm's moving variance its absolute value)."""
    for p in model.get_parameters():
        value = np.random.RandomState(seed + len(p.name)).randn(*p.shape).astype(np.float32)
        p.set_data(ms.Tensor(np.abs(value) if "moving_variance" in p.name else value))
    return model


@pytest.mark.slow
def test_entry_point_pretrained_loads_the_published_weights_from_the_cache():
    published = _randomised(densenet121())
    cache = os.path.join(os.environ["MINDCV_HOME"], "checkpoints")
    os.makedirs(cache)
    name = densenet.default_cfgs["densenet121"]["url"].rsplit("/", 1)[-1]
    ms.save_checkpoint(published, os.path.join(cache, name))  # in the cache: nothing is downloaded

    model = densenet121(pretrained=True, num_classes=10, in_channels=1)
    ours, theirs = _params(model), _params(published)
    assert model.classifier.weight.shape == (10, 1024)  # a new head for 10 classes
    np.testing.assert_allclose(ours["features.norm5.gamma"], theirs["features.norm5.gamma"])
    np.testing.assert_allclose(
        ours["features.conv0.weight"], theirs["features.conv0.weight"].sum(axis=1, keepdims=True), rtol=1e-5
    )


def test_create_model_drops_none_options_and_accepts_ema_and_auto_mapping_flags():
    model = create_model("densenet121", num_classes=5, drop_rate=None, ema=False, auto_mapping=False)
    assert model.classifier.weight.shape == (5, 1024)


@pytest.fixture(scope="module")
def trained():
    return _randomised(create_model("densenet121", num_classes=3), seed=2)


@pytest.mark.slow
def test_ema_loads_the_averaged_weights(tmp_path, trained, caplog):
    entries = [{"name": p.name, "data": p} for p in trained.get_parameters()]
    averaged = [
        {"name": f"ema.{p.name}", "data": ms.Tensor(p.asnumpy() * 0.5)} for p in trained.trainable_params()
    ]
    ms.save_checkpoint(entries + averaged, str(tmp_path / "e.ckpt"))
    model = create_model("densenet121", num_classes=3, checkpoint_path=str(tmp_path / "e.ckpt"), ema=True)
    weight = "features.denseblock1.cell_list.0.conv1.weight"
    np.testing.assert_allclose(_params(model)[weight], _params(trained)[weight] * 0.5)
    ms.save_checkpoint(entries, str(tmp_path / "plain.ckpt"))
    plain = create_model("densenet121", num_classes=3, checkpoint_path=str(tmp_path / "plain.ckpt"), ema=True)
    assert "holds no EMA weights" in caplog.text  # MindCV stops; the weights there are loaded as they are
    np.testing.assert_allclose(_params(plain)[weight], _params(trained)[weight])


@pytest.mark.slow
def test_auto_mapping_loads_weights_saved_under_a_wrapper_prefix(tmp_path, trained):
    entries = [{"name": f"network.model.{p.name}", "data": p} for p in trained.get_parameters()]
    ms.save_checkpoint(entries, str(tmp_path / "w.ckpt"))
    with pytest.raises(MindCVError, match="missing"):
        create_model("densenet121", num_classes=3, checkpoint_path=str(tmp_path / "w.ckpt"))
    model = create_model(
        "densenet121", num_classes=3, checkpoint_path=str(tmp_path / "w.ckpt"), auto_mapping=True
    )
    for name, value in _params(trained).items():
        np.testing.assert_array_equal(_params(model)[name], value)


@pytest.mark.slow
def test_feature_extract_wrapper_matches_features_only(trained, mode):
    wrapped = FeatureExtractWrapper(trained, out_indices=[0, 1, 2, 4])
    backbone = create_model("densenet121", features_only=True, out_indices=(0, 1, 2, 4))
    ms.load_param_into_net(backbone, _params_as_tensors(trained))
    trained.set_train(False), backbone.set_train(False)
    assert wrapped.out_channels == [64, 256, 512, 1024]
    ours, theirs = wrapped(IMAGES), backbone(IMAGES)
    # NCHW maps at every level, relu0's too (on the native path norm0-relu0 runs blocked)
    assert [o.shape for o in ours] == [(2, 64, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4), (2, 1024, 1, 1)]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-5)
    assert {p.name for p in wrapped.get_parameters()} == {p.name for p in trained.get_parameters()}
    with pytest.raises(MindCVError, match="out of range"):
        FeatureExtractWrapper(trained, out_indices=[5])


class _FeatureEnergy(nn.Cell):
    """The sum over a backbone's feature maps of their mean square: a loss on all levels."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def construct(self, images):
        levels = self.backbone(images)
        return sum([(level * level).mean() for level in levels])


@pytest.mark.slow
def test_feature_extract_wrapper_trains_as_the_features_only_backbone(mode):
    """Fine-tuning a wrapped classifier (a detection backbone): in training its blocks hand the
    transitions their chunks and batch statistics, and the wrapper still returns NCHW maps, with
    the features_only backbone's values and gradients."""
    classifier = _randomised(create_model("densenet121", num_classes=3), seed=3)
    backbone = create_model("densenet121", features_only=True, out_indices=(1, 2))
    ms.load_param_into_net(backbone, _params_as_tensors(classifier))
    wrapped = FeatureExtractWrapper(classifier, out_indices=[1, 2])
    results = []
    for network in (wrapped, backbone):
        network.set_train(True)
        params = network.trainable_params()
        value, grads = ms.value_and_grad(_FeatureEnergy(network), None, params)(IMAGES)
        # by name from "features." on (the loss cell prefixes them, the wrapper's with "net.")
        named = {p.name.partition("features.")[2] or p.name: g.asnumpy() for p, g in zip(params, grads)}
        results.append((value.asnumpy(), named))
    (ours, our_grads), (theirs, their_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert set(our_grads) >= set(their_grads) and len(their_grads) > 100
    for name, grad in their_grads.items():
        np.testing.assert_allclose(our_grads[name], grad, rtol=1e-4, atol=1e-6)


class _Blocks(nn.Cell):
    """A network declaring MindCV's feature_info form, its levels inside a SequentialCell."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.body = nn.SequentialCell([nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2)])
        self.head = nn.Dense(8, 2)
        self.feature_info = [
            {"chs": 4, "reduction": 1, "name": "stem"},
            {"chs": 6, "reduction": 2, "name": "body.1"},
            {"chs": 8, "reduction": 4, "name": "body.2"},
        ]
        self.flatten_sequential = True

    def construct(self, x):
        return self.head(self.body(self.stem(x)).mean(axis=(2, 3)))


def test_feature_extract_wrapper_reads_mindcvs_feature_info(mode):
    net = _Blocks()
    stem = net.stem(IMAGES)
    relu = net.body[1](net.body[0](stem))
    expected = [stem, relu, net.body[2](relu)]
    every = FeatureExtractWrapper(net, [0, 1, 2])
    assert every.out_channels == [4, 6, 8]
    for got, want in zip(every(IMAGES), expected):
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
    (middle,) = FeatureExtractWrapper(net, [1])(IMAGES)
    np.testing.assert_array_equal(middle.asnumpy(), relu.asnumpy())
    net.feature_info[1]["name"] = "body.7"
    with pytest.raises(MindCVError, match=r"names \['body.7'\] are not cells"):
        FeatureExtractWrapper(net, [1])


def _params_as_tensors(model):
    return {p.name: ms.Parameter(p.asnumpy(), name=p.name) for p in model.get_parameters()}
