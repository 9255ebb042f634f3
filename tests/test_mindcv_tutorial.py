"""MindCV's fine-tuning tutorial code, unchanged but for sizes: our factories feed mindspore.Model."""

import mindspore as ms
import pytest
from mindspore import Model

from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.loss import create_loss
from mindcv.models import create_model
from mindcv.optim import create_optimizer
from mindcv.scheduler import create_scheduler
from tests.scripts import make_digit_folders


@pytest.fixture
def pynative():
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=previous)


@pytest.mark.slow
def test_tutorial_trains_with_model_train(tmp_path, pynative):
    data_dir, num_classes, num_workers = str(make_digit_folders(tmp_path, per_class=2)), 10, 1
    dataset_train = create_dataset(
        root=data_dir, split="train", shuffle=True, num_parallel_workers=num_workers
    )
    assert dataset_train.get_class_indexing()["digit3"] == 3
    trans_train = create_transforms(dataset_name="ImageNet", is_training=True, image_resize=32)
    loader_train = create_loader(
        dataset=dataset_train,
        batch_size=4,
        is_training=True,
        num_classes=num_classes,
        transform=trans_train,
        num_parallel_workers=num_workers,
    )
    num_batches = loader_train.get_dataset_size()
    network = create_model(model_name="densenet121", num_classes=num_classes, pretrained=False)
    loss = create_loss(name="CE")
    lr_scheduler = create_scheduler(steps_per_epoch=num_batches, scheduler="constant", lr=0.0001)
    opt = create_optimizer(network.trainable_params(), opt="adam", lr=lr_scheduler)
    model = Model(network, loss_fn=loss, optimizer=opt, metrics={"accuracy"})
    model.train(1, loader_train, dataset_sink_mode=False)
    assert 0 <= model.eval(loader_train, dataset_sink_mode=False)["accuracy"] <= 1
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == num_batches
