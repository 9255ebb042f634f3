"""Speed of a model on each CPU convolution path, and of torchvision's, in one run.

python tools/conv_path_benchmark.py --model densenet121 --batch_size 16 --tasks train --rounds 2

Paths: oneDNN custom ops (mindcv/ops), the same in bfloat16 (MINDCV_NATIVE_CONV=bf16), and
MindSpore's Conv2D with oneDNN capped at AVX2 (MINDCV_NATIVE_CONV=0). Each figure comes from a
fresh process (mindcv/benchmark/harness.py), Graph mode, fp32 tensors, no compile cache, and is
the fastest timed step (other jobs on the shared VM slow some steps); the path is chosen when
the model module is imported, so it is set in the child's environment.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mindcv.benchmark.harness import run_isolated  # noqa: E402

PATHS = {"onednn fp32": "1", "onednn bf16": "bf16", "builtin AVX2 cap": "0"}
FIGURE = {"train": "images/s", "throughput": "images/s", "latency": "ms"}


def measure(args, framework: str, task: str, setting: str = "") -> float:
    spec = dict(
        framework=framework, model=args.model, mode=0 if framework == "mindspore" else None, amp_level="O0",
        task=task, image_size=args.image_size, batch_size=args.batch_size, num_classes=1000,
        warmup=args.warmup, repeats=args.repeats, threads=args.threads or os.cpu_count() or 1,
        device_target="CPU", memory_efficient=False, seed=0,
    )  # fmt: skip
    previous = os.environ.get("MINDCV_NATIVE_CONV")
    os.environ["MINDCV_NATIVE_CONV"] = setting or "1"
    try:
        result = run_isolated(spec)
    finally:
        os.environ.pop("MINDCV_NATIVE_CONV")
        if previous is not None:
            os.environ["MINDCV_NATIVE_CONV"] = previous
    best = min(result["times_s"][args.warmup :])  # the VM is shared: the fastest step is the least disturbed
    return best * 1000 if task == "latency" else result["batch_size"] / best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="densenet121")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", choices=tuple(FIGURE), default=["train"])
    parser.add_argument("--paths", nargs="+", choices=tuple(PATHS), default=list(PATHS))
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sequence: the VM's load drifts")
    args = parser.parse_args()
    for round_ in range(1, args.rounds + 1):
        for task in args.tasks:
            theirs = measure(args, "torchvision", task)
            print(f"round {round_} {task}: torchvision fp32 eager {theirs:.2f} {FIGURE[task]}", flush=True)
            for name in args.paths:
                ours = measure(args, "mindspore", task, PATHS[name])
                ratio = theirs / ours if task == "latency" else ours / theirs
                print(
                    f"round {round_} {task}: mindspore {name} {ours:.2f} {FIGURE[task]}, "
                    f"{ratio:.2f}x torchvision",
                    flush=True,
                )


if __name__ == "__main__":
    main()
