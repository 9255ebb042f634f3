"""Speed and peak memory of a model's train step and inference, in MindSpore or torchvision.

`benchmark()` runs each measurement (one framework, mode, amp level and task) in a fresh Python
process, `python -m mindcv.benchmark.harness SPEC`: the peak RSS that `getrusage` reports is a
process's high-water mark, so only a process of its own gives one measurement's peak, and no
measurement inherits another's compiled graphs, memory pools or thread state. The torchvision
worker never imports MindSpore. Every step is timed to completion (the result is copied to the
host); the figure is the median of `repeats` steps after `warmup` steps. The first step's excess
over the median is the compile time (Graph mode: building the graph; PyNative: first-call overhead).

Graph-mode compilations are saved to MindSpore's compile cache (`MS_COMPILER_CACHE_ENABLE/PATH`,
the 2.10 replacement of `set_context(enable_compile_cache=..., compile_cache_path=...)`) in a
folder per measurement and per digest of this package's source, so a second run loads the graph
and a code change never reuses a stale one.
"""

import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import numpy as np

# Absolute imports: this module is the entry script of its worker processes, and MindSpore's
# compile cache parses the entry script's imports, failing on relative ones.
from mindcv.amp import check_bf16_on_cpu
from mindcv.engine.runtime import compile_cache_env, resolve_device_target, source_digest
from mindcv.utils.cli import run_script
from mindcv.utils.errors import MindCVError

__all__ = [
    "IMAGENET_TRAIN_IMAGES",
    "TASKS",
    "benchmark",
    "format_report",
    "measure",
    "random_batch",
    "run_isolated",
    "time_steps",
]

IMAGENET_TRAIN_IMAGES = 1_281_167
TASKS = ("train", "latency", "throughput")  # train step at batch N; inference at batch 1 and batch N
# torchvision's modes: None eager NCHW, "channels_last" eager NHWC, "compile" torch.compile (inductor, NHWC)
MODE_NAMES = {0: "graph", 1: "pynative", None: "eager", "channels_last": "eager channels_last"}
MODE_NAMES.update({"compile": "torch.compile channels_last", "exported": "exported"})
INFER_TASKS = ("latency", "throughput")
USER_SCRIPT = "mindspore user script"  # the framework name of `_user_script_step`'s rows
_RESULT = "BENCHMARK_RESULT "
_PACKAGE = Path(__file__).resolve().parents[1]
_logger = logging.getLogger(__name__)


