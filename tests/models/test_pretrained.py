"""Pretrained download, cache and adaptation; local checkpoints refused clearly when they don't fit.

A local HTTP server stands in for MindCV's download site: the weights are ones the test makes.
"""

import logging
import os

import mindspore as ms
import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.models import DenseNet, create_model, densenet, register_model
from tests.http_server import serve

NAME = "densenet_tiny_test"
# Read by register_model: the tiny model shares densenet121's metadata, with no URL until a test sets one.
default_cfgs = {NAME: dict(densenet.default_cfgs["densenet121"], url="")}


@register_model
def densenet_tiny_test(**kwargs):
    """A tiny DenseNet registered for these tests, with a pretrained config of its own."""
    return DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, **kwargs)


@pytest.fixture
def source_ckpt(tmp_path):
    """A trained-looking checkpoint of the tiny model (1000 classes) and its bytes."""
    ms.set_seed(7)
    model = densenet_tiny_test(num_classes=1000)
    for p in model.get_parameters():  # non-default BN statistics too
        p.set_data(ms.Tensor(np.random.RandomState(len(p.name)).randn(*p.shape).astype(np.float32)))
    path = tmp_path / "source.ckpt"
    ms.save_checkpoint(model, str(path))
    return model, path


@pytest.fixture
def pretrained_url(monkeypatch):
    """Register a pretrained cfg for the tiny model whose URL the test's server will answer."""

    def point_at(base_url):
        monkeypatch.setitem(default_cfgs[NAME], "url", f"{base_url}/{NAME}.ckpt")

    return point_at


def params(model):
    return {p.name: p.asnumpy() for p in model.get_parameters()}


def cache_dir():
    return os.path.join(os.environ["MINDCV_HOME"], "checkpoints")


def test_download_then_cache_hit_without_network(source_ckpt, pretrained_url):
    source, path = source_ckpt
    with serve({f"/{NAME}.ckpt": path.read_bytes()}) as (url, requests):
        pretrained_url(url)
        model = create_model(NAME, pretrained=True)
        assert requests == [f"/{NAME}.ckpt"]
    assert os.listdir(cache_dir()) == [f"{NAME}.ckpt"]
    for name, value in params(source).items():
        np.testing.assert_array_equal(params(model)[name], value)
    # The server is gone: the cached file must be used without any network access.
    again = create_model(NAME, pretrained=True)
    np.testing.assert_array_equal(params(again)["classifier.weight"], params(source)["classifier.weight"])


