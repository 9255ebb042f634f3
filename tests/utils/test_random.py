"""MindCV's `mindcv.utils.set_seed`."""

import random

import mindspore as ms
import numpy as np

from mindcv.utils import set_seed


def test_set_seed_seeds_python_numpy_and_mindspore_by_rank():
    set_seed(3, rank=1)
    drawn = (random.random(), np.random.rand(), ms.get_seed())
    set_seed(4)
    assert drawn == (random.random(), np.random.rand(), 4)
