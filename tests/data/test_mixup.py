"""Mixup: soft labels summing to 1, pixels from the image or its partner, seeded draws."""

import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.data import Mixup


def _batch(n=6):
    images = np.stack([np.full((3, 16, 16), i, dtype=np.float32) for i in range(n)])  # image i is all i
    return images, np.arange(n)


@pytest.mark.parametrize("mixup, cutmix", [(0.8, 0.0), (0.0, 1.0), (0.8, 1.0)])
def test_labels_sum_to_one_and_match_the_pixels(mixup, cutmix):
    mixer = Mixup(mixup, cutmix, prob=1.0, label_smoothing=0.12, num_classes=6)
    lams = []
    for seed in range(20):
        images, labels = _batch()
        mixed, soft = mixer.mix(images.copy(), labels, np.random.default_rng(seed))
        assert soft.shape == (6, 6) and soft.dtype == np.float32
        np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-6)
        # Image 0 (all 0) is mixed with image 5 (all 5): its mean pixel gives its own share.
        lams.append(1 - mixed[0].mean() / 5)
        np.testing.assert_allclose(soft[0, 0], lams[-1] * 0.88 + 0.02, atol=1e-5)
        np.testing.assert_allclose(soft[0, 5], (1 - lams[-1]) * 0.88 + 0.02, atol=1e-5)
        if not mixup:  # cutmix pastes whole pixels
            assert set(np.unique(mixed[0])) <= {0.0, 5.0}
    assert 0 < np.mean(lams) < 1 and np.std(lams) > 0


def test_no_mixing_gives_smoothed_one_hot():
    images, labels = _batch()
    out, soft = Mixup(label_smoothing=0.12, num_classes=6).mix(
        images.copy(), labels, np.random.default_rng(0)
    )
    assert np.array_equal(out, images)
    np.testing.assert_allclose(soft[np.arange(6), labels], 0.9)
    np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-6)


def test_prob_zero_never_mixes():
    images, labels = _batch()
    mixer = Mixup(0.8, 1.0, prob=0.0, num_classes=6)
    out, soft = mixer.mix(images.copy(), labels, np.random.default_rng(0))
    assert np.array_equal(out, images) and np.array_equal(soft, np.eye(6, dtype=np.float32)[labels])


def test_same_seed_epoch_batch_same_draw():
    class Info:
        def __init__(self, batch, epoch=0):
            self.batch, self.epoch = batch, epoch

        def get_batch_num(self):
            return self.batch

        def get_epoch_num(self):
            return self.epoch

    images, labels = _batch()
    rows, ids = list(images), list(labels)
    mixer = Mixup(0.8, 1.0, prob=1.0, num_classes=6, seed=3)
    mixer.set_epoch(2)
    first = mixer(rows, ids, Info(4))
    mixer.set_epoch(2, start_batch=3)
    resumed = mixer(rows, ids, Info(1))  # batch 3 + 1 of epoch 2
    assert all(np.array_equal(a, b) for a, b in zip(first, resumed))
    mixer.set_epoch(1)
    multi_epoch = mixer(rows, ids, Info(4, epoch=1))  # a 2-epoch iterator's second epoch
    assert all(np.array_equal(a, b) for a, b in zip(first, multi_epoch))
    assert not np.array_equal(first[1], mixer(rows, ids, Info(5, epoch=1))[1])


def test_label_outside_num_classes_is_a_clear_error():
    images, _ = _batch()
    with pytest.raises(MindCVError, match="num_classes"):
        Mixup(0.8, num_classes=3).mix(images, np.arange(6), np.random.default_rng(0))
