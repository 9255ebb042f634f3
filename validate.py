"""Validate a DenseNet: top-1, top-5 and loss of published or your own weights.

python validate.py --model=densenet121 --dataset=imagenet --val_split=val --pretrained
python validate.py --model=densenet121 --dataset=imagenet --val_split=val \
        --ckpt_path=./ckpt/densenet121-best.ckpt
"""

import json
import logging

from config import parse_args
from mindcv.amp import apply_mixed_precision
from mindcv.engine.builders import build_loader
from mindcv.engine.evaluate import evaluate
from mindcv.engine.runtime import compile_cache_folder, init_runtime
from mindcv.models import create_model, get_pretrained_cfg, load_weights
from mindcv.utils.atomic import atomic_write_bytes
from mindcv.utils.cli import run_script
from mindcv.utils.errors import MindCVError

_logger = logging.getLogger("validate")


def main(args) -> None:
    if not (args.pretrained or args.ckpt_path):
        raise MindCVError("nothing to validate: pass --pretrained or --ckpt_path PATH")
    cache = compile_cache_folder(args.compile_cache, vars(args))
    dist = init_runtime(args.mode, args.device_target, args.threads, args.seed, False, args.distribute, cache)
    if args.num_classes is None and args.pretrained:
        args.num_classes = get_pretrained_cfg(args.model)["num_classes"]
    loader = build_loader(args, dist, args.val_split, is_training=False)
    network = create_model(args.model, num_classes=args.num_classes, in_channels=args.in_channels)
    # No head may be dropped here: validating a fresh random classifier would be meaningless.
    load_weights(
        network, args.model, args.pretrained, args.ckpt_path, args.in_channels, new_head=False, ema=args.ema
    )
    apply_mixed_precision(network, args.val_amp_level)
    result = evaluate(network, loader, distributed=dist.distributed, progress=dist.is_main)
    if not dist.is_main:
        return
    print(
        f"{args.model} on {args.dataset}/{args.val_split}: top-1 {result['top1']:.4f}, "
        f"top-5 {result['top5']:.4f}, loss {result['loss']:.4f}, {result['num_samples']} samples"
    )
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(result, indent=2) + "\n").encode())


if __name__ == "__main__":
    run_script(main, parse_args)
