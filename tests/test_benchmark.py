"""benchmark.py and mindcv/benchmark/harness.py: timing, report, table, compile cache, torchvision ratios."""

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import mindcv.benchmark.harness as benchmark_module
from mindcv.benchmark.harness import (
    IMAGENET_TRAIN_IMAGES,
    format_report,
    random_batch,
    run_isolated,
    time_steps,
)
from mindcv.ops import conv_path
from tests.native_marks import lacks_bf16, needs_bf16
from tests.scripts import ROOT, assert_one_line_error, run_script

HAS_TORCHVISION = bool(importlib.util.find_spec("torch") and importlib.util.find_spec("torchvision"))
SMALL = ["--image_size", 32, "--batch_size", 2, "--num_classes", 10, "--warmup", 1, "--repeats", 1]
SMALL_NET = [*SMALL, "--model", "densenet_test"]  # torchvision's DenseNet is built in its configuration


def test_time_steps_takes_the_median_after_warmup(monkeypatch):
    durations = iter([0.30, 0.0, 0.02, 0.01, 0.03])
    clock = {"t": 0.0}

    def step():  # advances a fake clock instead of sleeping
        clock["t"] += next(durations)

    monkeypatch.setattr(benchmark_module.time, "perf_counter", lambda: clock["t"])
    calls = []
    result = time_steps(step, warmup=2, repeats=3, after_warmup=lambda: calls.append(clock["t"]))
    assert result["first_s"] == pytest.approx(0.30)
    assert result["median_s"] == pytest.approx(0.02)  # of 0.02, 0.01, 0.03: warm-up steps excluded
    assert result["compile_s"] == pytest.approx(0.28)
    assert calls == [pytest.approx(0.30)]  # called once, after the two warm-up steps


def test_random_batch_is_the_same_for_every_caller():
    images, labels = random_batch(3, 32, 10, seed=5)
    again, again_labels = random_batch(3, 32, 10, seed=5)
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.float32
    assert labels.dtype == np.int32 and labels.min() >= 0 and labels.max() < 10
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)


def _row(framework, mode, train_ips, latency_s, throughput_ips):
    tasks = {"train": {"compile_cache": {"warm": mode == "graph"}}}
    return {
        "framework": framework,
        "mode": mode,
        "amp_level": "O0",
        "device": "CPU",
        "tasks": tasks,
        "train_images_per_s": train_ips,
        "train_s_per_epoch": IMAGENET_TRAIN_IMAGES / (train_ips * 8),
        "train_compile_s": 12.5,
        "train_peak_rss_mb": 2048.0,
        "infer_ms_batch1": latency_s * 1000,
        "infer_images_per_s": throughput_ips,
    }


def test_format_report_fills_the_seed_table_and_marks_missing_modes():
    report = {
        "model": "densenet121",
        "image_size": 224,
        "batch_size": 16,
        "threads": 2,
        "cpu": "Xeon (2 logical CPUs)",
        "device_num": 8,
        "results": [_row("mindspore", "graph", 4.0, 0.1, 10.0)],
        "torchvision": None,
        "ratios": [],
        "compare": None,
    }
    table = format_report(report)
    epoch = f"{IMAGENET_TRAIN_IMAGES / 32:,.0f}"  # 4 images/s on each of 8 devices
    assert "| CPU | densenet121 | O0 | — | — | " + epoch + " | 100.0 |" in table
    assert "| mindspore | graph | O0 | 4.00 | 12.5 (cached) | 2,048 | 100.0 | 10.00 |" in table
    assert "torchvision" not in table

    report["compare"] = "skipped: torch and torchvision are not installed"
    assert format_report(report).endswith(
        "\n\ntorchvision comparison skipped: torch and torchvision are not installed."
    )


def test_worker_module_does_not_load_mindspore():
    """The torchvision worker runs this module: MindSpore in its process would inflate its RSS."""
    code = "import sys, mindcv.benchmark.harness; print('mindspore' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


def test_unknown_model_is_one_line():
    result = run_script("benchmark.py", "--model", "densenet12")
    assert_one_line_error(result, "unknown model 'densenet12'", "densenet121")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCHVISION, reason="torch and torchvision are not installed")
