"""Tiny datasets in their real on-disk layouts, made by the tests themselves."""

import io
import tarfile
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image

from mindcv.data.datasets import CIFAR_ARCHIVES


def make_image_tree(
    root: Path, split: str = "train", classes=("cat", "dog", "fox"), per_class: int = 4
) -> List[Path]:
    """JPEGs (and one PNG per class, in grey) of 32x32 to 40x48 pixels in root/split/<class>/."""
    rng = np.random.default_rng(0)
    paths = []
    for cls in classes:
        folder = root / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = (32 + 4 * (i % 3), 32 + 8 * (i % 3))
            if i == 0:
                path = folder / f"{i}.png"
                Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8), "L").save(path)
            else:
                path = folder / f"{i}.JPG"
                Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path, "JPEG")
            paths.append(path)
        (folder / "notes.txt").write_text("not an image: ignored")
    return paths


def cifar_records(name: str, count: int, start: int = 0) -> np.ndarray:
    """`count` records; sample k has red pixel (0, 0) = start + k, to identify it downstream."""
    fmt = CIFAR_ARCHIVES[name]
    rng = np.random.default_rng(start)
    records = rng.integers(0, 256, (count, fmt.record_size), dtype=np.uint8)
    records[:, fmt.label_bytes - 1] = rng.integers(0, fmt.num_classes, count)
    if fmt.label_bytes == 2:
        records[:, 0] = rng.integers(0, 20, count)  # coarse label: must be ignored
    records[:, fmt.label_bytes] = np.arange(start, start + count) % 256
    return records


def write_cifar(parent: Path, name: str, per_file: int = 5, test: int = 7) -> Dict[str, np.ndarray]:
    """The archive's folder under `parent`, in the real layout; return the records per split."""
    fmt = CIFAR_ARCHIVES[name]
    folder = parent / fmt.folder
    folder.mkdir(parents=True)
    train = []
    for i, file in enumerate(fmt.train_files):
        train.append(cifar_records(name, per_file, start=i * per_file))
        train[-1].tofile(folder / file)
    test_records = cifar_records(name, test, start=100)
    test_records.tofile(folder / fmt.test_files[0])
    (folder / fmt.names_file).write_text("".join(f"class{i}\n" for i in range(fmt.num_classes)))
    return {"train": np.concatenate(train), "test": test_records}


def tarball(src: Path) -> bytes:
    """`src` as a .tar.gz whose top-level folder is `src.name`, like the official archives."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(src, arcname=src.name)
    return buffer.getvalue()
