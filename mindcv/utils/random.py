"""MindCV's `set_seed(seed, rank)`: one seed for Python, NumPy and MindSpore, offset by the rank
so data-parallel processes draw differently."""

import random

import numpy as np

__all__ = ["set_seed"]


def set_seed(seed: int = 42, rank: int = 0) -> None:
    import mindspore as ms

    seed += rank or 0
    random.seed(seed)
    np.random.seed(seed)
    ms.set_seed(seed)