def test_pynative_run_with_onnxruntime_row_and_torchvision_comparison(tmp_path):
    path = tmp_path / "bench.json"
    command = ["--mode", 1, *SMALL_NET, "--onnxruntime", "--compare", "torchvision"]
    result = run_script("benchmark.py", *command, "--json", path)
    assert result.returncode == 0, result.stderr
    report = json.loads(path.read_text())

    ours, theirs = report["results"][0], report["torchvision"]
    assert (ours["framework"], ours["mode"], ours["amp_level"]) == ("mindspore", "pynative", "O0")
    assert (theirs["framework"], theirs["mode"]) == ("torchvision", "eager")
    for row in (ours, theirs):
        assert set(row["tasks"]) == {"train", "latency", "throughput"}
        for task in row["tasks"].values():
            assert len(task["times_s"]) == 2 and task["median_s"] > 0
            assert task["peak_rss_mb"] > 50 and task["rss_start_mb"] > 50
        assert row["tasks"]["latency"]["batch_size"] == 1 and row["tasks"]["throughput"]["batch_size"] == 2
        assert row["train_images_per_s"] == pytest.approx(2 / row["tasks"]["train"]["median_s"])
        assert row["train_s_per_epoch"] == pytest.approx(IMAGENET_TRAIN_IMAGES / row["train_images_per_s"])
        assert row["infer_ms_batch1"] == pytest.approx(1000 * row["tasks"]["latency"]["median_s"])
    ratio = report["ratios"][0]
    assert ratio["train_images_per_s"] == pytest.approx(
        ours["train_images_per_s"] / theirs["train_images_per_s"]
    )
    assert ratio["infer_ms_batch1"] == pytest.approx(ours["infer_ms_batch1"] / theirs["infer_ms_batch1"])
    assert report["threads"] >= 1 and report["image_size"] == 32

    assert re.search(r"\| CPU \| densenet_test \| O0 \| [\d,]+ \| [\d,.]+ \| — \| — \|", result.stdout)
    assert re.search(r"\| torchvision \| eager \| O0 \| [\d,.]+ \|", result.stdout)
    from mindcv.ops import conv_path

    assert ours["conv_path"] == conv_path() and theirs["conv_path"] is None  # the path this machine has
    assert f"| mindspore ({conv_path()}) | pynative | O0 |" in result.stdout
    assert re.search(r"\| pynative \| O0 \|( [\d.]+x \|){4}", result.stdout)

    exported = report["results"][1]  # inference only: the model as export.py writes it, in onnxruntime
    assert (exported["framework"], exported["mode"]) == ("onnxruntime", "exported")
    assert set(exported["tasks"]) == {"latency", "throughput"}
    assert exported["train_images_per_s"] is None and exported["infer_images_per_s"] > 0
    assert exported["tasks"]["latency"]["version"].startswith("onnxruntime ")
    ratio = report["ratios"][1]
    assert ratio["train_images_per_s"] is None
    assert ratio["infer_images_per_s"] == pytest.approx(
        exported["infer_images_per_s"] / theirs["infer_images_per_s"]
    )
    assert re.search(r"\| onnxruntime \| exported \| O0 \| — \| [\d.]+x \| [\d.]+x \| — \|", result.stdout)


@pytest.mark.slow
def test_graph_compile_is_cached_for_the_next_run(tmp_path):
    spec = dict(
        framework="mindspore",
        model="densenet_test",  # the tests' small DenseNet: the cache, not the depth, matters here
        task="latency",
        mode=0,
        amp_level="O0",
        image_size=32,
        batch_size=1,
        num_classes=10,
        warmup=1,
        repeats=1,
        threads=2,
        device_target="CPU",
        memory_efficient=False,
        seed=0,
    )
    cold = run_isolated(spec, tmp_path)
    warm = run_isolated(spec, tmp_path)
    assert cold["compile_cache"]["warm"] is False and warm["compile_cache"]["warm"] is True
    assert list((tmp_path).rglob("*.mindir")), "no graph was cached"
    assert warm["first_s"] < cold["first_s"]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCHVISION, reason="torch and torchvision are not installed")
def test_a_user_script_row_gets_the_same_convolution_path_and_a_ratio(tmp_path):
    path = tmp_path / "bench.json"
    # Training and batch 1: the script's own paths (no init_runtime); batch 16 adds nothing of its own.
    command = [
        "--mode",
        1,
        *SMALL_NET,
        "--user_script",
        "--compare",
        "torchvision",
        "--tasks",
        "train",
        "latency",
    ]
    result = run_script("benchmark.py", *command, "--json", path)
    assert result.returncode == 0, result.stderr
    report = json.loads(path.read_text())
    ours, script = report["results"]
    names = (script["framework"], script["mode"], script["amp_level"])
    assert names == ("mindspore user script", "graph", "O0")
    assert set(script["tasks"]) == {"train", "latency"} and script["train_images_per_s"] > 0
    assert script["infer_ms_batch1"] > 0
    assert script["conv_path"] == ours["conv_path"] == conv_path()  # a user's script gets the same path
    assert report["torchvision_bf16"] is None  # no bf16 row asked for
    assert [(ratio["framework"], ratio["versus"]) for ratio in report["ratios"]] == [
        ("mindspore", "torchvision fp32 eager"),
        ("mindspore user script", "torchvision fp32 eager"),
    ]
    expected = script["train_images_per_s"] / report["torchvision"]["train_images_per_s"]
    assert report["ratios"][1]["train_images_per_s"] == pytest.approx(expected)


