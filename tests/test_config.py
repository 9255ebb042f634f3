"""config.py: precedence, MindCV compatibility, strict typing, one-line errors, round trip."""

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import config
from mindcv.utils.errors import MindCVError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "densenet"

# Every key of MindCV's config.py (its current and its older version) with MindCV's default.
MINDCV_DEFAULTS = {
    "mode": 0,
    "distribute": False,
    "val_while_train": False,
    "val_interval": 1,
    "log_interval": 100,
    "seed": 42,
    "device_target": "Ascend",
    "dataset": "imagenet",
    "data_dir": "./",
    "train_split": "train",
    "val_split": "val",
    "dataset_download": False,
    "num_parallel_workers": 8,
    "shuffle": True,
    "num_samples": None,
    "batch_size": 128,
    "drop_remainder": True,
    "aug_repeats": 0,
    "image_resize": 224,
    "scale": [0.08, 1.0],
    "ratio": [0.75, 1.333],
    "hflip": 0.5,
    "vflip": 0.0,
    "color_jitter": 0.4,
    "interpolation": "bilinear",
    "auto_augment": None,
    "aug_splits": 0,
    "re_prob": 0.0,
    "re_scale": [0.02, 0.33],
    "re_ratio": [0.3, 3.3],
    "re_value": 0,
    "re_max_attempts": 10,
    "mean": [0.485 * 255, 0.456 * 255, 0.406 * 255],
    "std": [0.229 * 255, 0.224 * 255, 0.225 * 255],
    "crop_pct": 0.875,
    "mixup": 0.0,
    "cutmix": 0.0,
    "cutmix_prob": 1.0,
    "model": "mobilenet_v2_035_224",
    "num_classes": None,
    "in_channels": 3,
    "drop_rate": None,
    "drop_path_rate": None,
    "pretrained": False,
    "ckpt_path": "",
    "resume_opt": False,
    "keep_checkpoint_max": 10,
    "ckpt_save_dir": "./ckpt",
    "ckpt_save_interval": 1,
    "ckpt_save_policy": "latest_k",
    "epoch_size": 90,
    "dataset_sink_mode": True,
    "ema": False,
    "ema_decay": 0.9999,
    "clip_grad": False,
    "clip_value": 15.0,
    "layer_decay": None,
    "gradient_accumulation_steps": 1,
    "opt": "adam",
    "momentum": 0.9,
    "weight_decay": 1e-6,
    "use_nesterov": False,
    "weight_decay_filter": "disable",
    "filter_bias_and_bn": True,
    "eps": 1e-10,
    "scheduler": "cosine_decay",
    "lr": 0.001,
    "min_lr": 1e-6,
    "warmup_epochs": 3,
    "warmup_factor": 0.0,
    "decay_epochs": 100,
    "decay_rate": 0.9,
    "multi_step_decay_milestones": [30, 60, 90],
    "lr_epoch_stair": False,
    "num_cycles": 1,
    "cycle_decay": 1.0,
    "loss": "CE",
    "label_smoothing": 0.0,
    "aux_factor": 0.0,
    "reduction": "mean",
    "amp_level": "O0",
    "val_amp_level": "O0",
    "amp_cast_list": None,
    "loss_scale_type": "fixed",
    "loss_scale": 1.0,
    "dynamic_loss_scale": False,
    "drop_overflow_update": False,
    "eval_shuffle": False,
    "enable_modelarts": False,
    "multi_data_url": "/cache/data/",
    "data_url": "/cache/data/",
    "ckpt_url": "/cache/output/",
    "train_url": "/cache/output/",
}
# Our deliberate differences: a DenseNet zoo, the best device available, and MindCV's older
# filter_bias_and_bn left unset so that weight_decay_filter alone decides.
OUR_DEFAULTS = {
    "model": "densenet121",
    "device_target": "auto",
    "filter_bias_and_bn": None,
    "drop_overflow_update": True,  # what always happens here; MindCV's False would apply overflowed updates
}

