"""create_dataset on every dataset kind, made here in its real layout; sharding; bad data."""

import logging
import struct

import mindspore.dataset as ds
import mindspore.dataset.vision as vision
import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.data import (
    create_dataset,
    create_loader,
    epoch_iterator,
    get_class_names,
    get_dataset_download_root,
    get_source,
)
from mindcv.data.datasets import CIFAR_ARCHIVES
from mindcv.utils.download import get_mindcv_home
from tests.scripts import run

from .fakes import cifar_records, make_image_tree, write_cifar


def _rows(dataset, epoch=0):
    return [(image, int(label)) for image, label in epoch_iterator(dataset, epoch, output_numpy=True)]


@pytest.mark.parametrize("name", ["", "imagenet", "ImageNet"])
def test_image_folder(tmp_path, name):
    make_image_tree(tmp_path, "val")
    dataset = create_dataset(name, root=tmp_path, split="val", shuffle=False)
    assert get_class_names(dataset) == ["cat", "dog", "fox"] and len(dataset) == 12
    assert type(dataset) is ds.ImageFolderDataset  # MindSpore's own object, as MindCV returns
    assert dataset.get_class_indexing() == {"cat": 0, "dog": 1, "fox": 2}
    rows = _rows(dataset)
    assert [label for _, label in rows] == [0] * 4 + [1] * 4 + [2] * 4
    images = [vision.Decode()(encoded) for encoded, _ in rows]  # encoded files: transforms decode
    assert all(image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 for image in images)
    assert {image.shape[:2] for image in images} == {(32, 32), (36, 40), (40, 48)}  # grey PNGs became RGB


def test_missing_or_empty_split_folder_names_the_path(tmp_path):
    with pytest.raises(MindCVError, match=f"{tmp_path / 'train'} does not exist"):
        create_dataset("imagenet", root=tmp_path)
    with pytest.raises(MindCVError, match="cannot be downloaded; put it at"):
        create_dataset("imagenet", root=tmp_path, download=True)
    (tmp_path / "train" / "cat").mkdir(parents=True)
    with pytest.raises(MindCVError, match="holds no images"):
        create_dataset("imagenet", root=tmp_path, download=True)  # present data needs no download


def _corrupt(tmp_path):
    paths = make_image_tree(tmp_path, per_class=3)
    paths[1].write_bytes(b"not a jpeg at all")
    paths[4].write_bytes(paths[4].read_bytes()[:200])  # truncated JPEG
    return paths


def test_corrupt_image_stops_the_run_naming_the_file(tmp_path):
    paths = _corrupt(tmp_path)
    dataset = create_dataset("imagenet", root=tmp_path, shuffle=False)
    with pytest.raises(MindCVError, match=r"cannot read image .*(1|2)\.JPG.*skip_corrupt=True") as err:
        _rows(dataset)
    assert str(paths[1]) in str(err.value) or str(paths[4]) in str(err.value)
    assert "\n" not in str(err.value)


_BUILT_IN_A_THREAD_FIRST = """
import sys, threading
from mindcv import MindCVError
from mindcv.data import create_dataset, epoch_iterator
root = sys.argv[1]
# The process's first pipelines are built in threads (as in the concurrent-download test).
threads = [threading.Thread(target=lambda: len(create_dataset("imagenet", root=root))) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
try:
    list(epoch_iterator(create_dataset("imagenet", root=root, shuffle=False), 0, output_numpy=True))
except MindCVError as err:
    print("raised:", err)
"""


