"""create_loader: batch layout and dtypes, soft labels, and the epoch/resume contract."""

import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.data import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    create_dataset,
    create_loader,
    create_transforms,
    epoch_iterator,
)
from mindcv.data.datasets import ArraySource

from .fakes import write_cifar


@pytest.fixture
def cifar_root(tmp_path):
    write_cifar(tmp_path, "cifar10", per_file=5)  # 25 images; red pixel (0, 0) of image k is k
    return tmp_path


def _loader(root, **kwargs):
    dataset = create_dataset("cifar10", root=root, seed=5, num_parallel_workers=2)
    kwargs.setdefault("transform", create_transforms("cifar10", is_training=False, image_resize=32))
    kwargs.setdefault("num_classes", 10)
    return create_loader(dataset, batch_size=4, num_parallel_workers=2, **kwargs)


def _ids(images):
    """Undo Normalize on the red pixel (0, 0): the sample's index."""
    return (
        np.rint(images[:, 0, 0, 0] * IMAGENET_DEFAULT_STD[0] + IMAGENET_DEFAULT_MEAN[0]).astype(int).tolist()
    )


def _epoch(loader, epoch, start_batch=0):
    return list(epoch_iterator(loader, epoch, start_batch, output_numpy=True))


def test_batches_are_float_nchw_with_int32_labels(cifar_root):
    loader = _loader(cifar_root, drop_remainder=True)
    batches = _epoch(loader, 0)
    assert len(loader) == len(batches) == 6
    for images, labels in batches:
        assert images.shape == (4, 3, 32, 32) and images.dtype == np.float32
        assert labels.shape == (4,) and labels.dtype == np.int32
    assert sorted(sum((_ids(images) for images, _ in batches), [])) != list(range(24))  # shuffled...
    assert len(set(sum((_ids(images) for images, _ in batches), []))) == 24  # ...without repeats
    assert len(_loader(cifar_root)) == 7  # the last, partial batch is kept by default


@pytest.mark.parametrize(
    "mixing", [{"mixup": 0.8, "cutmix": 1.0, "cutmix_prob": 1.0}, {"label_smoothing": 0.1}]
)
def test_training_soft_labels(cifar_root, mixing):
    for images, labels in _epoch(_loader(cifar_root, is_training=True, **mixing), 0):
        assert images.dtype == np.float32 and labels.dtype == np.float32 and labels.shape[1] == 10
        np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-5)
    _, labels = _epoch(_loader(cifar_root, is_training=False, **mixing), 0)[0]
    assert labels.dtype == np.int32  # evaluation keeps hard labels


def test_epoch_is_the_same_with_or_without_earlier_epochs(cifar_root):
    mixing = {"is_training": True, "mixup": 0.8, "cutmix": 1.0, "cutmix_prob": 1.0}
    loader = _loader(cifar_root, **mixing)
    epochs = [_epoch(loader, e) for e in range(3)]
    direct = _epoch(_loader(cifar_root, **mixing), 2)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(epochs[2], direct))
    assert not np.array_equal(epochs[1][0][0], epochs[2][0][0])


def test_resume_at_batch_k_yields_the_tail_without_reading_the_rest(cifar_root, monkeypatch):
    mixing = {"is_training": True, "mixup": 0.8, "cutmix": 1.0, "cutmix_prob": 1.0}
    full = _epoch(_loader(cifar_root, **mixing), 3)
    reads = []
    real_getitem = ArraySource.__getitem__
    monkeypatch.setattr(ArraySource, "__getitem__", lambda self, i: reads.append(i) or real_getitem(self, i))
    loader = _loader(cifar_root, **mixing)
    tail = _epoch(loader, 3, start_batch=4)
    assert len(reads) == 25 - 4 * 4  # the 16 skipped images are never read
    assert len(tail) == len(full) - 4 and len(loader) == len(full) == 7
    for (image_a, label_a), (image_b, label_b) in zip(full[4:], tail):
        assert np.array_equal(image_a, image_b) and np.array_equal(label_a, label_b)  # same mixup draw too


def test_defaults_workers_and_target_transform(cifar_root):
    dataset = create_dataset("digits", split="val", num_samples=4, num_parallel_workers=64)
    images, labels = _epoch(create_loader(dataset, batch_size=4, num_parallel_workers=64), 0)[0]
    assert images.shape == (4, 3, 224, 224)  # transform=None: create_transforms("digits")
    _, labels = _epoch(_loader(cifar_root, target_transform=lambda y: y % 2), 0)[0]
    assert labels.dtype == np.int32 and set(labels.tolist()) <= {0, 1}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"is_training": True, "separate": True, "mixup": 0.2, "cutmix_prob": 1.0}, "separate=True"),
        ({"is_training": True, "separate": True}, "separate=True needs the"),
        ({"re_prob": 0.2}, r"unknown loader option\(s\) \['re_prob'\]"),
    ],
)
def test_bad_options_are_clear_errors(cifar_root, kwargs, message):
    with pytest.raises(MindCVError, match=message):
        _loader(cifar_root, **kwargs)


def test_pipeline_errors_reach_the_caller_as_mindcv_errors(cifar_root):
    loader = _loader(cifar_root, is_training=True, label_smoothing=0.1, num_classes=3)
    with pytest.raises(MindCVError, match=r"label \d is outside \[0, 3\); set num_classes"):
        _epoch(loader, 0)


def test_mixup_with_cutmix_prob_zero_warns_and_mixes_nothing(cifar_root, caplog):
    loader = _loader(cifar_root, is_training=True, mixup=0.2, cutmix_prob=0.0)
    assert "no batch will be mixed" in caplog.text
    plain = _epoch(_loader(cifar_root), 0)
    for (images, labels), (clean, ids) in zip(_epoch(loader, 0), plain):
        np.testing.assert_array_equal(images, clean)
        assert labels.shape == (len(ids), 10) and (labels.argmax(1) == ids).all()


def test_separate_yields_augmix_split_batches(cifar_root):
    transform = create_transforms("cifar10", is_training=True, image_resize=32, hflip=0, separate=True)
    transform = (
        transform[0],
        [*transform[1], lambda image: 255 - image],
        transform[2],
    )  # a visible "augmentation"
    for splits in (2, 3):
        loader = _loader(cifar_root, is_training=True, separate=True, aug_splits=splits, transform=transform)
        images, labels = _epoch(loader, 0)[0]
        assert images.shape == (4 * splits, 3, 32, 32) and labels.tolist() == labels[:4].tolist() * splits
        clean, augmented = images[:4], images[4:8]
        np.testing.assert_allclose(_raw(augmented), 255 - _raw(clean), atol=1e-3)


def test_separate_changes_nothing_for_evaluation(cifar_root):
    """As in MindCV: evaluation has no AugMix splits, whatever `separate` says."""
    transform = create_transforms("cifar10", is_training=False, image_resize=32, separate=True)
    split = _epoch(_loader(cifar_root, separate=True, transform=transform), 0)
    plain = _epoch(_loader(cifar_root), 0)
    assert len(split) == len(plain)
    for (images, labels), (clean, clean_labels) in zip(split, plain):
        np.testing.assert_array_equal(images, clean)
        np.testing.assert_array_equal(labels, clean_labels)


def _raw(images):
    return (
        images * np.array(IMAGENET_DEFAULT_STD)[:, None, None]
        + np.array(IMAGENET_DEFAULT_MEAN)[:, None, None]
    )
