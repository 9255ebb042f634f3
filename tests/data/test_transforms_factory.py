"""create_transforms: output shapes, dtypes and value ranges of every recipe; clear errors."""

import io

import mindspore.dataset as ds
import mindspore.dataset.transforms as T
import numpy as np
import pytest
from PIL import Image

from mindcv import MindCVError
from mindcv.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, create_transforms

LOW = (0 - np.array(IMAGENET_DEFAULT_MEAN)) / np.array(IMAGENET_DEFAULT_STD)
HIGH = (255 - np.array(IMAGENET_DEFAULT_MEAN)) / np.array(IMAGENET_DEFAULT_STD)


def _images(shapes):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for shape in shapes]


def _encoded(images):
    """PNG files (lossless) as the 1-D uint8 arrays an ImageFolderDataset yields."""
    files = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "PNG")
        files.append(np.frombuffer(buffer.getvalue(), np.uint8))
    return files


def _apply(ops, images):
    dataset = ds.GeneratorDataset(lambda: ((im,) for im in images), ["image"], shuffle=False)
    dataset = dataset.map(ops, input_columns="image", num_parallel_workers=1)
    return [row[0] for row in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)]


def _check_range(out):
    assert out.dtype == np.float32
    per_channel = out.reshape(3, -1)
    assert np.all(per_channel.min(1) >= LOW - 1e-3) and np.all(per_channel.max(1) <= HIGH + 1e-3)


@pytest.mark.parametrize("is_training", [True, False])
@pytest.mark.parametrize(
    "auto_augment",
    [
        None,
        "randaug-m9-mstd0.5",
        "randaug-m7-n1",
        "randaug-m9-mstd0.5-inc1",
        "autoaug",
        "autoaug-mstd0.5",
        "autoaugr-mstd0.5",
        "3a",
        "augmix-m3-w2-d-1",
        "trivialaugwide",
    ],
)
def test_imagenet_recipes(is_training, auto_augment):
    ops = create_transforms("imagenet", is_training, image_resize=48, auto_augment=auto_augment, vflip=0.5)
    for out in _apply(ops, _encoded(_images([(60, 80), (120, 50), (48, 48)]))):
        assert out.shape == (3, 48, 48)
        _check_range(out)


def test_imagenet_eval_resizes_by_crop_pct_then_centre_crops():
    ops = create_transforms("", is_training=False, image_resize=32, crop_pct=0.5)
    assert [type(op).__name__ for op in ops] == ["Decode", "Resize", "CenterCrop", "Normalize", "HWC2CHW"]
    image = _images([(64, 64)])[0]
    (out,) = _apply(ops, _encoded([image]))
    expected = (image[16:48, 16:48] - np.array(IMAGENET_DEFAULT_MEAN)) / np.array(IMAGENET_DEFAULT_STD)
    np.testing.assert_allclose(out, expected.transpose(2, 0, 1), atol=1e-4)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "digits"])
@pytest.mark.parametrize("size", [32, 64])
def test_small_image_recipes(name, size):
    train = create_transforms(name, is_training=True, image_resize=size)
    assert [type(op).__name__ for op in train][:3] == ["Resize", "RandomCrop", "RandomHorizontalFlip"]
    assert train[1].padding == (size // 8,) * 4  # pad-4 at 32
    assert not any(type(op).__name__ == "RandomColorAdjust" for op in train)
    for ops in (train, create_transforms(name, is_training=False, image_resize=size)):
        for out in _apply(ops, _images([(32, 32)] * 3)):
            assert out.shape == (3, size, size)
            _check_range(out)


def test_eval_is_deterministic_and_colour_jitter_only_when_asked():
    images = _encoded(_images([(50, 70)] * 2))
    ops = create_transforms("imagenet", is_training=False, image_resize=32)
    assert all(np.array_equal(a, b) for a, b in zip(_apply(ops, images), _apply(ops, images)))
    names = [type(op).__name__ for op in create_transforms("imagenet", True, color_jitter=0.0, hflip=0.0)]
    assert names == ["Decode", "RandomResizedCrop", "Normalize", "HWC2CHW"]
    jitter = create_transforms("imagenet", True, color_jitter=(0.1, 0.2, 0.3, 0.1))
    assert type(jitter[3]).__name__ == "RandomColorAdjust"


def test_mstd_spreads_the_randaugment_magnitude():
    op = create_transforms("imagenet", True, auto_augment="randaug-m9-mstd0.5")[3]
    assert isinstance(op, T.RandomChoice)
    levels = [t.magnitude for t in op.transforms]
    assert min(levels) < 9 < max(levels) and max(levels) <= 10 and sorted(levels) == levels
    single = create_transforms("imagenet", True, auto_augment="randaug-m9")[3]
    assert (single.magnitude, single.num_magnitude_bins, single.num_ops) == (9, 11, 2)


def test_random_erasing_writes_the_value_into_a_box():
    ops = create_transforms("imagenet", True, image_resize=32, re_prob=1.0, re_value=0, color_jitter=0)
    for out in _apply(ops, _encoded(_images([(40, 40)] * 4))):
        rows, cols = np.nonzero(np.all(out == 0, axis=0))
        assert len(rows) > 0 and len(rows) == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # one full rectangle


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset_name": "cifar"}, "did you mean 'cifar10'"),
        ({"interpolation": "lanczos"}, "unknown interpolation"),
        ({"auto_augment": "augmax"}, "unknown auto_augment"),
        ({"auto_augment": "augmix-x3"}, "cannot read auto_augment 'augmix-x3'"),
        ({"auto_augment": "randaug-m9-incx", "is_training": True}, "cannot read 'incx'"),
        ({"sepärate": True}, r"unknown transform option"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, message):
    kwargs.setdefault("is_training", True)
    with pytest.raises(MindCVError, match=message):
        create_transforms(**kwargs)


def test_separate_returns_mindcvs_three_parts():
    primary, secondary, final = create_transforms("imagenet", True, image_resize=32, separate=True)
    assert [type(op).__name__ for op in primary] == ["Decode", "RandomResizedCrop", "RandomHorizontalFlip"]
    assert [type(op).__name__ for op in secondary] == ["RandomColorAdjust"]
    assert [type(op).__name__ for op in final] == ["Normalize", "HWC2CHW"]
    together = create_transforms("imagenet", True, image_resize=32)
    assert [type(op).__name__ for op in together] == [type(op).__name__ for op in primary + secondary + final]


def test_separate_changes_nothing_for_evaluation():
    names = [type(op).__name__ for op in create_transforms("imagenet", False, separate=True)]
    assert names == [type(op).__name__ for op in create_transforms("imagenet", False)]


def test_mnist_recipe_keeps_one_grey_channel():
    grey = np.random.default_rng(0).integers(0, 256, (28, 28, 1), dtype=np.uint8)
    for is_training in (True, False):
        (out,) = _apply(create_transforms("MNIST", is_training, image_resize=32), [grey])
        assert out.shape == (1, 32, 32) and out.dtype == np.float32
        assert out.min() >= -0.1307 / 0.3081 - 1e-4 and out.max() <= (1 - 0.1307) / 0.3081 + 1e-4


def test_re_max_attempts_reaches_random_erasing():
    ops = create_transforms("imagenet", True, image_resize=32, re_prob=1.0, re_max_attempts=3)
    assert ops[-1].max_attempts == 3


def test_augmix_mixes_an_image_with_its_augmentations():
    from mindcv.data.augmix import AugMix

    image = _images([(32, 32)])[0]
    out = AugMix("augmix-m3-w3")(image)
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)
