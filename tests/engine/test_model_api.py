"""A script written the MindCV train.py way runs on ours: `create_trainer` -> `mindspore.Model`,
`trainer.train(..., callbacks=[StateMonitor, ValCallback])`, and validate.py reads what it saved."""

import json

import mindspore as ms
import pytest
from mindspore import nn
from mindspore.train import Model

from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.engine.checkpoint_manager import CheckpointManager as RunCheckpoints
from mindcv.engine.train_step import create_trainer as create_train_step
from mindcv.loss import create_loss
from mindcv.models import create_model
from mindcv.optim import create_optimizer
from mindcv.scheduler import create_scheduler
from mindcv.utils import StateMonitor, ValCallback, create_trainer
from tests.data.fakes import make_image_tree
from tests.scripts import run_script


@pytest.fixture
def pynative():
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)  # no compile: the script's logic is what is tested
    yield
    ms.set_context(mode=previous)


def _loader(root, split, is_training):
    dataset = create_dataset("imagenet", root=root, split=split, shuffle=is_training, num_parallel_workers=1)
    transform = create_transforms("imagenet", is_training, image_resize=32)
    return create_loader(dataset, 2, drop_remainder=is_training, is_training=is_training, transform=transform)


@pytest.mark.slow
def test_mindcv_style_script_trains_and_validate_py_reads_its_checkpoints(tmp_path, pynative):
    for split in ("train", "val"):
        make_image_tree(tmp_path / "data", split, per_class=1)  # 3 images: one step an epoch
    train, val = _loader(tmp_path / "data", "train", True), _loader(tmp_path / "data", "val", False)
    network = create_model("densenet121", num_classes=3)
    loss = create_loss("CE")
    lr = create_scheduler(train.get_dataset_size(), "constant", lr=0.01, warmup_epochs=0, num_epochs=2)
    optimizer = create_optimizer(network.trainable_params(), "momentum", lr=lr)
    metrics = {"Top_1_Accuracy": nn.Top1CategoricalAccuracy()}
    trainer = create_trainer(network, loss, optimizer, metrics, "O0", None, "fixed", ema=True)
    assert isinstance(trainer, Model)
    ckpt = tmp_path / "ckpt"
    state = StateMonitor(
        trainer,
        model_name="densenet121",
        model_ema=True,
        dataset_sink_mode=False,
        dataset_val=val,
        metric_name=["Top_1_Accuracy"],
        ckpt_save_dir=str(ckpt),
        ckpt_save_policy="latest_k",
        ckpt_keep_max=1,
        log_interval=1,
    )
    trainer.train(2, train, callbacks=[state, ValCallback(log_interval=1)], dataset_sink_mode=False)

    assert sorted(p.name for p in ckpt.glob("*.ckpt")) == [
        "densenet121-2_1.ckpt",  # latest_k keeps 1
        "densenet121-resume.ckpt",
        "densenet121_best.ckpt",
    ]
    assert "ema.classifier.weight" in ms.load_checkpoint(str(ckpt / "densenet121-2_1.ckpt"))
    again = create_model("densenet121", num_classes=3)
    fresh = create_train_step(
        again, loss, create_optimizer(again.trainable_params(), "momentum", lr=lr), ema=True
    )
    position = RunCheckpoints.load_resume_state(fresh, ckpt / "densenet121-resume.ckpt")
    assert (position["epoch"], position["global_step"]) == (2, 2)

    best = run_script(
        "validate.py",
        *("--model", "densenet121", "--dataset", "imagenet", "--data_dir", tmp_path / "data"),
        *("--val_split", "val", "--num_classes", "3", "--image_resize", "32", "--mode", "1"),
        *("--ckpt_path", ckpt / "densenet121_best.ckpt", "--json", tmp_path / "v.json"),
        cwd=tmp_path,
    )
    assert best.returncode == 0, best.stderr[-2000:]
    assert json.loads((tmp_path / "v.json").read_text())["top1"] == pytest.approx(state.best_res)