# MindCV's configs/densenet/densenet_121_gpu.yaml (its older form, with the keys its other
# DenseNet YAMLs use too), copied as data.
MINDCV_DENSENET_YAML = """\
mode: 0
distribute: True
num_parallel_workers: 8
dataset: 'imagenet'
data_dir: ''
shuffle: True
dataset_download: False
batch_size: 32
drop_remainder: True
val_split: val
image_resize: 224
scale: [0.08, 1.0]
ratio: [0.75, 1.333]
hflip: 0.5
interpolation: 'bilinear'
crop_pct: 0.875
model: 'densenet121'
num_classes: 1000
pretrained: False
ckpt_path: ''
keep_checkpoint_max: 10
ckpt_save_dir: './ckpt'
epoch_size: 120
dataset_sink_mode: True
amp_level: 'O2'
loss: 'CE'
label_smoothing: 0.1
scheduler: 'warmup_cosine_decay'
min_lr: 0.0
lr: 0.1
warmup_epochs: 0
decay_epochs: 120
opt: 'momentum'
filter_bias_and_bn: True
momentum: 0.9
weight_decay: 0.0001
loss_scale: 1024
use_nesterov: False
"""


def write(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def error_of(argv):
    """The message of the MindCVError that parse_args raises; it must be a single line."""
    with pytest.raises(MindCVError) as info:
        config.parse_args(argv)
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_values(args, expected):
    """Numbers within rounding (MindCV computes 0.485 * 255), everything else exactly and of its type."""
    for key, value in expected.items():
        actual = getattr(args, key)
        if isinstance(value, (float, list)):
            assert actual == pytest.approx(value), key
        else:
            assert actual == value and type(actual) is type(value), key


# ---------------------------------------------------------------------------------------------
# MindCV compatibility


def test_defaults_are_mindcvs_except_the_documented_ones():
    args = config.parse_args([])
    assert_values(args, {**MINDCV_DEFAULTS, **OUR_DEFAULTS})
    assert set(MINDCV_DEFAULTS) <= set(vars(args))


def test_every_mindcv_key_is_accepted_from_yaml(tmp_path):
    args = config.parse_args(["-c", write(tmp_path, yaml.safe_dump(MINDCV_DEFAULTS))])
    assert_values(args, {**MINDCV_DEFAULTS, "weight_decay_filter": "norm_and_bias"})


def test_every_mindcv_key_is_accepted_from_the_command_line():
    argv = []
    for key, value in MINDCV_DEFAULTS.items():
        argv += [f"--{key}", *map(str, value if isinstance(value, list) else [value])]
    assert_values(config.parse_args(argv), {**MINDCV_DEFAULTS, "weight_decay_filter": "norm_and_bias"})


def test_mindcv_densenet_yaml_runs_unchanged(tmp_path):
    args = config.parse_args(["-c", write(tmp_path, MINDCV_DENSENET_YAML), "--data_dir", "/data/imagenet"])
    assert_values(
        args,
        {
            "batch_size": 32,
            "epoch_size": 120,
            "lr": 0.1,
            "min_lr": 0.0,
            "loss_scale": 1024.0,
            "amp_level": "O2",
        },
    )
    assert args.scheduler == "cosine_decay"  # MindCV's old name warmup_cosine_decay
    assert args.weight_decay_filter == "norm_and_bias"  # MindCV's old filter_bias_and_bn: True
    assert args.scale == [0.08, 1.0] and args.data_dir == "/data/imagenet"


def test_mindcv_older_dynamic_loss_scale_selects_the_dynamic_type():
    assert config.parse_args(["--dynamic_loss_scale"]).loss_scale_type == "dynamic"
    assert config.parse_args([]).loss_scale_type == "fixed"


def test_config_key_written_by_mindcv_save_args_is_ignored(tmp_path):
    path = write(tmp_path, "config: other.yaml\nbatch_size: 7\n")
    args = config.parse_args(["-c", path])
    assert args.config == path and args.batch_size == 7


# ---------------------------------------------------------------------------------------------
# Precedence and spellings


def test_yaml_sets_defaults_and_the_command_line_overrides_it(tmp_path):
    path = write(tmp_path, "batch_size: 16\nlr: 0.5\nopt: sgd\n")
    for argv in (
        ["-c", path, "--lr", "0.01"],
        ["--lr=0.01", "--config", path],
        [f"config={path}", "lr=0.01"],
    ):
        args = config.parse_args(argv)
        assert (args.batch_size, args.lr, args.opt, args.epoch_size) == (16, 0.01, "sgd", 90)


def test_key_value_tokens_work_like_options():
    """The seed's fine-tune line writes `dataset=cifar10` without dashes."""
    args = config.parse_args(
        shlex.split(
            "--model=densenet121 --pretrained --opt=momentum --lr=0.001 dataset=cifar10 --num_classes=10 "
            "--dataset_download"
        )
    )
    assert (args.model, args.pretrained, args.opt, args.lr) == ("densenet121", True, "momentum", 0.001)
    assert (args.dataset, args.num_classes, args.dataset_download) == ("cifar10", 10, True)


def test_seed_validate_command_lines(tmp_path):
    args = config.parse_args(
        shlex.split("--model=densenet121 --dataset=imagenet --val_split=val --pretrained")
    )
    assert (args.dataset, args.val_split, args.pretrained) == ("imagenet", "val", True)
    ckpt = tmp_path / "densenet121-best.ckpt"
    ckpt.write_bytes(b"weights")
    args = config.parse_args(
        ["--model=densenet121", "--dataset=imagenet", "--val_split=val", f"--ckpt_path={ckpt}"]
    )
    assert args.ckpt_path == str(ckpt) and not args.pretrained


@pytest.mark.parametrize(
    ("text", "value"),
    [("True", True), ("False", False), ("true", True), ("false", False), ("1", True), ("0", False)]
    + [("yes", True), ("no", False), ("FALSE", False)],
)
def test_booleans_parse_their_text(text, value):
    assert config.parse_args([f"--pretrained={text}"]).pretrained is value
    assert config.parse_args(["--shuffle", text]).shuffle is value
    assert config.parse_args([f"distribute={text}"]).distribute is value


def test_boolean_flags_without_a_value_mean_true():
    args = config.parse_args(["--pretrained", "--dataset_download", "--distribute", "--shuffle", "--debug"])
    assert args.pretrained and args.dataset_download and args.distribute and args.shuffle and args.debug


def test_booleans_from_yaml(tmp_path):
    path = write(tmp_path, "pretrained: 'False'\nshuffle: no\ndistribute: 1\ndrop_remainder: false\n")
    args = config.parse_args(["-c", path])
    assert (args.pretrained, args.shuffle, args.distribute, args.drop_remainder) == (
        False,
        False,
        True,
        False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--scale", "0.5", "1.0"],
        ["--scale=0.5,1.0"],
        ["scale=0.5,1.0"],
        ["--scale", "[0.5,", "1.0]"],
        ["--scale", "0.5", "1", "--lr", "0.1"],
    ],
)
def test_lists_from_the_command_line(argv):
    assert config.parse_args(argv).scale == [0.5, 1.0]


