"""Classify image files or folders: the top-5 classes of each image, as a table or JSON.

python infer.py photos/ cat.jpg --model densenet121 --pretrained
python infer.py photos/ --model densenet121 --ckpt_path ckpt/densenet121-best.ckpt --json preds.json
python infer.py photos/ --pretrained --backend onnxruntime   # CPU: about 3x faster, see README "Speed"

Images are preprocessed with the model's eval transforms (resize to image_size / crop_pct, centre
crop, normalize with the weights' mean/std). Class names: --class_names FILE, else `classes.txt`
beside the checkpoint (written by fine-tuning runs), else ImageNet's for 1,000 classes.
"""

import argparse
import json
import logging
from pathlib import Path
from typing import Callable, List, Sequence

import numpy as np
from PIL import Image

from mindcv.data import create_transforms
from mindcv.data.class_names import CLASS_NAMES_FILE, imagenet_class_names, load_class_names
from mindcv.engine.builders import build_eval_model
from mindcv.engine.onnx_runtime import onnxruntime_forward
from mindcv.engine.runtime import init_runtime
from mindcv.utils.atomic import atomic_write_bytes
from mindcv.utils.cli import add_weight_args, run_script
from mindcv.utils.errors import MindCVError
from mindcv.utils.options import POSITIVE, arg_type, converter, to_int
from mindcv.utils.progress import progress_bar

_positive = arg_type(converter(to_int, "an integer", POSITIVE))  # as config.py checks --batch_size
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_logger = logging.getLogger("infer")


def find_images(inputs: Sequence[str]) -> List[Path]:
    """Named files as given, and every image file under named folders (recursively, sorted)."""
    images = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            images.append(path)
        else:
            raise MindCVError(f"{item}: no such file or folder")
    if not images:
        raise MindCVError(f"no images found in {', '.join(inputs)} (looked for {', '.join(IMAGE_SUFFIXES)})")
    return images


def class_names(args, num_classes: int) -> List[str]:
    """--class_names, else classes.txt beside the checkpoint, else ImageNet's, else the indices."""
    beside = Path(args.ckpt_path).with_name(CLASS_NAMES_FILE) if args.ckpt_path else None
    if args.class_names or (beside and beside.is_file()):
        source = args.class_names or beside
        names = load_class_names(source)
    elif num_classes == 1000:
        source, names = "ImageNet's class list", imagenet_class_names()
    else:
        _logger.warning(
            "no class names for %d classes: showing indices; pass --class_names FILE", num_classes
        )
        return [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise MindCVError(
            f"{source} has {len(names)} class names but the model has {num_classes} classes; "
            "give the class-name file of these weights with --class_names"
        )
    return names


def load_image(path: Path, transforms) -> np.ndarray:
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as err:
        raise MindCVError(f"{path}: not a readable image ({err}); remove it or name only images") from None
    for op in transforms:
        pixels = op(pixels)
    return pixels


def mindspore_forward(network) -> Callable[[np.ndarray], np.ndarray]:
    import mindspore as ms

    return lambda batch: network(ms.Tensor(batch)).asnumpy()


def classify(
    forward: Callable[[np.ndarray], np.ndarray],
    images: List[Path],
    transforms,
    names: List[str],
    batch_size: int,
    topk: int,
) -> List[dict]:
    """Top-`topk` classes and probabilities per image; the last batch is padded to keep one shape."""
    predictions = []
    with progress_bar(total=len(images), unit="image", desc="infer", leave=False) as progress:
        for start in range(0, len(images), batch_size):
            paths = images[start : start + batch_size]
            batch = np.stack([load_image(p, transforms) for p in paths])
            batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - len(paths), axis=0)])
            logits = forward(batch).astype(np.float64)[: len(paths)]
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            for path, row in zip(paths, probs):
                top = np.argsort(-row, kind="stable")[:topk]
                predictions.append(
                    {
                        "image": str(path),
                        "topk": [
                            {"index": int(i), "class": names[i], "probability": float(row[i])} for i in top
                        ],
                    }
                )
            progress.update(len(paths))
    return predictions


def format_table(predictions: List[dict]) -> str:
    k = len(predictions[0]["topk"])
    lines = ["| image | " + " | ".join(f"top-{i + 1}" for i in range(k)) + " |", "|---" * (k + 1) + "|"]
    for p in predictions:
        cells = [f"{c['class']} ({c['probability']:.1%})" for c in p["topk"]]
        lines.append(f"| {p['image']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", nargs="+", help="image files and folders (searched recursively)")
    add_weight_args(parser)
    parser.add_argument("--class_names", default="", help="file of class names, one per line, in label order")
    parser.add_argument(
        "--crop_pct", type=float, default=None, help="centre-crop fraction (default: the model's)"
    )
    parser.add_argument(
        "--batch_size", type=_positive, default=8, help="images per forward pass (default: 8)"
    )
    parser.add_argument("--topk", type=_positive, default=5, help="classes shown per image (default: 5)")
    parser.add_argument(
        "--mode", type=int, choices=(0, 1), default=0, help="0 = Graph, 1 = PyNative (default: 0)"
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads; 0 = one per core")
    parser.add_argument(
        "--backend",
        choices=("mindspore", "onnxruntime"),
        default="mindspore",
        help="run the network in MindSpore, or export it to ONNX and run it in onnxruntime (CPU; "
        "several times faster there) (default: mindspore)",
    )
    parser.add_argument(
        "--json", default="", metavar="PATH", help="write the predictions as JSON here ('-': stdout)"
    )
    return parser.parse_args(argv)


def main(args) -> None:
    images = find_images(args.inputs)
    init_runtime(args.mode, args.device_target, args.threads)
    network, cfg, num_classes = build_eval_model(args)
    names = class_names(args, num_classes)
    preprocessing = {key: cfg[key] for key in ("interpolation", "mean", "std", "crop_pct") if key in cfg}
    if args.crop_pct:
        preprocessing["crop_pct"] = args.crop_pct
    image_size = args.image_size or cfg.get("input_size", (3, 224, 224))[-1]
    transforms = create_transforms("imagenet", is_training=False, image_resize=image_size, **preprocessing)
    transforms = transforms[1:]  # its first op decodes files; load_image decodes them itself, naming bad ones
    batch_size = min(args.batch_size, len(images))
    if args.backend == "onnxruntime":
        sample = np.zeros((batch_size, 3, image_size, image_size), np.float32)
        forward = onnxruntime_forward(network, sample, args.threads)
    else:
        forward = mindspore_forward(network)
    predictions = classify(forward, images, transforms, names, batch_size, min(args.topk, num_classes))
    if args.json:
        text = json.dumps({"model": args.model, "predictions": predictions}, indent=2) + "\n"
        if args.json == "-":
            print(text, end="")
            return
        atomic_write_bytes(args.json, text.encode())
    print(format_table(predictions))


if __name__ == "__main__":
    run_script(main, parse_args)
