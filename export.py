"""Export a model with its weights to MINDIR, ONNX or AIR (Ascend only) for deployment.

python export.py --model densenet121 --pretrained --format ONNX --output densenet121.onnx
python export.py --model densenet121 --ckpt_path ckpt/densenet121-best.ckpt --format MINDIR

The file is written under a temporary name and renamed when complete. An ONNX file is first
run with onnxruntime, when installed, on a random input: it must give the MindSpore model's top-1
and logits within a relative error of 1e-4 (max |difference| / max |logit|), else it is not kept.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from mindcv.engine.builders import build_eval_model
from mindcv.engine.runtime import init_runtime
from mindcv.utils.cli import add_weight_args, run_script
from mindcv.utils.errors import MindCVError

SUFFIXES = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}
MAX_RELATIVE_ERROR = 1e-4


def check_onnx(path: Path, network, sample: np.ndarray) -> str:
    """Compare onnxruntime's logits on `sample` with `network`'s; a one-line verdict, or raise."""
    try:
        import onnxruntime
    except ImportError:
        return "not checked: onnxruntime is not installed (pip install onnxruntime)"
    import mindspore as ms

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: sample})[0]
    ours = network(ms.Tensor(sample)).asnumpy()
    error = float(np.abs(theirs - ours).max() / np.abs(ours).max())
    if error >= MAX_RELATIVE_ERROR or not np.array_equal(theirs.argmax(1), ours.argmax(1)):
        raise MindCVError(
            f"the ONNX model disagrees with MindSpore (relative error {error:.1e}, top-1 "
            f"{theirs.argmax(1).tolist()} vs {ours.argmax(1).tolist()}); not written, please report it"
        )
    return f"checked with onnxruntime {onnxruntime.__version__}: same top-1, relative error {error:.1e}"


def main(args) -> None:
    import mindspore as ms

    from mindcv.ops import builtin_convolutions

    init_runtime(1, args.device_target)  # PyNative: ms.export builds its own graph either way
    if args.format == "AIR" and ms.get_context("device_target") != "Ascend":
        raise MindCVError("AIR export needs an Ascend device; use --format MINDIR or ONNX here")
    network, cfg, _ = build_eval_model(args)
    size = args.image_size or cfg.get("input_size", (3, 224, 224))[-1]
    sample = np.random.default_rng(0).standard_normal((args.batch_size, 3, size, size), dtype=np.float32)

    output = Path(args.output or f"{args.model}{SUFFIXES[args.format]}")
    output.parent.mkdir(parents=True, exist_ok=True)
    stem = output.with_name(f".{output.name}.tmp{os.getpid()}")
    written = stem.with_name(stem.name + SUFFIXES[args.format])  # ms.export appends the suffix
    try:
        with builtin_convolutions(network):  # the file holds standard Conv2D operators
            ms.export(network, ms.Tensor(sample), file_name=str(stem), file_format=args.format)
        verdict = check_onnx(written, network, sample) if args.format == "ONNX" else ""
        os.replace(written, output)
    finally:
        written.unlink(missing_ok=True)
    print(f"exported {args.model} ({args.format}, input {args.batch_size}x3x{size}x{size}) to {output}")
    if verdict:
        print(f"ONNX {verdict}")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_weight_args(parser)
    parser.add_argument(
        "--format", type=str.upper, choices=tuple(SUFFIXES), default="MINDIR", help="(default: MINDIR)"
    )
    parser.add_argument("--output", default="", help="file to write (default: <model>.<format suffix>)")
    parser.add_argument("--batch_size", type=int, default=1, help="batch of the exported input (default: 1)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_script(main, parse_args)
