"""Convert a torchvision or timm DenseNet state dict into a MindSpore checkpoint with MindCV's names.

    python tools/convert_weights.py --model densenet121 --src densenet121.pth --dst densenet121.ckpt

Reads .pth/.pt (needs torch), .safetensors and .npz; the result loads with
`create_model(..., checkpoint_path=...)`. Problems are one line on stderr and exit code 2.
"""

import argparse
import sys

from mindcv.models.convert import convert_weights
from mindcv.utils.errors import MindCVError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="our model name, e.g. densenet121")
    parser.add_argument(
        "--src", required=True, help="torchvision/timm state dict: .pth, .pt, .safetensors, .npz"
    )
    parser.add_argument("--dst", required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = parser.parse_args(argv)
    try:
        dst = convert_weights(args.model, args.src, args.dst)
    except MindCVError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
