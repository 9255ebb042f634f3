"""Input-pipeline speed: ImageNet train-recipe images/s on JPEGs this script makes.

    python tools/benchmark_data.py                 # 224 crops, 2 workers, 512 JPEGs of 500x375

Measures create_dataset -> create_transforms(is_training=True) -> create_loader, i.e. decode,
random-resized crop, flip, colour jitter, normalize, CHW and batching, after one warm-up epoch.
Compare the figure with the model's own training step rate: the pipeline must be faster.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mindcv.data import create_dataset, create_loader, create_transforms, epoch_iterator


def make_jpegs(root: Path, count: int, width: int, height: int, classes: int = 4) -> None:
    """Smooth random photos-like JPEGs (quality 90) spread over `classes` folders of root/train."""
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / "train" / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (max(height // 8, 1), max(width // 8, 1), 3), dtype=np.uint8)
        Image.fromarray(small).resize((width, height), Image.BILINEAR).save(folder / f"{i}.jpg", quality=90)


def measure(root: Path, image_resize: int, workers: int, batch_size: int, epochs: int) -> float:
    """Images per second over `epochs` timed epochs of the training pipeline."""
    dataset = create_dataset("imagenet", root=root, split="train", num_parallel_workers=workers)
    transform = create_transforms("imagenet", is_training=True, image_resize=image_resize)
    loader = create_loader(
        dataset,
        batch_size,
        drop_remainder=True,
        is_training=True,
        transform=transform,
        num_parallel_workers=workers,
    )
    for _ in epoch_iterator(loader, 0):  # warm-up: threads, page cache
        pass
    images = 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for batch, _ in epoch_iterator(loader, epoch):
            images += batch.shape[0]
    return images / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-images", type=int, default=512, help="JPEGs to make")
    parser.add_argument(
        "--image-size", default="500x375", help="JPEG width x height (ImageNet's typical size)"
    )
    parser.add_argument("--image-resize", type=int, default=224, help="training crop size")
    parser.add_argument("--workers", type=int, default=2, help="num_parallel_workers per stage")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.image_size.lower().split("x"))
    if args.num_images < args.batch_size:
        parser.error("--num-images must be at least --batch-size")
    with tempfile.TemporaryDirectory(prefix="mindcv-bench-") as tmp:
        make_jpegs(Path(tmp), args.num_images, width, height)
        rate = measure(Path(tmp), args.image_resize, args.workers, args.batch_size, args.epochs)
    print(
        f"train pipeline: {rate:.0f} images/s at {args.image_resize}x{args.image_resize} "
        f"({args.workers} workers, batch {args.batch_size}, {args.num_images} JPEGs of {width}x{height}, "
        f"{os.cpu_count()} CPUs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