def test_corrupt_image_raises_after_pipelines_were_first_built_in_threads(tmp_path):
    """Once crashed a pytest worker with SIGSEGV: MindSpore's dataset engine crashes on a pipeline
    error read on any thread but the one that first used it; `mindcv.data` starts it on the main
    thread."""
    _corrupt(tmp_path)
    result = run(["python", "-c", _BUILT_IN_A_THREAD_FIRST, tmp_path], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "raised: cannot read image" in result.stdout


def test_skip_corrupt_replaces_and_counts(tmp_path, caplog):
    paths = _corrupt(tmp_path)
    dataset = create_dataset("imagenet", root=tmp_path, shuffle=False, skip_corrupt=True)
    with caplog.at_level(logging.WARNING):
        for epoch in range(2):
            rows = _rows(dataset, epoch)
            assert len(rows) == len(paths) == 9  # replaced, so batch positions do not move
    source = get_source(dataset)
    assert source.num_skipped == 2
    assert sum("skipped unreadable image" in r.message for r in caplog.records) == 2  # once per file
    assert "2 image(s) skipped so far" in caplog.text


def _write_mnist(root, counts=(("train", 6), ("t10k", 4))):
    """The four uncompressed idx files; image k of a split has pixel (0, 0) = k."""
    rng = np.random.default_rng(0)
    for prefix, count in counts:
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(count)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes()
        )
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())


def test_mnist_is_mindspores_dataset_with_our_order(tmp_path):
    _write_mnist(tmp_path)
    train = create_dataset("MNIST", root=tmp_path, seed=3)
    assert type(train) is ds.MnistDataset and len(train) == 6 and get_class_names(train) == list("0123456789")
    ids = [[int(image[0, 0, 0]) for image, _ in _rows(train, epoch)] for epoch in (0, 1)]
    assert sorted(ids[0]) == list(range(6)) and ids[0] != ids[1]  # every image, a new order per epoch
    assert ids[0] == [
        int(image[0, 0, 0]) for image, _ in _rows(create_dataset("mnist", root=tmp_path, seed=3))
    ]
    test = create_dataset("mnist", root=tmp_path, split="val", shuffle=False)
    assert [int(image[0, 0, 0]) for image, _ in _rows(test)] == [0, 1, 2, 3]
    with pytest.raises(MindCVError, match="no split 'valid'"):
        create_dataset("mnist", root=tmp_path, split="valid")
    with pytest.raises(MindCVError, match="put the four uncompressed idx files"):
        create_dataset("mnist", root=tmp_path / "missing", download=True)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_binary_layout(tmp_path, name):
    records = write_cifar(tmp_path, name)
    fmt = CIFAR_ARCHIVES[name]
    train = create_dataset(name, root=tmp_path, shuffle=False)
    assert len(train) == len(records["train"]) and len(get_class_names(train)) == fmt.num_classes
    rows = _rows(train)
    first = records["train"][0]
    assert rows[0][1] == first[fmt.label_bytes - 1]  # CIFAR-100: the fine label
    assert np.array_equal(rows[0][0], first[fmt.label_bytes :].reshape(3, 32, 32).transpose(1, 2, 0))
    for split in ("val", "test"):
        held_out = create_dataset(name, root=tmp_path / fmt.folder, split=split, shuffle=False)
        assert [label for _, label in _rows(held_out)] == records["test"][:, fmt.label_bytes - 1].tolist()
    assert get_class_names(held_out)[3] == "class3"


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_official_cifar_batches_are_mindspores_datasets(tmp_path, name):
    """Files of 10,000 records (the official ones) are read by MindSpore's class, as in MindCV;
    the small train files beside them stay ours (MindSpore refuses other lengths)."""
    write_cifar(tmp_path, name)
    fmt = CIFAR_ARCHIVES[name]
    official = cifar_records(name, 10_000, start=100)
    official.tofile(tmp_path / fmt.folder / fmt.test_files[0])
    test = create_dataset(name, root=tmp_path, split="val", shuffle=False)
    assert type(test) is {"cifar10": ds.Cifar10Dataset, "cifar100": ds.Cifar100Dataset}[name]
    assert len(test) == 10_000 and get_class_names(test)[3] == "class3"
    assert type(create_dataset(name, root=tmp_path)) is not type(test)
    transform = [vision.HWC2CHW()]  # raw pixels, to identify the samples
    loader = create_loader(test, batch_size=8, transform=transform, num_classes=fmt.num_classes)
    images, labels = next(epoch_iterator(loader, 0, output_numpy=True))
    assert labels.tolist() == official[:8, fmt.label_bytes - 1].tolist()  # CIFAR-100: the fine label
    assert images[:, 0, 0, 0].tolist() == official[:8, fmt.label_bytes].tolist()