def test_lists_of_every_kind_from_the_command_line():
    args = config.parse_args(
        shlex.split(
            "--ratio 0.5 2 --re_scale 0.1 0.2 --re_ratio 0.5 1.5 --mean 1 2 3 --std 4 5 6 "
            "--multi_step_decay_milestones 10 20 --re_value 1 2 3"
        )
    )
    assert (args.ratio, args.re_scale, args.re_ratio) == ([0.5, 2.0], [0.1, 0.2], [0.5, 1.5])
    assert (args.mean, args.std) == ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert args.multi_step_decay_milestones == [10, 20] and args.re_value == [1, 2, 3]
    assert config.parse_args(["--re_value", "random"]).re_value == "random"


def test_lists_from_yaml(tmp_path):
    path = write(
        tmp_path, "scale: [0.3, 1]\nmean: [0.5, 0.5, 0.5]\nstd: '2, 2, 2'\nmulti_step_decay_milestones: [5]\n"
    )
    args = config.parse_args(["-c", path])
    assert (args.scale, args.mean, args.std) == ([0.3, 1.0], [0.5] * 3, [2.0] * 3)
    assert args.multi_step_decay_milestones == [5]


def test_names_are_case_insensitive_and_canonical():
    args = config.parse_args(
        shlex.split("--opt AdamW --device_target cpu --amp_level o2 --loss ce --scheduler Step_Decay")
    )
    assert (args.opt, args.device_target, args.amp_level, args.loss) == ("adamw", "CPU", "O2", "CE")
    assert args.scheduler == "step_decay"
    assert config.parse_args(["--amp_level", "BF16", "--val_amp_level", "bf16"]).amp_level == "bf16"


