"""Bad input ends quickly with exit 2, no traceback, and one line naming the problem and the fix."""

import mindspore as ms
import pytest

from mindcv.models import create_model
from tests.data.fakes import make_image_tree, write_cifar
from tests.scripts import ROOT, SMALL_NET, run

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
TINY = [*SMALL_NET, "--num_samples", "32", "--batch_size", "16", "--epoch_size", "1", "--warmup_epochs", "0"]


def assert_one_line(result, *fragments):
    assert result.returncode == 2, (result.stdout + result.stderr)[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # a progress bar may stand above it
    assert last.startswith("error: "), result.stderr[-2000:]
    assert [line for line in result.stderr.splitlines() if line.startswith("error")] == [last]
    for fragment in fragments:
        assert fragment in last, last


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--model", "densenet12"], ["unknown model 'densenet12'", "densenet121"]),
        (["--datset", "x"], ["unknown option --datset", "--dataset"]),
        (["--batch_size", "abc"], ["--batch_size", "integer"]),
        (["--batch_size", "0"], ["--batch_size", "> 0"]),
        (["--epoch_size", "-1"], ["--epoch_size", "> 0"]),
        (["--image_resize", "16"], ["--image_resize", ">= 32"]),
        (["--opt", "adamx"], ["--opt", "did you mean 'adam'"]),
        (["--scheduler", "cosine_decey"], ["--scheduler", "cosine_decay"]),
        (["--loss", "BCEE"], ["--loss", "did you mean 'BCE'"]),
        (["--device_target", "GPU"], ["device_target GPU is not available", "--device_target CPU"]),
        (["--dataset", "imagenet", "--data_dir", "/nonexistent"], ["/nonexistent/train", "does not exist"]),
        (["--ckpt_path", "/nonexistent/x.ckpt"], ["/nonexistent/x.ckpt", "no such file"]),
        (["--ckpt_save_dir", "/proc/not_here"], ["/proc/not_here", "cannot write"]),
        (["--compile_cache", "/proc/not_here"], ["/proc/not_here", "compile cache", "--compile_cache ''"]),
        (["--lr", "1e30", *TINY], ["non-finite loss", "epoch 1, step", "--nonfinite_policy skip"]),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else "",
)
@pytest.mark.slow
def test_train_refuses(tmp_path, args, fragments):
    assert_one_line(
        run(["python", ROOT / "train.py", "-c", DEMO, "--device_target", "CPU", *args], tmp_path), *fragments
    )


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("model: densenet121\nlr: [0.1\nopt: adam\n")
    assert_one_line(run(["python", ROOT / "train.py", "-c", "bad.yaml"], tmp_path), "bad.yaml:3", "YAML")


@pytest.mark.slow
def test_data_problems(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    result = run(
        [
            "python",
            ROOT / "train.py",
            "-c",
            DEMO,
            *TINY,
            "dataset=imagenet",
            f"data_dir={tmp_path / 'empty'}",
        ],
        tmp_path,
    )
    assert_one_line(result, str(tmp_path / "empty" / "train"))

    make_image_tree(tmp_path / "corrupt", "train", per_class=6)
    bad = tmp_path / "corrupt" / "train" / "cat" / "1.JPG"
    bad.write_bytes(b"not a jpeg")
    args = [
        "python",
        ROOT / "train.py",
        "-c",
        DEMO,
        *SMALL_NET,
        "--batch_size",
        "4",
        "--epoch_size",
        "1",
        "--warmup_epochs",
        "0",
        "--val_while_train",
        "False",
        "--num_classes",
        "3",
        "dataset=imagenet",
        f"data_dir={tmp_path / 'corrupt'}",
    ]
    assert_one_line(run(args, tmp_path), str(bad), "skip_corrupt")
    skipped = run([*args, "--skip_corrupt"], tmp_path)
    assert skipped.returncode == 0 and "1.JPG" in skipped.stderr

    write_cifar(tmp_path, "cifar10")
    batch = tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin"
    batch.write_bytes(batch.read_bytes()[:-5])
    assert_one_line(
        run(["python", ROOT / "train.py", *TINY, "dataset=cifar10", f"data_dir={tmp_path}"], tmp_path),
        "data_batch_1.bin",
    )


@pytest.mark.slow
def test_checkpoint_problems(tmp_path):
    validate = ["python", ROOT / "validate.py", "-c", DEMO, *SMALL_NET, "--num_samples", "16"]
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00garbage" * 100)
    assert_one_line(run([*validate, "--ckpt_path", garbage], tmp_path), "garbage.ckpt", "cannot be read")
    other = tmp_path / "densenet121.ckpt"
    ms.save_checkpoint(create_model("densenet121", num_classes=10), str(other))
    assert_one_line(run([*validate, "--ckpt_path", other], tmp_path), "densenet121.ckpt", "does not fit")
    classes = tmp_path / "five.ckpt"
    ms.save_checkpoint(create_model("densenet_test", num_classes=5), str(classes))
    assert_one_line(run([*validate, "--ckpt_path", classes], tmp_path), "five.ckpt", "classifier")


@pytest.mark.slow
def test_defaults_the_user_did_not_set_never_stop_a_short_run(tmp_path):
    """A one-epoch trial on MindCV's defaults (batch 128, warmup 3) over 18 images: both are
    fitted with a warning line each, so the corrupt image is what gets reported; skipping it, the
    run trains. A value the user sets that cannot work stays an error."""
    make_image_tree(tmp_path / "data", "train", per_class=6)
    bad = tmp_path / "data" / "train" / "dog" / "2.JPG"
    bad.write_bytes(b"not a jpeg")
    args = [
        "python",
        ROOT / "train.py",
        *SMALL_NET,
        "--epoch_size",
        "1",
        "--mode",
        "1",
        f"data_dir={tmp_path / 'data'}",
    ]
    result = run(args, tmp_path)
    assert_one_line(result, str(bad))
    assert (
        "batch_size: the default 128 exceeds the 18 images of split 'train' per device; using 18"
        in result.stderr
    )
    assert "warmup_epochs: the default 3 does not fit a run of 1 epochs; using 0" in result.stderr
    trained = run([*args, "--skip_corrupt"], tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (tmp_path / "ckpt" / "densenet_test-1_1.ckpt").is_file()
    assert_one_line(run([*args, "--warmup_epochs", "3"], tmp_path), "warmup_epochs", "lower warmup_epochs")