@needs_bf16
@pytest.mark.skipif(not HAS_TORCHVISION, reason="torch and torchvision are not installed")
def test_bf16_rows_are_compared_with_torch_fp32_and_bf16_autocast(tmp_path):
    path = tmp_path / "bench.json"
    command = ["--mode", 1, *SMALL_NET, "--amp_level", "bf16", "--compare", "torchvision"]
    result = run_script("benchmark.py", *command, "--json", path)
    assert result.returncode == 0, result.stderr
    report = json.loads(path.read_text())
    (ours,) = report["results"]
    fp32, bf16 = report["torchvision"], report["torchvision_bf16"]
    assert (ours["amp_level"], fp32["amp_level"], bf16["amp_level"]) == ("bf16", "O0", "bf16")
    assert ours["conv_path"] == "oneDNN blocked bf16"
    versus = [(ratio["amp_level"], ratio["versus"]) for ratio in report["ratios"]]
    assert versus == [("bf16", "torchvision fp32 eager"), ("bf16", "torchvision bf16 autocast")]
    for ratio, theirs in zip(report["ratios"], (fp32, bf16)):
        expected = ours["train_images_per_s"] / theirs["train_images_per_s"]
        assert ratio["train_images_per_s"] == pytest.approx(expected)
    assert re.search(r"\| torchvision \| eager \| bf16 \| [\d,.]+ \|", result.stdout)
    assert re.search(r"\| pynative \| bf16 \|( [\d.]+x \|){4} torchvision bf16 autocast \|", result.stdout)


@lacks_bf16
def test_bf16_on_a_cpu_without_bf16_convolutions_fails_before_any_measurement(tmp_path):
    result = run_script("benchmark.py", "--mode", 1, *SMALL, "--amp_level", "O0", "bf16")
    assert_one_line_error(result, "amp_level bf16: this CPU has no oneDNN bfloat16 convolutions", "O0")


@pytest.mark.skipif(not HAS_TORCHVISION, reason="torch and torchvision are not installed")
def test_torch_channels_last_row_computes_the_eager_row_s_logits():
    """The channels_last row times the same model on the same batch, only in torch's NHWC layout."""
    from mindcv.benchmark.harness import _torch_step
    from mindcv.models.densenet import ARCHITECTURES

    spec = dict(model="densenet_test", architecture=ARCHITECTURES["densenet_test"], image_size=32)
    spec.update(batch_size=2, num_classes=10, threads=1, seed=0)
    spec.update(memory_efficient=False, amp_level="O0", task="throughput")
    eager, channels_last = (_torch_step(dict(spec, mode=mode))() for mode in (None, "channels_last"))
    np.testing.assert_allclose(channels_last, eager, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not HAS_TORCHVISION, reason="torch and torchvision are not installed")
@pytest.mark.parametrize("name", ["densenet121", "densenet161", "densenet169", "densenet201"])
def test_torchvision_densenet_in_our_configuration_is_torchvisions_own_model(name):
    import torchvision

    from mindcv.models.densenet import ARCHITECTURES

    growth_rate, block_config, num_init_features = ARCHITECTURES[name]
    ours = torchvision.models.DenseNet(growth_rate, block_config, num_init_features).state_dict()
    theirs = getattr(torchvision.models, name)(weights=None).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_report_header_names_the_isa():
    report = {
        "model": "densenet121",
        "image_size": 224,
        "batch_size": 16,
        "threads": 2,
        "cpu": "AMD EPYC (2 logical CPUs)",
        "isa": "avx2",
        "device_num": 1,
        "results": [_row("mindspore", "graph", 4.0, 0.1, 10.0)],
        "torchvision": None,
        "ratios": [],
        "compare": None,
    }
    assert "2 threads, AMD EPYC (2 logical CPUs), ISA: avx2." in format_report(report)


@pytest.mark.slow
def test_memory_efficient_rows_are_measured_beside_the_default_with_their_ratios(tmp_path):
    """`--memory_efficient` adds a train row with memory_efficient=True after the default one, in
    the same run, and the ratios of its images/s and peak RSS to the default's; `only` just it."""
    path = tmp_path / "bench.json"
    command = [*SMALL_NET, "--tasks", "train", "--memory_efficient", "--json", path]
    result = run_script("benchmark.py", *command)
    assert result.returncode == 0, result.stderr
    report = json.loads(path.read_text())
    default, efficient = report["results"]
    assert (default["memory_efficient"], efficient["memory_efficient"]) == (False, True)
    assert set(default["tasks"]) == set(efficient["tasks"]) == {"train"}
    (ratio,) = report["memory_ratios"]
    assert ratio["peak_rss_vs_default"] == pytest.approx(
        efficient["train_peak_rss_mb"] / default["train_peak_rss_mb"]
    )
    assert ratio["images_per_s_vs_default"] == pytest.approx(
        efficient["train_images_per_s"] / default["train_images_per_s"]
    )
    assert ratio["peak_rss_vs_torchvision_memory_efficient"] is None  # no --compare
    assert re.search(r"\| mindspore \| graph \| O0 \| [\d.]+x \| [\d.]+x \| — \|", result.stdout)

    result = run_script("benchmark.py", *command[:-2], "only", "--json", path)
    assert result.returncode == 0, result.stderr
    assert [row["memory_efficient"] for row in json.loads(path.read_text())["results"]] == [True]