def test_none_values(tmp_path):
    args = config.parse_args(["--num_classes", "None", "--ckpt_save_policy=none", "--color_jitter", "null"])
    assert args.num_classes is None and args.ckpt_save_policy is None and args.color_jitter is None
    assert (
        config.parse_args(["-c", write(tmp_path, "num_classes: null\nauto_augment: ~\n")]).num_classes is None
    )


def test_yaml_numbers_in_exponent_form_are_numbers(tmp_path):
    """PyYAML reads `1e-4` as a string (YAML 1.1 wants a dot); it must still be the number."""
    args = config.parse_args(["-c", write(tmp_path, "weight_decay: 1e-4\nlr: 5e-2\n")])
    assert args.weight_decay == 1e-4 and args.lr == 0.05 and isinstance(args.weight_decay, float)


def test_resume_takes_no_value_or_a_path(tmp_path):
    state = tmp_path / "resume.ckpt"
    state.write_bytes(b"state")
    assert config.parse_args([]).resume == ""
    assert config.parse_args(["--resume"]).resume == "auto"
    assert config.parse_args(["--resume", "--epoch_size", "3"]).resume == "auto"
    assert config.parse_args(["--resume", str(state)]).resume == str(state)
    assert config.parse_args(["-c", write(tmp_path, "resume: true\n")]).resume == "auto"


def test_user_set_names_what_the_yaml_or_the_command_line_gave(tmp_path):
    path = write(tmp_path, "warmup_epochs: 3\nlr: 0.1\n")
    args = config.parse_args(["-c", path, "--epoch_size=1", "batch_size=8", "--resume"])
    assert args.user_set == {"warmup_epochs", "lr", "epoch_size", "batch_size", "resume"}
    assert config.user_set(args, "warmup_epochs")  # given, though equal to the default
    assert not config.user_set(args, "decay_epochs")
    assert "user_set" not in vars(args)  # options compare and save as before
    built = argparse.Namespace(warmup_epochs=3, decay_epochs=5)  # made in code: no record
    assert not config.user_set(built, "warmup_epochs") and config.user_set(built, "decay_epochs")


# ---------------------------------------------------------------------------------------------
# Errors: one line, naming the problem and the fix


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["--datset", "x"], "--dataset"),
        (["datset=cifar10"], "--dataset"),
        (["--bach_size=3"], "--batch_size"),
    ],
)
def test_unknown_option_on_the_command_line_names_the_closest(argv, suggestion):
    message = error_of(argv)
    assert "unknown option" in message and f"did you mean {suggestion}?" in message


def test_unknown_option_in_yaml_names_file_line_and_closest(tmp_path):
    path = write(tmp_path, "batch_size: 8\n\nlearning_rate: 0.1\n")
    message = error_of(["-c", path])
    assert f"{path}:3:" in message and "'learning_rate'" in message


def test_unknown_yaml_key_suggestion(tmp_path):
    message = error_of(["-c", write(tmp_path, "datset: cifar10\n")])
    assert "did you mean 'dataset'?" in message


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "batch_size: 8\nlr: 0.1\nscale: [0.08, 1.0\nopt: sgd\n")
    message = error_of(["-c", path])
    assert path in message and "YAML syntax error" in message
    assert f"{path}:4:" in message and "started on line 3" in message  # found on 4, opened on 3


def test_yaml_problems_of_shape(tmp_path):
    assert "set twice" in error_of(["-c", write(tmp_path, "lr: 0.1\nlr: 0.2\n")])
    assert "expected 'option: value' lines" in error_of(["-c", write(tmp_path, "- lr\n- 0.1\n")])
    assert config.parse_args(["-c", write(tmp_path, "# nothing set\n")]).batch_size == 128


