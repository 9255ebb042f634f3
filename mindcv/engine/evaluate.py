"""Top-1, top-5 and loss over a whole loader: every sample counted once, ranks' sums reduced."""

from typing import Dict

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..utils.progress import progress_bar

__all__ = ["Evaluator", "evaluate"]


class _EvalSums(nn.Cell):
    """Per-batch sums (loss, top-1 hits, top-5 hits), so partial batches weigh what they hold."""

    def __init__(self, network: nn.Cell):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss = nn.CrossEntropyLoss(reduction="sum")

    def construct(self, images, labels):
        logits = self.network(images)
        if isinstance(logits, tuple):
            logits = logits[0]
        logits = logits.astype(ms.float32)
        labels = labels.astype(ms.int32)
        k = min(5, logits.shape[1])
        _, top = ops.topk(logits, k)
        hits = top == labels.reshape(-1, 1)
        top1 = hits[:, 0].astype(ms.float32).sum()
        topk = hits.any(axis=1).astype(ms.float32).sum()
        return ops.stack([self.loss(logits, labels), top1, topk])


class Evaluator:
    """Evaluates one network again and again with one compiled graph: the epoch loop keeps one,
    so Graph mode compiles the evaluation once per run instead of once per epoch."""

    def __init__(self, network: nn.Cell):
        self.network = network
        self.sums = _EvalSums(network)

    def __call__(self, loader, distributed: bool = False, progress: bool = True) -> Dict[str, float]:
        """{"top1", "top5", "loss", "num_samples"} on `loader` (accuracies as fractions).

        Under data parallel each rank evaluates its shard and the sums are all-reduced, so every
        rank returns the metrics of the whole dataset.
        """
        self.network.set_train(False)
        totals = np.zeros(4, dtype=np.float64)  # loss, top-1, top-5, samples
        for images, labels in progress_bar(
            loader.create_tuple_iterator(num_epochs=1),
            total=loader.get_dataset_size(),
            desc="validate",
            disable=not progress,
            leave=False,
        ):
            sums = self.sums(images, labels).asnumpy()
            totals += np.append(sums, labels.shape[0])
        if distributed:
            totals = ops.AllReduce()(ms.Tensor(totals.astype(np.float32))).asnumpy().astype(np.float64)
        samples = max(totals[3], 1.0)
        return {
            "top1": totals[1] / samples,
            "top5": totals[2] / samples,
            "loss": totals[0] / samples,
            "num_samples": int(totals[3]),
        }


def evaluate(network: nn.Cell, loader, distributed: bool = False, progress: bool = True) -> Dict[str, float]:
    """One evaluation of `network` on `loader`; see `Evaluator`."""
    return Evaluator(network)(loader, distributed, progress)
