"""Every `--auto_augment` value we accept, and `--aug_splits`, trains a step through train.py's
real pipeline (create_dataset -> create_transforms -> create_loader, built by train.py's
`build_loader` from its command-line options) on an ImageFolder tree of real JPEG files.

A unit test applying the ops to arrays it made missed that `3a` crashed on the first batch of
a real pipeline ("img should be PIL image"); this runs what train.py runs. One child process per
mode trains every value: the network is a small DenseNet, so Graph mode compiles it twice (plain
and split batches) rather than once per value.

    python -m tests.test_augment_pipelines MODE DATA_DIR   # the child: one JSON line of losses
"""

import json
import math
import sys

import pytest

from tests.data.fakes import make_image_tree
from tests.scripts import ROOT, run

AUTO_AUGMENTS = [
    "randaug-m9-mstd0.5",
    "randaug-m7-n1-mstd0.5-inc1",
    "autoaug",
    "autoaugr-mstd0.5",
    "3a",
    "augmix",
    "augmix-m3-w2-d-1",
    "trivialaugwide",
]
CASES = {value: ["--auto_augment", value] for value in AUTO_AUGMENTS}
CASES["aug_splits"] = ["--auto_augment", "augmix", "--aug_splits", "3"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["0", "1"], ids=["graph", "pynative"])
def test_every_augmentation_trains_a_step_through_the_real_pipeline(tmp_path, mode):
    make_image_tree(tmp_path / "data", "train", per_class=2)  # 6 JPEGs of 32x32 to 40x48, grey PNGs
    result = run(["python", "-m", "tests.test_augment_pipelines", mode, tmp_path / "data"], ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(losses) == sorted(CASES)
    assert all(math.isfinite(loss) for loss in losses.values()), losses


def _train_a_step_per_case(mode: int, data_dir: str) -> dict:
    import mindspore as ms

    import config
    from mindcv.data import epoch_iterator
    from mindcv.engine.builders import build_loader
    from mindcv.engine.train_step import create_trainer
    from mindcv.loss import create_loss
    from mindcv.models import DenseNet
    from mindcv.optim import create_optimizer
    from mindcv.utils.distributed import DistributedInfo

    ms.set_context(mode=mode)
    network = DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=3)
    optimizer = create_optimizer(network, "momentum", lr=0.01)
    train_step = create_trainer(network, create_loss("CE"), optimizer)
    common = ["--dataset", "", "--data_dir", data_dir, "--image_resize", "32", "--batch_size", "2"]
    losses = {}
    for name, options in CASES.items():
        args = config.parse_args([*common, "--num_parallel_workers", "1", *options])
        loader = build_loader(args, DistributedInfo(), "train", is_training=True)
        images, labels = next(epoch_iterator(loader, 0))
        assert images.shape == (2 * max(args.aug_splits, 1), 3, 32, 32), (name, images.shape)
        losses[name] = float(train_step(images, labels)[0].asnumpy())
    return losses


if __name__ == "__main__":
    print(json.dumps(_train_a_step_per_case(int(sys.argv[1]), sys.argv[2])))
