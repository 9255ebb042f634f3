"""A user's own training script (no init_runtime), run in a subprocess by test_conv.py.

python probe.py OUT.npz CKPT: a small DenseNet (channel counts multiples of 16, so its dense blocks
run in the blocked layout on the native path) whose weights are saved to CKPT, or loaded from it
when it exists; OUT.npz gets its eval logits, its parameter gradients on one batch, three
TrainOneStepCell losses, whether the native convolution and blocked BatchNorm ran and the oneDNN
ISA cap in force.
"""

import os
import sys

os.environ.setdefault("GLOG_v", "3")

import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
from mindspore import nn  # noqa: E402

from mindcv import create_model  # noqa: E402, F401  (the README's import: it chooses the conv path)
from mindcv.models import DenseNet  # noqa: E402
from mindcv.ops import BlockedBatchNorm2d, OneDNNConv2d  # noqa: E402


def main(out: str, ckpt: str) -> None:
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    model = DenseNet(growth_rate=16, block_config=(2, 2), num_init_features=16, bn_size=2, num_classes=5)
    if os.path.exists(ckpt):
        missing, _ = ms.load_param_into_net(model, ms.load_checkpoint(ckpt), strict_load=True)
        assert not missing, missing
    else:
        ms.save_checkpoint(model, ckpt)
    rng = np.random.RandomState(0)
    x = ms.Tensor(rng.randn(4, 3, 32, 32).astype(np.float32))
    labels = ms.Tensor(rng.randint(0, 5, 4).astype(np.int32))
    model.set_train(False)
    logits = model(x).asnumpy()
    model.set_train(True)
    with_loss = nn.WithLossCell(model, nn.CrossEntropyLoss())
    params = model.trainable_params()
    _, grads = ms.value_and_grad(with_loss, None, weights=params)(x, labels)
    step = nn.TrainOneStepCell(with_loss, nn.SGD(params, 0.1))
    losses = [float(step(x, labels).asnumpy()) for _ in range(3)]
    np.savez(
        out,
        logits=logits,
        losses=np.array(losses),
        native=any(isinstance(c, OneDNNConv2d) for _, c in model.cells_and_names()),
        blocked=any(isinstance(c, BlockedBatchNorm2d) for _, c in model.cells_and_names()),
        isa=os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        **{f"grad:{p.name}": g.asnumpy() for p, g in zip(params, grads)},
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