def random_batch(batch_size: int, image_size: int, num_classes: int, seed: int = 0):
    """Images (N, 3, S, S) float32 and int32 labels: the same arrays for every framework."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch_size, 3, image_size, image_size), dtype=np.float32)
    return images, rng.integers(0, num_classes, batch_size, dtype=np.int32)


def time_steps(
    step: Callable[[], object], warmup: int, repeats: int, after_warmup: Callable[[], None] = lambda: None
) -> Dict[str, object]:
    """Run `warmup` then `repeats` steps; the first step's time and the median of the timed ones."""
    times = []
    for i in range(warmup + repeats):
        if i == warmup:
            after_warmup()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times[warmup:])
    return {
        "first_s": times[0],
        "median_s": median,
        "compile_s": max(times[0] - median, 0.0),
        "times_s": times,
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _reset_peak_rss() -> bool:
    """Restart the high-water mark that getrusage reports (Linux >= 4.0), so the peak of the timed
    steps excludes graph compilation and first-step set-up."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _mindspore_step(spec: dict) -> Callable[[], object]:
    import mindspore as ms

    from ..amp import apply_mixed_precision, resolve_loss_scale_type
    from ..engine.runtime import init_runtime
    from ..engine.train_step import create_trainer
    from ..loss import create_loss
    from ..models import create_model
    from ..optim import create_optimizer

    init_runtime(spec["mode"], spec["device_target"], spec["threads"], spec["seed"])
    kwargs = {"memory_efficient": True} if spec["memory_efficient"] else {}
    network = create_model(spec["model"], num_classes=spec["num_classes"], **kwargs)
    images, labels = (ms.Tensor(a) for a in random_batch(*_batch_args(spec)))
    amp = spec["amp_level"]
    if spec["task"] == "train":
        optimizer = create_optimizer(network, "momentum", lr=0.01, weight_decay=1e-4, momentum=0.9)
        loss_scale_type = resolve_loss_scale_type("auto", amp)  # train.py's --loss_scale_type auto
        step = create_trainer(
            network, create_loss("CE"), optimizer, amp_level=amp, loss_scale_type=loss_scale_type
        )
        step.set_train(True)
        return lambda: step(images, labels)[0].asnumpy()
    apply_mixed_precision(network, amp)
    network.set_train(False)
    return lambda: network(images).asnumpy()


def _user_script_step(spec: dict) -> Callable[[], object]:
    """A user's own script on the package: `create_model` in `nn.TrainOneStepCell` with MindSpore's
    Momentum, and nothing else of ours (no init_runtime, so MindSpore's default thread pool)."""
    import mindspore as ms
    from mindspore import nn

    from ..models import create_model

    ms.set_context(mode=spec["mode"])
    ms.set_seed(spec["seed"])
    network = create_model(spec["model"], num_classes=spec["num_classes"])
    images, labels = (ms.Tensor(a) for a in random_batch(*_batch_args(spec)))
    if spec["task"] == "train":
        optimizer = nn.Momentum(network.trainable_params(), 0.01, 0.9, weight_decay=1e-4)
        step = nn.TrainOneStepCell(nn.WithLossCell(network, nn.CrossEntropyLoss()), optimizer)
        step.set_train(True)
        return lambda: step(images, labels).asnumpy()
    network.set_train(False)
    return lambda: network(images).asnumpy()


def _torch_step(spec: dict) -> Callable[[], object]:
    import torch
    import torchvision

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    if spec["architecture"] is None:
        raise MindCVError(f"{spec['model']} is not a DenseNet torchvision can build; drop --compare")
    growth_rate, block_config, num_init_features = spec["architecture"]
    model = torchvision.models.DenseNet(  # densenet121 etc. are this class in their configuration
        growth_rate,
        tuple(block_config),
        num_init_features,
        num_classes=spec["num_classes"],
        memory_efficient=spec["memory_efficient"],
    )
    images, labels = (torch.from_numpy(a) for a in random_batch(*_batch_args(spec)))
    labels = labels.long()
    if spec["mode"] in ("channels_last", "compile"):  # the layout torch's CPU convolutions prefer
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    if spec["mode"] == "compile":
        model = torch.compile(model)  # inductor; compiles in the first (untimed) step, for minutes

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec["amp_level"] == "bf16")

    if spec["task"] == "train":
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss()

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            return loss.item()

        return train_step
    model.eval()

    def infer_step():
        with torch.inference_mode(), autocast():
            return model(images).float().numpy()

    return infer_step


def _onnxruntime_step(spec: dict) -> Callable[[], object]:
    """Inference of the model exported to ONNX (as export.py writes it), run by onnxruntime."""
    from ..engine.onnx_runtime import onnxruntime_forward
    from ..engine.runtime import init_runtime
    from ..models import create_model

    init_runtime(1, "CPU", spec["threads"], spec["seed"])
    network = create_model(spec["model"], num_classes=spec["num_classes"])
    network.set_train(False)
    images, _ = random_batch(*_batch_args(spec))
    forward = onnxruntime_forward(network, images, spec["threads"])
    return lambda: forward(images)


def _batch_args(spec: dict):
    batch = 1 if spec["task"] == "latency" else spec["batch_size"]
    return batch, spec["image_size"], spec["num_classes"], spec["seed"]


def measure(spec: dict) -> Dict[str, object]:
    """One measurement in this process: build, then time the steps; see `benchmark` for `spec`.

    `peak_rss_mb` is the high-water RSS of the timed steps (model, optimizer state and the
    step's activations); `setup_peak_rss_mb` also covers building, compiling and warm-up.
    Where the mark cannot be reset, both are the process's peak (`peak_rss_scope`).
    """
    builders = {"torchvision": _torch_step, "onnxruntime": _onnxruntime_step, USER_SCRIPT: _user_script_step}
    step = builders.get(spec["framework"], _mindspore_step)(spec)
    result = {"rss_start_mb": _peak_rss_mb()}

    def restart_peak():
        result["setup_peak_rss_mb"] = _peak_rss_mb()
        result["peak_rss_scope"] = "timed steps" if _reset_peak_rss() else "process"

    result.update(time_steps(step, spec["warmup"], spec["repeats"], restart_peak))
    batch = _batch_args(spec)[0]
    result.update(batch_size=batch, images_per_s=batch / result["median_s"], peak_rss_mb=_peak_rss_mb())
    if spec["framework"] == "onnxruntime":
        import onnxruntime

        result.update(device="CPU", version=f"onnxruntime {onnxruntime.__version__}")
    elif spec["framework"] in ("mindspore", USER_SCRIPT):
        import mindspore as ms

        from ..ops import conv_path

        result.update(
            device=ms.get_context("device_target"),
            version=f"mindspore {ms.__version__}",
            conv_path=conv_path(bf16=spec["amp_level"] == "bf16"),
        )
    else:
        import torch
        import torchvision

        result["version"] = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    return result


def _cache_dir(spec: dict, root: Path) -> Path:
    name = (
        f"{spec['model']}-{spec['task']}-{MODE_NAMES[spec['mode']]}-{spec['amp_level']}-"
        f"{spec['image_size']}px-b{_batch_args(spec)[0]}-c{spec['num_classes']}"
        f"{'-me' if spec['memory_efficient'] else ''}"
    )
    return root / source_digest() / name


def run_isolated(spec: dict, cache_root: Optional[Path] = None) -> Dict[str, object]:
    """`measure(spec)` in a fresh Python process, with the compile cache under `cache_root`."""
    env = dict(os.environ, GLOG_v=os.environ.get("GLOG_v", "3"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE.parent), env.get("PYTHONPATH")]))
    cache = None
    if cache_root and spec["framework"] == "mindspore" and spec["mode"] == 0:
        path = _cache_dir(spec, Path(cache_root))
        cache = {"path": str(path), "warm": path.is_dir() and any(path.rglob("*.mindir"))}
        path.mkdir(parents=True, exist_ok=True)
        env.update(compile_cache_env(path))  # before the child starts
    command = [sys.executable, "-m", __name__, json.dumps(spec)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT)]
    if done.returncode != 0 or not lines:
        errors = [line for line in done.stderr.splitlines() if line.strip()] or [
            f"exit code {done.returncode}"
        ]
        native = [line for line in errors if line.startswith("mindcv native op:")]  # the op's own reason
        reason = "; ".join(native[:1] + errors[-1:])
        raise MindCVError(f"{spec['framework']} {spec['task']} measurement failed: {reason}")
    result = json.loads(lines[-1][len(_RESULT) :])
    result["compile_cache"] = cache
    return result


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor()} ({os.cpu_count()} logical CPUs)"


_ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx_vnni", "amx_tile")  # what oneDNN picks kernels by


def _cpu_isa() -> str:
    """The vector extensions of this CPU that decide oneDNN's kernels, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return " ".join(flag for flag in _ISA_FLAGS if flag in flags) or "unknown"


def _summary(tasks: Dict[str, dict], device_num: int) -> Dict[str, object]:
    """The headline figures; the training ones are None for an inference-only row (onnxruntime)."""
    train = tasks.get("train")
    return {
        "train_images_per_s": train and train["images_per_s"],
        "train_s_per_epoch": train and IMAGENET_TRAIN_IMAGES / (train["images_per_s"] * device_num),
        "train_compile_s": train and train["compile_s"],
        "train_peak_rss_mb": train and train["peak_rss_mb"],
        "infer_ms_batch1": tasks["latency"]["median_s"] * 1000 if "latency" in tasks else None,
        "infer_images_per_s": tasks["throughput"]["images_per_s"] if "throughput" in tasks else None,
        # MindSpore rows: which convolution kernels ran (the same in every task)
        "conv_path": next(iter(tasks.values())).get("conv_path"),
    }


def benchmark(
    model: str = "densenet121",
    modes: Sequence[int] = (0,),
    amp_levels: Sequence[str] = ("O0",),
    image_size: int = 224,
    batch_size: int = 16,
    num_classes: int = 1000,
    warmup: int = 2,
    repeats: int = 5,
    threads: int = 0,
    device_target: str = "auto",
    device_num: int = 1,
    memory_efficient: Optional[str] = None,
    compare: Optional[str] = None,
    cache_root: Optional[Path] = None,
    seed: int = 0,
    onnxruntime: bool = False,
    user_script: bool = False,
    torch_modes: Sequence[str] = (),
    tasks: Sequence[str] = TASKS,
) -> Dict[str, object]:
    """Every figure of `model` for each mode x amp level (and torchvision fp32 eager if `compare`,
    plus torchvision under bfloat16 autocast when `amp_levels` holds bf16).

    With `onnxruntime`, also the inference figures of the model exported to ONNX and run by
    onnxruntime (the deployment path of export.py), as one more row of `results`. With
    `user_script`, also a Graph-mode fp32 row of a user's own script on `create_model`
    (`_user_script_step`): what a library user gets without train.py's set-up.

    `train_s_per_epoch` extrapolates one device's images/s to ImageNet-1k's 1,281,167 training
    images on `device_num` devices with perfect scaling. Ratios are ours / torchvision's: every
    row against fp32 eager, and bf16 rows also against bf16 autocast (`versus` names which).
    `torch_modes` ("channels_last": eager NHWC; "compile": torch.compile, inductor, NHWC, which
    compiles for minutes) adds, with `compare`, those torchvision fp32 rows and our fp32 rows'
    ratios to each.

    `memory_efficient="also"` adds, after each MindSpore row (and torchvision's fp32 one), a train
    row with `memory_efficient=True`, so both are measured in the same run; `memory_ratios` then
    holds each such row's images/s and peak RSS over its default row's, and its peak over
    torchvision's memory-efficient one. `"only"` measures just those rows. `tasks` limits the
    measurements (e.g. to train).
    """
    from ..models import model_entrypoint
    from ..models.densenet import ARCHITECTURES

    model_entrypoint(model)  # an unknown name fails here, with suggestions, before any process starts
    if warmup < 1 or repeats < 1:
        raise MindCVError("warmup and repeats must be at least 1 (the first step compiles)")
    if "bf16" in amp_levels and resolve_device_target(device_target) == "CPU":
        check_bf16_on_cpu()  # now, not after the other rows were measured
    threads = threads or os.cpu_count() or 1
    common = dict(
        model=model,
        architecture=ARCHITECTURES.get(model),  # torchvision's DenseNet class is built in it
        image_size=image_size,
        batch_size=batch_size,
        num_classes=num_classes,
        warmup=warmup,
        repeats=repeats,
        threads=threads,
        device_target=device_target,
        seed=seed,
    )
    report = dict(
        common, memory_efficient=memory_efficient, device_num=device_num, cpu=_cpu_name(), isa=_cpu_isa()
    )
    report.update(results=[], ratios=[], memory_ratios=[])
    report.update(torchvision=None, torchvision_bf16=None, torch_variants=[])
    report["compare"] = compare

    def run(framework: str, mode, amp_level: str, tasks_to_run=tasks, recompute=False) -> Dict[str, object]:
        """One row: each task measured in its own process, then the row's headline figures."""
        figures = {}
        for task in tasks_to_run:
            _logger.info("measuring %s %s %s %s", framework, MODE_NAMES[mode], amp_level, task)
            spec = dict(common, framework=framework, mode=mode, amp_level=amp_level, task=task)
            figures[task] = run_isolated(dict(spec, memory_efficient=recompute), cache_root)
        device = figures[tasks_to_run[0]].get("device", "CPU")  # torchvision runs on the CPU only
        names = {"framework": framework, "mode": MODE_NAMES[mode], "amp_level": amp_level}
        names["memory_efficient"] = recompute
        return {**names, "tasks": figures, "device": device, **_summary(figures, device_num)}

    def run_memory_efficient(default_row, framework: str, mode, amp_level: str) -> Dict[str, object]:
        """The train row with memory_efficient=True, measured right after `default_row`."""
        row = run(framework, mode, amp_level, ("train",), recompute=True)
        row["versus_default"] = default_row
        return row

    def rows(framework: str, mode, amp_level: str) -> list:
        """The default row, the memory_efficient=True one, or both, as asked."""
        if memory_efficient == "only":
            return [run(framework, mode, amp_level, ("train",), recompute=True)]
        default = run(framework, mode, amp_level)
        return [default] + (
            [run_memory_efficient(default, framework, mode, amp_level)] if memory_efficient else []
        )

    for mode in modes:
        for amp_level in amp_levels:
            report["results"] += rows("mindspore", mode, amp_level)
    if user_script:
        report["results"].append(run(USER_SCRIPT, 0, "O0"))
    if onnxruntime:
        import importlib.util

        if not importlib.util.find_spec("onnxruntime"):
            raise MindCVError("--onnxruntime needs onnxruntime: pip install onnxruntime")
        report["results"].append(run("onnxruntime", "exported", "O0", INFER_TASKS))
    if compare == "torchvision":
        import importlib.util

        if not (importlib.util.find_spec("torch") and importlib.util.find_spec("torchvision")):
            report["compare"] = "skipped: torch and torchvision are not installed"
        else:
            fp32_rows = rows("torchvision", None, "O0")
            report["torchvision"] = next((row for row in fp32_rows if not row["memory_efficient"]), None)
            report["torchvision_memory_efficient"] = next(
                (row for row in fp32_rows if row["memory_efficient"]), None
            )
            if "bf16" in amp_levels:
                report["torchvision_bf16"] = run("torchvision", None, "bf16")
            fp32, bf16 = report["torchvision"], report["torchvision_bf16"]
            ours = [row for row in report["results"] if not row["memory_efficient"]]
            report["ratios"] = [_ratios(row, fp32, "fp32 eager") for row in ours] if fp32 else []
            for mode in torch_modes:
                variant = run("torchvision", mode, "O0")
                report["torch_variants"].append(variant)
                fp32_rows = [row for row in ours if row["amp_level"] == "O0"]
                report["ratios"] += [_ratios(row, variant, f"fp32 {MODE_NAMES[mode]}") for row in fp32_rows]
            if bf16:
                bf16_rows = [row for row in report["results"] if row["amp_level"] == "bf16"]
                report["ratios"] += [_ratios(row, bf16, "bf16 autocast") for row in bf16_rows]
    theirs = report.get("torchvision_memory_efficient")
    for row in report["results"] + ([theirs] if theirs else []):
        default = row.pop("versus_default", None)
        if default:
            report["memory_ratios"].append(_memory_ratios(row, default, theirs))
    return report


def _memory_ratios(row: dict, default: dict, torchvision: Optional[dict]) -> Dict[str, object]:
    """A memory_efficient=True row over its framework's default row (and over torchvision's
    memory-efficient one)."""
    figure = {"images_per_s": "train_images_per_s", "peak_rss": "train_peak_rss_mb"}
    ratios = {f"{name}_vs_default": row[key] / default[key] for name, key in figure.items()}
    peak = torchvision and row["train_peak_rss_mb"] / torchvision["train_peak_rss_mb"]
    names = {key: row[key] for key in ("framework", "mode", "amp_level")}
    return {**names, **ratios, "peak_rss_vs_torchvision_memory_efficient": peak}


_RATIO_FIGURES = ("train_images_per_s", "infer_ms_batch1", "infer_images_per_s", "train_peak_rss_mb")


def _ratios(ours: dict, theirs: dict, versus: str) -> Dict[str, object]:
    ratios = {key: ours[key] and ours[key] / theirs[key] for key in _RATIO_FIGURES}
    names = {key: ours[key] for key in ("framework", "mode", "amp_level")}
    return {**names, **ratios, "versus": f"torchvision {versus}"}


def _cell(value: Optional[float], digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def format_report(report: dict) -> str:
    """The seed's results table, every figure per configuration, and the torchvision ratios, in Markdown."""
    by_key = {
        (r["mode"], r["amp_level"]): r
        for r in report["results"]
        if r["framework"] == "mindspore" and not r.get("memory_efficient")
    }
    lines = [
        f"Train: s/epoch for ImageNet-1k ({IMAGENET_TRAIN_IMAGES:,} images) on {report['device_num']} "
        f"device(s), batch {report['batch_size']}; infer: ms per image at batch 1. "
        f"{report['image_size']}x{report['image_size']}, {report['threads']} threads, {report['cpu']}, "
        f"ISA: {report.get('isa', 'unknown')}.",
        "",
        "| device | model | amp | PyNative train (s/epoch) | PyNative infer (ms) "
        "| Graph train (s/epoch) | Graph infer (ms) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for amp in dict.fromkeys(amp for _, amp in by_key):
        cells = []
        for mode in ("pynative", "graph"):
            row = by_key.get((mode, amp), {})
            cells += [_cell(row.get("train_s_per_epoch"), 0), _cell(row.get("infer_ms_batch1"))]
        device = next(r["device"] for (_, a), r in by_key.items() if a == amp)
        lines.append(f"| {device} | {report['model']} | {amp} | " + " | ".join(cells) + " |")

    theirs = (
        report["torchvision"],
        report.get("torchvision_memory_efficient"),
        *report.get("torch_variants", ()),
        report.get("torchvision_bf16"),
    )
    rows = report["results"] + [row for row in theirs if row]
    lines += [
        "",
        f"| framework | mode | amp | train (images/s) | train compile (s) | train peak RSS (MB) "
        f"| infer batch 1 (ms) | infer batch {report['batch_size']} (images/s) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cache = row["tasks"].get("train", {}).get("compile_cache")
        compile_s = _cell(row["train_compile_s"]) + (" (cached)" if cache and cache["warm"] else "")
        cells = [
            row["framework"]
            + (f" ({row['conv_path']})" if row.get("conv_path") else "")
            + (" memory_efficient" if row.get("memory_efficient") else ""),
            row["mode"],
            row["amp_level"],
            _cell(row["train_images_per_s"], 2),
            compile_s,
            _cell(row["train_peak_rss_mb"], 0),
            _cell(row["infer_ms_batch1"]),
            _cell(row["infer_images_per_s"], 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if report["ratios"]:
        lines += [
            "",
            "Ours / torchvision (same data and threads): above 1 is better for images/s, "
            "below 1 for ms and MB.",
            "",
            f"| framework | mode | amp | train images/s | infer batch 1 ms "
            f"| infer batch {report['batch_size']} images/s | train peak RSS | versus |",
            "|---|---|---|---:|---:|---:|---:|---|",
        ]
        for ratio in report["ratios"]:
            values = " | ".join("—" if ratio[key] is None else f"{ratio[key]:.2f}x" for key in _RATIO_FIGURES)
            names = f"| {ratio['framework']} | {ratio['mode']} | {ratio['amp_level']} |"
            lines.append(f"{names} {values} | {ratio.get('versus', 'torchvision fp32 eager')} |")
    elif report["compare"] and report["compare"].startswith("skipped"):
        lines += ["", f"torchvision comparison {report['compare']}."]
    if report.get("memory_ratios"):
        lines += [
            "",
            "memory_efficient=True over the default (train step, same run): images/s and peak RSS, "
            "and peak RSS over torchvision's memory_efficient=True.",
            "",
            "| framework | mode | amp | images/s | peak RSS | peak RSS vs torchvision memory_efficient |",
            "|---|---|---|---:|---:|---:|",
        ]
        for ratio in report["memory_ratios"]:
            values = [ratio["images_per_s_vs_default"], ratio["peak_rss_vs_default"]]
            values.append(ratio["peak_rss_vs_torchvision_memory_efficient"])
            cells = " | ".join("—" if v is None else f"{v:.2f}x" for v in values)
            lines.append(f"| {ratio['framework']} | {ratio['mode']} | {ratio['amp_level']} | {cells} |")
    return "\n".join(lines)


def _print_measurement(spec: dict) -> None:
    print(_RESULT + json.dumps(measure(spec)), flush=True)


if __name__ == "__main__":
    run_script(_print_measurement, lambda argv: json.loads(argv[0]))