def test_cifar_errors(tmp_path):
    with pytest.raises(MindCVError, match="download=True"):
        create_dataset("cifar10", root=tmp_path)
    write_cifar(tmp_path, "cifar10")
    with pytest.raises(MindCVError, match="no split 'valid'"):
        create_dataset("cifar10", root=tmp_path, split="valid")
    bad = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    bad.write_bytes(bad.read_bytes()[:-100])
    with pytest.raises(MindCVError, match=r"data_batch_3.bin has \d+ bytes.*delete .* download=True"):
        create_dataset("cifar10", root=tmp_path)
    (tmp_path / "c100" / "cifar-100-binary").mkdir(parents=True)
    cifar_records("cifar10", 3).tofile(tmp_path / "c100" / "cifar-100-binary" / "train.bin")
    with pytest.raises(MindCVError, match="not a whole number"):
        create_dataset("cifar100", root=tmp_path / "c100")


def test_digits_fixed_stratified_split():
    train = create_dataset("digits", split="train", shuffle=False, seed=1)
    val = create_dataset("digits", split="val", shuffle=False, seed=2)
    assert (len(train), len(val)) == (1437, 360) and get_class_names(val) == [str(d) for d in range(10)]
    train_src, val_src = get_source(train), get_source(val)
    assert train_src.images.shape[1:] == (32, 32, 3) and train_src.images.dtype == np.uint8
    assert np.bincount(val_src.labels).min() >= 35  # every class ~20% in val
    train_set = {im.tobytes() for im in train_src.images}
    assert sum(im.tobytes() in train_set for im in val_src.images) < 5  # (a few digits are duplicates)
    assert np.array_equal(get_source(create_dataset("digits", split="test")).labels, val_src.labels)
    assert get_source(create_dataset("digits", image_size=16)).images.shape[1:] == (16, 16, 3)


def test_unknown_name_and_option_suggest_the_fix():
    with pytest.raises(MindCVError, match="did you mean 'cifar10'"):
        create_dataset("cifar")
    with pytest.raises(MindCVError, match=r"unknown option\(s\) \['img_size'\].*image_size"):
        create_dataset("digits", img_size=16)


def test_default_root_is_under_mindcv_home():
    assert get_dataset_download_root() == get_mindcv_home() / "datasets"
    with pytest.raises(MindCVError, match=str(get_dataset_download_root() / "cifar10")):
        create_dataset("cifar10")


@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_through_the_pipeline(tmp_path, shuffle):
    write_cifar(tmp_path, "cifar10", per_file=5)  # 25 training images, pixel (0,0) red = their index

    def ids(**kw):
        return [int(image[0, 0, 0]) for image, _ in _rows(create_dataset("cifar10", root=tmp_path, **kw), 1)]

    shards = [ids(shuffle=shuffle, num_shards=3, shard_id=k, even_shards=False) for k in range(3)]
    assert sorted(sum(shards, [])) == list(range(25))  # eval shards: every sample exactly once
    shards = [ids(shuffle=shuffle, num_shards=3, shard_id=k, even_shards=True) for k in range(3)]
    assert [len(s) for s in shards] == [8, 8, 8] and len(set(sum(shards, []))) == 24


def test_get_class_indexing_is_the_class_to_label_map_through_the_pipeline(tmp_path):
    from mindcv.data import create_loader, create_transforms

    make_image_tree(tmp_path, "train")
    dataset = create_dataset("", root=tmp_path, split="train")
    assert dataset.get_class_indexing() == {"cat": 0, "dog": 1, "fox": 2}
    loader = create_loader(dataset, 4, transform=create_transforms("", image_resize=32), num_classes=3)
    assert loader.get_class_indexing() == {"cat": 0, "dog": 1, "fox": 2}  # MindSpore asks the source
