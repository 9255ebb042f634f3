"""train.py and validate.py end to end, as subprocesses on data the tests make."""

import csv
import json
import signal

import mindspore as ms
import numpy as np
import pytest
from PIL import Image

from mindcv.ops import native
from mindcv.utils.progress import BLOCKS
from tests.scripts import ROOT, SMALL, SMALL_NET, make_checkpoint, make_digit_folders, progress_bars, run

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
TINY_RUN = [*SMALL_NET, "--num_samples", "32", "--batch_size", "16"]
# one epoch of the tiny demo run, no validation: for what compiles and caches
ONE_EPOCH = [
    "python",
    ROOT / "train.py",
    "-c",
    DEMO,
    *TINY_RUN,
    "--epoch_size",
    "1",
    "--val_while_train",
    "False",
]


def ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "__del__" not in result.stderr
    return result


def weights(path):
    """The tensors of a checkpoint, without its metric.* records (top-1, epoch)."""
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if not k.startswith("metric.")}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["0", "1"], ids=["graph", "pynative"])
def test_train_then_validate(tmp_path, mode):
    # Run from the source tree as the README's demo is (no PYTHONPATH): MindSpore's compile cache
    # then reads the package's files, which once changed the progress bars' style mid-run.
    trained = ok(
        run(
            ["python", ROOT / "train.py", "-c", DEMO, *TINY_RUN, "--mode", mode, "--epoch_size", "1"],
            tmp_path,
            PYTHONPATH="",
        )
    )
    bars = progress_bars(trained.stderr)
    assert sorted(bars) == ["epoch 1/1", "validate"], trained.stderr[-2000:]
    assert all("█" in chars and chars <= set(BLOCKS) for chars in bars.values()), bars
    ckpt = tmp_path / "ckpt"
    assert (ckpt / "classes.txt").read_text().split() == [str(i) for i in range(10)]
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "densenet_test-1_2.ckpt",
        "densenet_test-best.ckpt",
    ):
        assert (ckpt / name).is_file(), name
    assert Image.open(ckpt / "curves.png").text["Title"] == "densenet_test on digits"
    with open(ckpt / "metrics.csv") as f:
        row = list(csv.DictReader(f))[-1]
    ok(
        run(
            [
                "python",
                ROOT / "validate.py",
                "-c",
                DEMO,
                *TINY_RUN,
                "--mode",
                mode,
                "--ckpt_path",
                ckpt / "densenet_test-best.ckpt",
                "--json",
                tmp_path / "v.json",
            ],
            tmp_path,
        )
    )
    result = json.loads((tmp_path / "v.json").read_text())
    assert set(result) == {"top1", "top5", "loss", "num_samples"}
    assert result["num_samples"] == 32  # the last, partial batch counted once
    assert result["top1"] == pytest.approx(float(row["val_top1"]), abs=1e-4)
    assert result["loss"] == pytest.approx(float(row["val_loss"]), rel=1e-3)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path):
    """SIGKILL after epoch 1 of 2, then --resume: the same weights as an uninterrupted run."""
    args = [
        "python",
        ROOT / "train.py",
        "-c",
        DEMO,
        *TINY_RUN,
        "--mode",
        "1",
        "--epoch_size",
        "2",
        "--val_while_train",
        "False",
        "--deterministic",
    ]
    ok(run([*args, "--ckpt_save_dir", "whole"], tmp_path))
    # SIGKILLed once epoch 1's checkpoint is written (the small network trains epoch 2 faster than
    # a test could poll for that file and send the signal), see tests/kill_at.py.
    kill = ["python", ROOT / "tests" / "kill_at.py", "save_best", "1", *args[1:], "--ckpt_save_dir", "killed"]
    killed = run(kill, tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (tmp_path / "killed" / "densenet_test-1_2.ckpt").is_file()
    assert not (tmp_path / "killed" / "densenet_test-2_2.ckpt").exists(), "the run ended before it was killed"
    resumed = ok(run([*args, "--ckpt_save_dir", "killed", "--resume"], tmp_path))
    assert "resumed from" in resumed.stderr
    whole, again = (
        weights(tmp_path / "whole" / "densenet_test-2_2.ckpt"),
        weights(tmp_path / "killed" / "densenet_test-2_2.ckpt"),
    )
    assert whole.keys() == again.keys()
    for name, value in whole.items():
        np.testing.assert_allclose(again[name], value, rtol=1e-6, atol=1e-7, err_msg=name)
    with open(tmp_path / "killed" / "metrics.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]


@pytest.mark.slow
def test_missing_checkpoint_and_nothing_to_validate_are_one_line_errors(tmp_path):
    missing = run(
        ["python", ROOT / "validate.py", "-c", DEMO, "--ckpt_path", tmp_path / "nope.ckpt"], tmp_path
    )
    assert missing.returncode == 2 and "nope.ckpt" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    nothing = run(["python", ROOT / "validate.py", "-c", DEMO], tmp_path)
    assert nothing.returncode == 2 and "--pretrained or --ckpt_path" in nothing.stderr


@pytest.mark.slow
def test_seed_validate_commands(tmp_path):
    """The seed's validate line, on an ImageFolder `imagenet` tree, reading a DenseNet-121
    checkpoint where the line expects train.py's (train.py writing it is test_train_then_validate's)."""
    data = make_digit_folders(tmp_path / "imagenet")
    make_checkpoint(tmp_path / "ckpt" / "densenet121-best.ckpt", num_classes=10)  # its classes
    # Seed: python validate.py --model=densenet121 --dataset=imagenet --val_split=val \
    #           --ckpt_path='./ckpt/densenet121-best.ckpt'
    result = ok(
        run(
            [
                "python",
                "validate.py",
                "--model=densenet121",
                "--dataset=imagenet",
                "--val_split=val",
                "--ckpt_path=" + str(tmp_path / "ckpt" / "densenet121-best.ckpt"),
                f"--data_dir={data}",
                *SMALL,
            ],
            ROOT,
        )
    )
    assert "top-1" in result.stdout and "30 samples" in result.stdout


@pytest.mark.slow
def test_seed_pretrained_commands_use_the_cache(tmp_path):
    """`--pretrained` with weights already in $MINDCV_HOME: no network, fine-tune and validate."""
    from mindcv.models import create_model, get_pretrained_cfg

    home = tmp_path / "home"
    url = get_pretrained_cfg("densenet121")["url"]
    (home / "checkpoints").mkdir(parents=True)
    ms.save_checkpoint(create_model("densenet121"), str(home / "checkpoints" / url.rsplit("/", 1)[1]))
    from tests.data.fakes import write_cifar

    write_cifar(tmp_path, "cifar10", per_file=4, test=6)
    # Seed: python train.py --model=densenet121 --pretrained --opt=momentum --lr=0.001 dataset=cifar10 \
    #           --num_classes=10 --dataset_download
    ok(
        run(
            [
                "python",
                ROOT / "train.py",
                "--model=densenet121",
                "--pretrained",
                "--opt=momentum",
                "--lr=0.001",
                "dataset=cifar10",
                "--num_classes=10",
                "--dataset_download",
                "--epoch_size=1",
                "--warmup_epochs=0",
                "--batch_size=4",
                *SMALL,
            ],
            tmp_path,
            MINDCV_HOME=str(home),
        )
    )
    tuned = weights(tmp_path / "ckpt" / "densenet121-best.ckpt")
    assert tuned["classifier.weight"].shape == (10, 1024)
    # python validate.py --model=densenet121 --dataset=imagenet --val_split=val --pretrained
    data = make_digit_folders(tmp_path / "imagenet", per_class=1)
    result = run(
        [
            "python",
            ROOT / "validate.py",
            "--model=densenet121",
            "--dataset=imagenet",
            "--val_split=val",
            "--pretrained",
            f"--data_dir={data}",
            *SMALL,
        ],
        tmp_path,
        MINDCV_HOME=str(home),
    )
    # 1000-class ImageNet weights on a 10-class folder: refused clearly, not validated at random.
    assert result.returncode == 2 and "has 10 classes but --num_classes is 1000" in result.stderr


@pytest.mark.slow
def test_demo_config_reaches_its_accuracy(tmp_path):
    """The README's main job: DenseNet-121 on the digits reaches high validation accuracy."""
    ok(run(["python", ROOT / "train.py", "-c", DEMO, "--device_target", "CPU"], tmp_path, timeout=1800))
    with open(tmp_path / "ckpt" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5
    assert max(float(r["val_top1"]) for r in rows) >= 0.95


@pytest.mark.slow
def test_ema_weights_are_validated_and_saved_as_best(tmp_path):
    args = ["-c", DEMO, *TINY_RUN, "--mode", "1", "--epoch_size", "1", "--warmup_epochs", "0"]
    ok(run(["python", ROOT / "train.py", *args, "--ema", "--ema_decay", "0.5"], tmp_path))
    ckpt = tmp_path / "ckpt"
    best, epoch = weights(ckpt / "densenet_test-best.ckpt"), weights(ckpt / "densenet_test-1_2.ckpt")
    for name, value in best.items():  # best holds the EMA weights, stored as ema.* in the epoch file
        np.testing.assert_array_equal(value, epoch[f"ema.{name}"], err_msg=name)
    assert not np.array_equal(best["classifier.weight"], epoch["classifier.weight"])
    with open(ckpt / "metrics.csv") as f:
        logged = float(list(csv.DictReader(f))[-1]["val_top1"])
    validate = ["python", ROOT / "validate.py", *args, "--ckpt_path", ckpt / "densenet_test-best.ckpt"]
    ok(run([*validate, "--json", tmp_path / "v.json"], tmp_path))
    assert json.loads((tmp_path / "v.json").read_text())["top1"] == pytest.approx(logged, abs=1e-4)


@pytest.mark.slow
def test_a_run_capped_at_avx2_does_not_load_the_graph_of_an_uncapped_one(tmp_path):
    """The channel block is oneDNN's effective ISA's (16 with AVX-512, 8 at an AVX2 cap): the
    blocked shapes in a cached graph differ, so each block has its own folder. On an AVX-512 CPU
    the capped rerun loaded the uncapped run's graph and failed in its first BatchNorm."""
    args = ONE_EPOCH
    home = {"MINDCV_HOME": str(tmp_path / "home")}
    ok(run(args, tmp_path, **home))
    ok(run(args, tmp_path, ONEDNN_MAX_CPU_ISA="AVX2", **home))
    cached = {p.name for p in (tmp_path / "home" / "compile_cache").glob("*/*/*") if p.is_dir()}
    assert len(cached) == (2 if native.cpu_has_avx512() else 1), cached


@pytest.mark.slow
def test_graph_compile_cache_is_shared_only_by_identical_runs(tmp_path):
    """A rerun of the same command reuses its cached graphs; other options get their own folder."""
    cache_root = tmp_path / "home" / "compile_cache"
    args = ONE_EPOCH

    def folders():
        return sorted(p.relative_to(cache_root) for p in cache_root.glob("*/*") if p.is_dir())

    home = {"MINDCV_HOME": str(tmp_path / "home")}
    ok(run(args, tmp_path, **home))
    first = folders()
    assert len(first) == 1 and any((cache_root / first[0]).rglob("*.mindir")), first
    ok(run(args, tmp_path, **home))
    assert folders() == first
    ok(run([*args, "--batch_size", "8"], tmp_path, **home))
    assert len(folders()) == 2
    ok(run([*args, "--batch_size", "4", "--compile_cache", ""], tmp_path, **home))
    assert len(folders()) == 2