@pytest.mark.parametrize("failure", ["interrupted", "garbage", "missing"])
def test_failed_download_leaves_nothing(source_ckpt, pretrained_url, failure):
    _, path = source_ckpt
    data = path.read_bytes()
    files = {"interrupted": {f"/{NAME}.ckpt": data}, "garbage": {f"/{NAME}.ckpt": b"not a checkpoint"}}
    truncate = {f"/{NAME}.ckpt": len(data) // 2} if failure == "interrupted" else {}
    with serve(files.get(failure, {}), truncate) as (url, _):
        pretrained_url(url)
        with pytest.raises(MindCVError) as err:
            create_model(NAME, pretrained=True)
    assert "\n" not in str(err.value)
    assert os.listdir(cache_dir()) == []


def test_num_classes_and_in_channels_adaptation(source_ckpt, pretrained_url, caplog):
    source, path = source_ckpt
    with serve({f"/{NAME}.ckpt": path.read_bytes()}) as (url, _):
        pretrained_url(url)
        with caplog.at_level(logging.WARNING):
            model = create_model(NAME, pretrained=True, num_classes=10, in_channels=1)
    assert "dropping classifier" in caplog.text
    got, want = params(model), params(source)
    assert got["classifier.weight"].shape == (10, model.num_features)
    np.testing.assert_allclose(
        got["features.conv0.weight"], want["features.conv0.weight"].sum(1, keepdims=True)
    )
    np.testing.assert_array_equal(got["features.norm5.gamma"], want["features.norm5.gamma"])

    # A grey image through the adapted model gives the features of its RGB copy.
    grey = np.random.RandomState(0).rand(1, 1, 32, 32).astype(np.float32)
    source.set_train(False)
    model.set_train(False)
    rgb_features = source.forward_features(ms.Tensor(np.repeat(grey, 3, axis=1))).asnumpy()
    np.testing.assert_allclose(
        model.forward_features(ms.Tensor(grey)).asnumpy(), rgb_features, rtol=1e-4, atol=1e-5
    )


def test_other_in_channels_keep_activation_scale(source_ckpt):
    _, path = source_ckpt
    model = create_model(NAME, num_classes=1000, in_channels=5, checkpoint_path=str(path))
    weight = params(model)["features.conv0.weight"]
    assert weight.shape[1] == 5
    source_weight = ms.load_checkpoint(str(path))["features.conv0.weight"].asnumpy()
    np.testing.assert_allclose(weight[:, :3], source_weight * 3 / 5, rtol=1e-6)


def test_checkpoint_path_loads_and_drops_other_head(source_ckpt, caplog):
    source, path = source_ckpt
    exact = create_model(NAME, num_classes=1000, checkpoint_path=str(path))
    np.testing.assert_array_equal(params(exact)["classifier.bias"], params(source)["classifier.bias"])
    with caplog.at_level(logging.WARNING):
        finetune = create_model(NAME, num_classes=3, checkpoint_path=str(path))
    assert "dropping classifier" in caplog.text and str(path) in caplog.text
    assert params(finetune)["classifier.weight"].shape == (3, finetune.num_features)


def test_features_only_ignores_the_head(source_ckpt):
    source, path = source_ckpt
    backbone = create_model(NAME, features_only=True, checkpoint_path=str(path))
    np.testing.assert_array_equal(
        params(backbone)["features.conv0.weight"], params(source)["features.conv0.weight"]
    )


def test_missing_checkpoint_is_an_error(tmp_path):
    with pytest.raises(MindCVError, match="does not exist"):
        create_model(NAME, checkpoint_path=str(tmp_path / "nope.ckpt"))


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, "truncated"])
def test_unreadable_checkpoint_names_the_file(source_ckpt, tmp_path, content):
    _, path = source_ckpt
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(path.read_bytes()[:4000] if content == "truncated" else content)
    with pytest.raises(MindCVError, match="bad.ckpt") as err:
        create_model(NAME, checkpoint_path=str(bad))
    assert "\n" not in str(err.value)


def test_checkpoint_of_another_architecture_names_the_keys(tmp_path):
    other = DenseNet(growth_rate=4, block_config=(2, 3), num_init_features=8, bn_size=2)
    path = tmp_path / "other.ckpt"
    ms.save_checkpoint(other, str(path))
    with pytest.raises(MindCVError, match=r"other\.ckpt.*unexpected features\.denseblock2\.cell_list\.2"):
        create_model(NAME, checkpoint_path=str(path))
    wider = DenseNet(growth_rate=6, block_config=(2, 2), num_init_features=8, bn_size=2)
    ms.save_checkpoint(wider, str(path))
    with pytest.raises(MindCVError, match="shape mismatch"):
        create_model(NAME, checkpoint_path=str(path))


def test_optimizer_state_in_checkpoint_is_ignored(source_ckpt, tmp_path):
    source, _ = source_ckpt
    path = tmp_path / "with_state.ckpt"
    extra = [
        {"name": "moments.features.conv0.weight", "data": ms.Tensor(np.zeros((8, 3, 7, 7), np.float32))},
        {"name": "global_step", "data": ms.Tensor(np.array([5], np.int32))},
    ]
    entries = [{"name": p.name, "data": p} for p in source.get_parameters()] + extra
    ms.save_checkpoint(entries, str(path))
    model = create_model(NAME, checkpoint_path=str(path))
    np.testing.assert_array_equal(
        params(model)["features.conv0.weight"], params(source)["features.conv0.weight"]
    )
