"""Speed and memory of a registered model: train images/s, inference latency and throughput.

python benchmark.py --model densenet121 --batch_size 16 --compare torchvision
python benchmark.py --mode 0 1 --amp_level O0 O2 --json bench.json
python benchmark.py --user_script --compare torchvision --torch_modes channels_last compile
python benchmark.py --batch_size 64 --tasks train --memory_efficient --compare torchvision

Prints the results table of the model page (train s/epoch on ImageNet-1k, infer ms at batch 1)
in Markdown, then every figure per configuration and, with --compare, the ratios to torchvision.
Each figure comes from its own fresh process (see mindcv/benchmark/harness.py for the method).
"""

import argparse
import json
import logging

from mindcv.benchmark.harness import TASKS, benchmark, format_report
from mindcv.names import AMP_LEVELS
from mindcv.utils.atomic import atomic_write_bytes
from mindcv.utils.cli import run_script
from mindcv.utils.download import get_mindcv_home
from mindcv.utils.options import POSITIVE, arg_type, converter, to_int

_positive = arg_type(converter(to_int, "an integer", POSITIVE))  # config.py's --batch_size check


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="densenet121", help="registered model name (default: densenet121)")
    parser.add_argument(
        "--mode",
        type=int,
        nargs="+",
        choices=(0, 1),
        default=[0],
        help="0 = Graph, 1 = PyNative (default: 0)",
    )
    parser.add_argument(
        "--amp_level",
        nargs="+",
        choices=AMP_LEVELS,
        default=["O0"],
        help="mixed-precision levels to time (train.py's --amp_level); with --compare, bf16 also "
        "times torchvision under bfloat16 autocast (default: O0)",
    )
    parser.add_argument(
        "--image_size", type=_positive, default=224, help="input side in pixels (default: 224)"
    )
    parser.add_argument(
        "--batch_size", type=_positive, default=16, help="train and throughput batch (default: 16)"
    )
    parser.add_argument("--num_classes", type=_positive, default=1000, help="(default: 1000)")
    parser.add_argument(
        "--warmup", type=_positive, default=2, help="untimed steps, the first compiles (default: 2)"
    )
    parser.add_argument(
        "--repeats", type=_positive, default=5, help="timed steps; the median is kept (default: 5)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads for both frameworks; 0 = one per core"
    )
    parser.add_argument("--device_target", default="auto", help="auto, CPU, GPU or Ascend (default: auto)")
    parser.add_argument("--device_num", type=_positive, default=1, help="devices the s/epoch figure assumes")
    parser.add_argument(
        "--memory_efficient",
        nargs="?",
        const="also",
        choices=("also", "only"),
        help="also measure training with memory_efficient=True (bottlenecks recomputed in backward) "
        "after each default row, and torchvision's with --compare, and print the ratios; `only`: "
        "measure just those rows (e.g. to find the largest batch that fits)",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=TASKS,
        default=list(TASKS),
        help="what to measure: train step, inference at batch 1 (latency), at --batch_size "
        "(throughput) (default: all)",
    )
    parser.add_argument(
        "--compare",
        choices=("torchvision",),
        help="also time torchvision's DenseNet in the model's configuration (fp32 eager)",
    )
    parser.add_argument(
        "--torch_modes",
        nargs="+",
        choices=("channels_last", "compile"),
        default=[],
        help="with --compare, also time torchvision fp32 in eager channels_last and/or torch.compile "
        "(inductor, channels_last; compiles for minutes)",
    )
    parser.add_argument(
        "--user_script",
        action="store_true",
        help="also time a user's own Graph-mode script: nn.TrainOneStepCell around create_model, "
        "without train.py's set-up (fp32)",
    )
    parser.add_argument(
        "--onnxruntime",
        action="store_true",
        help="also time inference of the model exported to ONNX, run by onnxruntime (export.py's path)",
    )
    parser.add_argument(
        "--compile_cache",
        default=str(get_mindcv_home() / "compile_cache"),
        help="MindSpore graph compile cache folder; '' disables it (default: $MINDCV_HOME/compile_cache)",
    )
    parser.add_argument("--json", default="", metavar="PATH", help="also write every figure as JSON here")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    return parser.parse_args(argv)


def main(args) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = benchmark(
        args.model,
        modes=args.mode,
        amp_levels=args.amp_level,
        image_size=args.image_size,
        batch_size=args.batch_size,
        num_classes=args.num_classes,
        warmup=args.warmup,
        repeats=args.repeats,
        threads=args.threads,
        device_target=args.device_target,
        device_num=args.device_num,
        memory_efficient=args.memory_efficient,
        compare=args.compare,
        cache_root=args.compile_cache or None,
        onnxruntime=args.onnxruntime,
        user_script=args.user_script,
        torch_modes=args.torch_modes,
        tasks=args.tasks,
    )
    print(format_report(report))
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode())


if __name__ == "__main__":
    run_script(main, parse_args)
