"""Options MindCV parses that train.py now reads (each changes what happens), and the ones that
cannot apply here (accepted, with one warning)."""

import json
import logging

import mindspore as ms
import numpy as np
import pytest

import config
from mindcv.data import epoch_iterator
from mindcv.engine import builders
from mindcv.engine.builders import build_loader
from mindcv.engine.train_step import create_trainer
from mindcv.models import DenseNet
from mindcv.utils.distributed import DistributedInfo
from tests.scripts import ROOT, SMALL_NET, make_digit_folders, run

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
EXACT = ["--scale", "1", "1", "--ratio", "1", "1", "--hflip", "0", "--color_jitter", "0"]  # crops keep all


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_digit_folders(tmp_path_factory.mktemp("digits"), per_class=3)


def _loader(folders, *options, is_training=True):
    argv = ["--dataset", "", "--data_dir", str(folders), "--image_resize", "32", "--batch_size", "4"]
    args = config.parse_args([*argv, "--num_parallel_workers", "1", *options])
    split = "train" if is_training else "val"
    fit = not config.user_set(args, "batch_size")
    return build_loader(args, DistributedInfo(), split, is_training=is_training, fit_batch_size=fit)


def _first_batch(loader):
    images, labels = next(epoch_iterator(loader, 0, output_numpy=True))
    return images, labels


def test_aug_splits_makes_augmix_split_batches(folders):
    images, labels = _first_batch(_loader(folders, "--aug_splits", "3", "--auto_augment", "augmix", *EXACT))
    assert images.shape == (12, 3, 32, 32) and labels.tolist() == labels[:4].tolist() * 3
    assert not np.allclose(images[:4], images[4:8])  # the views are augmented, the first split is clean
    assert _first_batch(_loader(folders, *EXACT))[0].shape == (4, 3, 32, 32)


def test_aug_repeats_repeats_each_image_within_the_epoch(folders):
    images, _ = _first_batch(_loader(folders, "--aug_repeats", "3", *EXACT))
    np.testing.assert_array_equal(images[0], images[1])
    np.testing.assert_array_equal(images[0], images[2])
    assert not np.array_equal(images[2], images[3])
    plain, _ = _first_batch(_loader(folders, *EXACT))
    assert not np.array_equal(plain[0], plain[1])


def test_eval_shuffle_shuffles_validation_and_keeps_every_sample(folders):
    def labels(*options):
        return [
            int(y)
            for _, batch in epoch_iterator(_loader(folders, *options, is_training=False), 0)
            for y in batch
        ]

    ordered, shuffled = labels(), labels("--eval_shuffle")
    assert ordered == sorted(ordered) and shuffled != ordered and sorted(shuffled) == ordered


def test_re_max_attempts_reaches_random_erasing(folders, monkeypatch):
    made = []
    monkeypatch.setattr(
        builders, "create_transforms", lambda *a, **k: made.append(train_transforms(*a, **k)) or made[-1]
    )
    _loader(folders, "--re_prob", "1", "--re_max_attempts", "2")
    assert made[-1][-1].max_attempts == 2


train_transforms = builders.create_transforms


@pytest.mark.parametrize("amp_cast_list, fp32_cells", [(None, "norm0"), ("[nn.Dense]", "classifier")])
def test_amp_cast_list_replaces_o2s_black_list(amp_cast_list, fp32_cells):
    network = DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=3)
    optimizer = ms.nn.SGD(network.trainable_params(), 0.1)
    create_trainer(network, ms.nn.CrossEntropyLoss(), optimizer, amp_level="O2", amp_cast_list=amp_cast_list)
    # O2 wraps each black-listed cell to run in fp32 (its output cast back to fp16)
    wrapped = {
        "norm0": not isinstance(network.features.norm0, ms.nn.BatchNorm2d),
        "classifier": not isinstance(network.classifier, ms.nn.Dense),
    }
    assert [name for name, is_wrapped in wrapped.items() if is_wrapped] == [fp32_cells]


def test_a_bad_amp_cast_list_is_one_line():
    network = DenseNet(growth_rate=4, block_config=(2,), num_init_features=8, bn_size=2, num_classes=3)
    with pytest.raises(config.MindCVError, match="amp_cast_list '\\[nn.Dens\\]': nn.Dens"):
        create_trainer(network, ms.nn.CrossEntropyLoss(), ms.nn.SGD(network.trainable_params(), 0.1), "O2",
                       amp_cast_list="[nn.Dens]")  # fmt: skip


@pytest.mark.parametrize(
    "option, value",
    [("drop_path_rate", "0.1"), ("dataset_sink_mode", "False"), ("drop_overflow_update", "False")],
)
def test_options_that_cannot_apply_warn_once_when_set(option, value, caplog):
    with caplog.at_level(logging.WARNING, logger="config"):
        config.parse_args([])
        assert caplog.text == ""
        config.parse_args([f"--{option}", value])
    assert caplog.text.count(f"--{option} {value} has no effect") == 1


@pytest.mark.slow
def test_train_cli_logs_every_log_interval_steps_and_skips_the_csv(tmp_path):
    small = [*SMALL_NET, "--num_samples", "32", "--batch_size", "16", "--epoch_size", "1", "--mode", "1"]
    result = run(
        ["python", ROOT / "train.py", "-c", DEMO, *small, "--log_interval", "1", "--metrics_csv", "False"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "epoch 1/1 step 1/2: loss" in output and "epoch 1/1 step 2/2: loss" in output
    assert not (tmp_path / "ckpt" / "metrics.csv").exists() and (tmp_path / "ckpt" / "curves.png").is_file()


@pytest.mark.slow
def test_validate_ema_validates_a_checkpoints_ema_weights(tmp_path):
    from mindcv.models import create_model

    raw, averaged = (
        create_model("densenet_test", num_classes=10),
        create_model("densenet_test", num_classes=10),
    )
    trainable = {p.name for p in raw.trainable_params()}
    ms.save_checkpoint(
        [{"name": p.name, "data": p} for p in raw.get_parameters()]
        + [{"name": f"ema.{p.name}", "data": p} for p in averaged.trainable_params()],
        str(tmp_path / "run.ckpt"),
    )
    ms.save_checkpoint(  # the same weights as run.ckpt's EMA ones, under the plain names
        [{"name": p.name, "data": p} for p in raw.get_parameters() if p.name not in trainable]
        + [{"name": p.name, "data": p} for p in averaged.trainable_params()],
        str(tmp_path / "ema.ckpt"),
    )

    def loss(ckpt, *extra):
        argv = ["-c", DEMO, *SMALL_NET, "--num_samples", "32", "--batch_size", "16", "--mode", "1", *extra]
        out = tmp_path / "v.json"
        result = run(
            ["python", ROOT / "validate.py", *argv, "--ckpt_path", tmp_path / ckpt, "--json", out], tmp_path
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(out.read_text())["loss"]

    assert loss("run.ckpt", "--ema") == loss("ema.ckpt") != loss("run.ckpt")