def test_missing_config_file(tmp_path):
    message = error_of(["-c", str(tmp_path / "nope.yaml")])
    assert "nope.yaml not found" in message and "-c/--config" in message


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--batch_size", "abc"], ["--batch_size", "an integer", "'abc'"]),
        (["--lr", "fast"], ["--lr", "a number", "'fast'"]),
        (["--pretrained", "maybe"], ["--pretrained", "true or false", "'maybe'"]),
        (["--mode", "2"], ["--mode", "0 (Graph) or 1 (PyNative)"]),
        (["--scale", "0.5"], ["--scale", "MIN MAX"]),
        (["--scale", "1", "0.5"], ["--scale", "MIN <= MAX"]),
        (["--re_value", "300"], ["--re_value", "0-255"]),
        (["--batch_size"], ["--batch_size", "expected one argument"]),
        (["stray"], ["unrecognized arguments: stray"]),
    ],
)
def test_wrong_values_on_the_command_line(argv, words):
    message = error_of(argv)
    assert all(word in message for word in words), message


def test_wrong_value_type_in_yaml_names_file_line_and_key(tmp_path):
    path = write(tmp_path, "lr: 0.1\nbatch_size: many\n")
    message = error_of(["-c", path])
    assert f"{path}:2: batch_size: expected an integer > 0 (got 'many')" == message


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--batch_size", "0"], ["--batch_size", "> 0", "'0'"]),
        (["--epoch_size", "-1"], ["--epoch_size", "> 0"]),
        (["--image_resize", "16"], ["--image_resize", ">= 32"]),
        (["--opt", "adamx"], ["--opt", "did you mean 'adam'?"]),
        (["--scheduler", "cosine"], ["--scheduler", "did you mean 'cosine_decay'?"]),
        (["--loss", "BCEE"], ["--loss", "did you mean 'BCE'?"]),
        (["--hflip", "1.5"], ["--hflip", "in [0, 1]"]),
        (["--ckpt_path", "missing.ckpt"], ["--ckpt_path missing.ckpt", "no such file"]),
        (["--resume", "missing_state"], ["--resume missing_state", "not found"]),
        (["--mean", "1", "2", "3", "--std", "1"], ["--mean has 3 values but --std has 1"]),
        (["--enable_modelarts"], ["ModelArts is not supported"]),
    ],
)
def test_validation_errors(argv, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = error_of(argv)
    assert all(word in message for word in words), message


def test_pretrained_and_ckpt_path_together_are_refused(tmp_path):
    ckpt = tmp_path / "w.ckpt"
    ckpt.write_bytes(b"weights")
    assert "give only one" in error_of(["--pretrained", "--ckpt_path", str(ckpt)])


def test_validate_args_checks_a_namespace_built_in_code():
    with pytest.raises(MindCVError, match="--batch_size: expected an integer > 0"):
        config.validate_args(argparse.Namespace(batch_size=0))
    args = config.validate_args(argparse.Namespace(opt="AdamW", lr="0.1", scheduler="warmup_cosine_decay"))
    assert (args.opt, args.lr, args.scheduler, args.batch_size) == ("adamw", 0.1, "cosine_decay", 128)


# ---------------------------------------------------------------------------------------------
# Saving, help, shipped configs


def test_save_args_round_trip(tmp_path):
    source = write(tmp_path, "batch_size: 16\nopt: nesterov\n", "source.yaml")
    args = config.parse_args(
        [
            "-c",
            source,
            "--scale",
            "0.3",
            "0.9",
            "--num_classes",
            "7",
            "--pretrained",
            "--resume",
            "--re_value=random",
        ]
    )
    saved = tmp_path / "out" / "config.yaml"
    config.save_args(args, str(saved))
    assert saved.read_text().startswith("# Resolved options")
    assert [p.name for p in saved.parent.iterdir()] == ["config.yaml"]  # no temporary left
    loaded = config.parse_args(["-c", str(saved)])
    assert {**vars(loaded), "config": source} == vars(args)


def test_save_args_only_on_rank_zero(tmp_path):
    config.save_args(config.parse_args([]), str(tmp_path / "config.yaml"), rank=1)
    assert not (tmp_path / "config.yaml").exists()


def test_save_args_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    saved = tmp_path / "config.yaml"
    config.save_args(config.parse_args(["--batch_size", "3"]), str(saved))
    before = saved.read_text()

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(config.os, "replace", fail)
    with pytest.raises(MindCVError, match="No space left on device") as info:
        config.save_args(config.parse_args(["--batch_size", "4"]), str(saved))
    assert "\n" not in str(info.value)
    assert saved.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_save_args_into_an_unusable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(MindCVError, match="cannot write"):
        config.save_args(config.parse_args([]), str(blocker / "config.yaml"))


def test_every_option_has_help_showing_its_default():
    _, parser = config.create_parser()
    options = [action for action in parser._actions if action.dest != "help"]
    assert len(options) > len(MINDCV_DEFAULTS)
    for action in options:
        assert action.help and action.help.endswith(f"(default: {action.default!r})"), action.dest
    text = parser.format_help()
    assert all(action.option_strings[-1] in text for action in options)


def test_options_are_grouped_like_mindcv():
    titles = [group.title for group in config.create_parser()[1]._action_groups]
    for title in ("system", "dataset", "augmentation", "model", "loss", "scheduler", "optimizer"):
        assert title in titles
    for title in ("training", "checkpoint", "eval", "modelarts"):
        assert title in titles


def test_every_shipped_densenet_config_parses():
    paths = sorted(CONFIGS.glob("*.yaml"))
    assert len(paths) == 10
    for path in paths:
        assert config.parse_args(["-c", str(path)]).model.startswith("densenet")


@pytest.mark.parametrize("depth", [121, 161, 169, 201])
def test_imagenet_configs_hold_the_published_recipe(depth):
    gpu = vars(config.parse_args(["-c", str(CONFIGS / f"densenet_{depth}_gpu.yaml")]))
    ascend = vars(config.parse_args(["-c", str(CONFIGS / f"densenet_{depth}_ascend.yaml")]))
    assert {key for key in gpu if gpu[key] != ascend[key]} == {"config", "device_target"}
    assert (gpu["device_target"], ascend["device_target"]) == ("GPU", "Ascend")
    recipe = {
        "model": f"densenet{depth}",
        "distribute": True,
        "batch_size": 32,
        "epoch_size": 120,
        "opt": "momentum",
        "momentum": 0.9,
        "lr": 0.1,
        "scheduler": "cosine_decay",
        "min_lr": 0.0,
        "warmup_epochs": 0,
        "decay_epochs": 120,
        "weight_decay": 1e-4,
        "label_smoothing": 0.1,
        "amp_level": "O2",
        "loss_scale_type": "fixed",
        "loss_scale": 1024.0,
        "interpolation": "bilinear",
        "crop_pct": 0.875,
        "scale": [0.08, 1.0],
        "ratio": [0.75, 1.333],
        "hflip": 0.5,
        "color_jitter": 0.4,
        "drop_remainder": True,
        "num_classes": 1000,
        "image_resize": 224,
    }
    assert {key: gpu[key] for key in recipe} == recipe


def test_finetune_and_demo_configs():
    finetune = config.parse_args(["-c", str(CONFIGS / "densenet_121_cifar10_finetune.yaml")])
    assert (finetune.dataset, finetune.num_classes, finetune.pretrained, finetune.opt) == (
        "cifar10",
        10,
        True,
        "momentum",
    )
    assert finetune.lr == 0.001 and finetune.mean == [123.675, 116.28, 103.53]
    demo = config.parse_args(["-c", str(CONFIGS / "densenet_121_demo.yaml")])
    assert (demo.dataset, demo.num_classes, demo.image_resize, demo.scheduler) == (
        "digits",
        10,
        32,
        "cosine_decay",
    )
    assert demo.val_while_train and demo.ckpt_save_dir == "./ckpt" and demo.epoch_size <= 10


def test_config_needs_no_mindspore():
    """config.py must parse fast: nothing it imports may pull in MindSpore (mindcv's own
    __init__ is bypassed here, so only config.py's imports are tested)."""
    code = f"""
import sys, types
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mindspore":
            raise ImportError("config.py imported " + name)
sys.meta_path.insert(0, Refuse())
package = types.ModuleType("mindcv")
package.__path__ = [{str(ROOT / "mindcv")!r}]
sys.modules["mindcv"] = package
import config
print(config.parse_args(["-c", {str(CONFIGS / "densenet_121_demo.yaml")!r}]).dataset)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "digits"
