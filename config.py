"""Every option of train.py and validate.py in one place: defaults < `-c FILE.yaml` < command line.

Option names, meanings and defaults are MindCV's, so MindCV's DenseNet YAMLs and command lines run
unchanged. Where MindCV's parser loses information, this one is strict instead: booleans read
"False" as False, list options take several values on the command line (MindCV splits a string
into characters), and unknown keys or bad values stop with a one-line `MindCVError` that names
the fix. No MindSpore import here, so `--help` and configuration errors come back at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

import yaml

from mindcv.names import AMP_LEVELS, DEVICES as DEVICE_NAMES, LOSSES, OPTIMIZERS, SCHEDULERS
from mindcv.utils.atomic import atomic_write_bytes
from mindcv.utils.errors import MindCVError, UnknownOptionError
from mindcv.utils.options import (
    AT_LEAST_32 as _AT_LEAST_32,
    FRACTION as _FRACTION,
    MILESTONES as _MILESTONES,
    NON_NEGATIVE as _NON_NEGATIVE,
    PER_CHANNEL as _PER_CHANNEL,
    PER_CHANNEL_POSITIVE as _PER_CHANNEL_POSITIVE,
    POSITIVE as _POSITIVE,
    PROBABILITY as _PROBABILITY,
    RANGE as _RANGE,
    UNIT as _UNIT,
    Option as _Option,
    OptionParser as _Parser,
    StoreConverted as _Store,
    choice as _choice,
    converter as _converter,
    flag as _flag,
    float_option as _float,
    int_option as _int,
    list_option as _list,
    load_yaml_options,
    path_option as _path,
    suggest as _suggest,
    text_option as _text,
    to_fill as _to_fill,
    to_int as _to_int,
    to_str as _to_str,
)

DEVICES = ("auto", *DEVICE_NAMES)
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")

_logger = logging.getLogger("config")


# ---------------------------------------------------------------------------------------------
# Option table, made with mindcv/utils/options.py (imported under the names it had here).


def _to_resume(value):
    """YAML users may write `resume: true`, the file form of a bare `--resume`."""
    if isinstance(value, bool):
        return "auto" if value else ""
    return _to_str(value)


_GROUPS = (
    (
        "system",
        "Where and how the run executes.",
        [
            _int(
                "mode",
                0,
                "Execution mode: 0 = Graph (compiled, faster), 1 = PyNative (eager, easier to debug)",
                ("0 (Graph) or 1 (PyNative)", lambda v: v in (0, 1)),
            ),
            _choice(
                "device_target",
                "auto",
                "Device to run on; auto picks the best one available (Ascend, then GPU, then CPU)",
                DEVICES,
            ),
            _flag("distribute", False, "Data-parallel training over the processes of msrun or mpirun"),
            _int("seed", 42, "Seed of numpy, random and MindSpore", _NON_NEGATIVE),
            _flag(
                "deterministic",
                False,
                "Use deterministic kernels (ms.set_deterministic): reproducible, slower",
            ),
            _int("threads", 0, "Threads for CPU operators; 0 means one per core", _NON_NEGATIVE),
            _path(
                "compile_cache",
                "auto",
                "Graph mode's compile cache, so a rerun (e.g. a --resume) skips compiling: auto keeps "
                "it in $MINDCV_HOME/compile_cache/ under a hash of the package code and these options, "
                "'' turns it off, any other value is the folder",
            ),
            _int("log_interval", 100, "Log the loss, lr and images/s every N training steps", _POSITIVE),
            _flag("debug", False, "Show full Python tracebacks instead of one-line errors"),
        ],
    ),
    (
        "dataset",
        "Which images, and how they are batched.",
        [
            _text("dataset", "imagenet", "Dataset name, e.g. imagenet (a folder per split), cifar10, digits"),
            _path("data_dir", "./", "Dataset root folder"),
            _text("train_split", "train", "Split (sub-folder) used for training"),
            _text("val_split", "val", "Split (sub-folder) used for validation"),
            _flag("dataset_download", False, "Download the dataset into data_dir when it is missing"),
            _int("num_parallel_workers", 8, "Workers decoding and augmenting images", _POSITIVE),
            _flag("shuffle", True, "Shuffle the training data every epoch"),
            _int("num_samples", None, "Use only this many samples (None: all of them)", _POSITIVE),
            _int(
                "batch_size",
                128,
                "Images per batch on each device (when not set, lowered to the images of a smaller split)",
                _POSITIVE,
            ),
            _flag("drop_remainder", True, "Drop the last incomplete training batch of each epoch"),
            _flag("skip_corrupt", False, "Skip unreadable images and count them instead of stopping"),
        ],
    ),
    (
        "augmentation",
        "Training-time image augmentation and input normalisation.",
        [
            _int("image_resize", 224, "Side of the square network input in pixels", _AT_LEAST_32),
            _list("scale", [0.08, 1.0], "Random-resized-crop area range, as fractions of the image", _RANGE),
            _list("ratio", [0.75, 1.333], "Random-resized-crop aspect-ratio range", _RANGE),
            _float("hflip", 0.5, "Probability of a horizontal flip", _PROBABILITY),
            _float("vflip", 0.0, "Probability of a vertical flip", _PROBABILITY),
            _float(
                "color_jitter",
                0.4,
                "Brightness, contrast, saturation jitter (0, None: off)",
                _NON_NEGATIVE,
                True,
            ),
            _choice("interpolation", "bilinear", "Interpolation of every resize", INTERPOLATIONS),
            _text(
                "auto_augment",
                None,
                "Augmentation policy, e.g. randaug-m7-mstd0.5, autoaug-mstd0.5, autoaugr-mstd0.5, 3a, "
                "augmix, trivialaugwide (None: off)",
            ),
            _int(
                "aug_splits",
                0,
                "AugMix split batches: each training batch also holds aug_splits - 1 augmented views of "
                "its images, all trained with the loss (no JSD term); MindCV uses 3 with auto_augment "
                "augmix (0: off)",
                ("0 (off) or >= 2", lambda v: v == 0 or v >= 2),
            ),
            _float("re_prob", 0.0, "Probability of random erasing", _PROBABILITY),
            _list("re_scale", [0.02, 0.33], "Random-erasing area range, as fractions of the image", _RANGE),
            _list("re_ratio", [0.3, 3.3], "Random-erasing aspect-ratio range", _RANGE),
            _Option(
                "re_value",
                0,
                "Random-erasing fill: one value, one per channel (R G B), or random",
                _converter(_to_fill, "an integer 0-255, three of them, or 'random'"),
                "+",
                metavar="VALUE",
            ),
            _int("re_max_attempts", 10, "Random-erasing attempts before the image is left as is", _POSITIVE),
            _list("mean", [123.675, 116.28, 103.53], "Channel means of 0-255 pixels", _PER_CHANNEL),
            _list("std", [58.395, 57.12, 57.375], "Channel std devs of 0-255 pixels", _PER_CHANNEL_POSITIVE),
            _float(
                "crop_pct",
                0.875,
                "Validation centre crop: resize to image_resize / crop_pct, then crop image_resize",
                _UNIT,
            ),
            _float("mixup", 0.0, "Mixup beta-distribution alpha (0: off; 0.2 suits ImageNet)", _NON_NEGATIVE),
            _float("cutmix", 0.0, "CutMix beta-distribution alpha (0: off)", _NON_NEGATIVE),
            _float("cutmix_prob", 1.0, "Probability of mixing a batch when mixup/CutMix is on", _PROBABILITY),
            _int(
                "aug_repeats",
                0,
                "Repeated augmentation: times each image appears per epoch (0 or 1: off; 3 is usual)",
                _NON_NEGATIVE,
            ),
        ],
    ),
    (
        "model",
        "The network and the weights it starts from.",
        [
            _text("model", "densenet121", "Model name: densenet121, densenet161, densenet169 or densenet201"),
            _int(
                "num_classes",
                None,
                "Number of classes (None: the dataset's); a count unlike the weights' gets a new classifier",
                _POSITIVE,
            ),
            _int("in_channels", 3, "Channels of the input images", _POSITIVE),
            _float("drop_rate", None, "Dropout before the classifier (None: the model's default)", _FRACTION),
            _float(
                "drop_path_rate",
                None,
                "Stochastic-depth rate: accepted for MindCV's YAMLs, but DenseNet has no stochastic depth, "
                "so it has no effect (warns when set)",
                _FRACTION,
            ),
            _flag("pretrained", False, "Start from the published ImageNet weights (downloaded once, cached)"),
            _path("ckpt_path", "", "Start from the weights of this checkpoint (to continue a run: --resume)"),
        ],
    ),
    (
        "loss",
        "The training objective.",
        [
            _choice("loss", "CE", "Loss: CE (cross-entropy) or BCE (binary cross-entropy)", LOSSES),
            _float("label_smoothing", 0.0, "Label-smoothing factor", _FRACTION),
            _float("aux_factor", 0.0, "Weight of the losses of auxiliary logits", _NON_NEGATIVE),
            _choice("reduction", "mean", "How per-sample losses are combined", ("mean", "sum", "none")),
        ],
    ),
    (
        "scheduler",
        "The learning rate of every step.",
        [
            _choice(
                "scheduler",
                "cosine_decay",
                "Learning-rate schedule, computed per step (MindCV's old name warmup_cosine_decay means "
                "cosine_decay)",
                SCHEDULERS,
                aliases={"warmup_cosine_decay": "cosine_decay"},
            ),
            _float("lr", 0.001, "Peak learning rate", _POSITIVE),
            _float("min_lr", 1e-6, "Learning rate at the end of a decay", _NON_NEGATIVE),
            _int(
                "warmup_epochs",
                3,
                "Epochs of linear warmup from warmup_factor * lr to lr (when not set, shortened to leave "
                "an epoch of decay in shorter runs)",
                _NON_NEGATIVE,
            ),
            _float("warmup_factor", 0.0, "Fraction of lr that warmup starts from", _PROBABILITY),
            _int(
                "decay_epochs",
                100,
                "Epochs the decay lasts (cosine, polynomial) or between decays (step, exponential); when "
                "not set, a cosine is shortened to end within the run",
                _POSITIVE,
            ),
            _float("decay_rate", 0.9, "Factor of each decay (step, multi-step, exponential)", _POSITIVE),
            _list(
                "multi_step_decay_milestones",
                [30, 60, 90],
                "Epochs at which multi_step_decay multiplies the learning rate by decay_rate",
                _MILESTONES,
                item=_to_int,
            ),
            _flag("lr_epoch_stair", False, "Change the learning rate once per epoch instead of every step"),
            _int("num_cycles", 1, "Number of cosine cycles", _POSITIVE),
            _float("cycle_decay", 1.0, "Factor of the peak lr of each new cosine cycle", _POSITIVE),
        ],
    ),
    (
        "optimizer",
        "How gradients update the weights.",
        [
            _choice("opt", "adam", "Optimizer (any letter case)", OPTIMIZERS),
            _float("momentum", 0.9, "Momentum factor", _NON_NEGATIVE),
            _float("weight_decay", 1e-6, "Weight decay (L2 penalty)", _NON_NEGATIVE),
            _flag("use_nesterov", False, "Use Nesterov momentum"),
            _choice(
                "weight_decay_filter",
                "disable",
                "Parameters exempt from weight decay: disable (none), auto (MindSpore decides), "
                "norm_and_bias (BatchNorm parameters and biases)",
                ("disable", "auto", "norm_and_bias"),
            ),
            _flag(
                "filter_bias_and_bn",
                None,
                "MindCV's older spelling: True means --weight_decay_filter norm_and_bias",
            ),
            _float("eps", 1e-10, "Epsilon added to the denominators of adaptive optimizers", _POSITIVE),
            _float(
                "layer_decay",
                None,
                "Layer-wise lr decay: layer i of n learns at lr * layer_decay ** (n - 1 - i), the "
                "classifier at lr (None: off)",
                _UNIT,
            ),
        ],
    ),
    (
        "training",
        "The training loop: length, precision, stability.",
        [
            _int("epoch_size", 90, "Number of training epochs", _POSITIVE),
            _flag(
                "dataset_sink_mode",
                True,
                "Accepted for MindCV's YAMLs, no effect (warns when False): batches are always fed step by "
                "step, as MindSpore does on CPU anyway, so --resume can start mid-epoch",
            ),
            _choice(
                "amp_level",
                "O0",
                "Mixed precision: O0 all fp32, O1 white-listed ops fp16, O2 all but black-listed ops fp16, "
                "O3 all fp16, bf16 convolutions computed in bfloat16 on float32 tensors (no loss scale "
                "needed; on CPU the native oneDNN kernels: AVX-512, fastest with AVX512_BF16 or AMX)",
                AMP_LEVELS,
            ),
            _text(
                "amp_cast_list",
                None,
                "Cells to cast instead of the built-in list: the white list for O1, the black list for O2, "
                "e.g. '[nn.BatchNorm2d]' (None: built-in lists)",
            ),
            _choice(
                "loss_scale_type",
                "fixed",
                "Loss scaling: fixed, dynamic (lowered on overflow, raised while stable) or auto "
                "(dynamic at the float16 levels O1-O3, fixed otherwise)",
                ("fixed", "dynamic", "auto"),
            ),
            _float("loss_scale", 1.0, "Loss scale (the starting value when dynamic)", _POSITIVE),
            _flag("dynamic_loss_scale", False, "MindCV's older spelling of --loss_scale_type dynamic"),
            _flag(
                "drop_overflow_update",
                True,
                "Skip updates whose gradients overflow: always done, since applying them would corrupt "
                "the weights (MindCV's False does); False has no effect and warns",
            ),
            _choice(
                "nonfinite_policy",
                "stop",
                "On a non-finite fp32 loss: stop with the epoch and step, or skip the step and count it",
                ("stop", "skip"),
            ),
            _flag(
                "ema",
                False,
                "Keep an exponential moving average of the weights; validate and save it (validate.py: "
                "validate the EMA weights of a checkpoint that holds them)",
            ),
            _float("ema_decay", 0.9999, "EMA decay per step", _FRACTION),
            _flag("clip_grad", False, "Clip gradients by global norm"),
            _float("clip_value", 15.0, "Global-norm limit of clip_grad", _POSITIVE),
            _int("gradient_accumulation_steps", 1, "Batches whose gradients make one update", _POSITIVE),
        ],
    ),
    (
        "checkpoint",
        "What is written to ckpt_save_dir, and how a run continues.",
        [
            _path("ckpt_save_dir", "./ckpt", "Folder of checkpoints, resume state, config, metrics, plots"),
            _int("ckpt_save_interval", 1, "Save a checkpoint every N epochs", _POSITIVE),
            _choice(
                "ckpt_save_policy",
                "latest_k",
                "Epoch checkpoints kept: latest_k (the newest keep_checkpoint_max), top_k (the "
                "keep_checkpoint_max with the best validation top-1; needs val_while_train) or None (all)",
                ("latest_k", "top_k"),
                null=True,
            ),
            _int("keep_checkpoint_max", 10, "Number of epoch checkpoints kept", _POSITIVE),
            _int(
                "ckpt_save_steps",
                0,
                "Also write the resume state every N steps within an epoch (0: by time, epoch ends only)",
                _NON_NEGATIVE,
            ),
            _float(
                "ckpt_save_minutes",
                30.0,
                "Also write the resume state after this many minutes of training since the last one "
                "(0: off); SIGTERM and Ctrl-C write one too, then stop",
                _NON_NEGATIVE,
            ),
            _Option(
                "resume",
                "",
                "Continue a run from the newest resume state in ckpt_save_dir (no value; with none yet, "
                "start from the beginning) or from PATH: weights, optimizer, epoch, step (also mid-epoch), "
                "EMA, loss scale and data order",
                _converter(_to_resume, "a path, or no value for the newest state in ckpt_save_dir"),
                "?",
                "auto",
                "PATH",
            ),
            _flag("resume_opt", False, "Also restore the optimizer state saved with --ckpt_path (MindCV)"),
            _flag(
                "metrics_csv",
                True,
                "Write each epoch's loss, accuracy and lr to metrics.csv in ckpt_save_dir",
            ),
            _flag("plot", True, "Draw the loss and accuracy curves into a PNG in ckpt_save_dir"),
        ],
    ),
    (
        "eval",
        "Validation during training and in validate.py.",
        [
            _flag("val_while_train", False, "Validate during training and keep the best checkpoint by top-1"),
            _int("val_interval", 1, "Validate every N epochs", _POSITIVE),
            _choice("val_amp_level", "O0", "Mixed-precision level of validation", AMP_LEVELS),
            _flag(
                "eval_shuffle", False, "Shuffle the validation data (every sample is still validated once)"
            ),
            _path("json", "", "validate.py: write top1, top5, loss and num_samples to this JSON file"),
        ],
    ),
    (
        "modelarts",
        "MindCV's Huawei ModelArts options: accepted so MindCV YAMLs load, not supported.",
        [
            _flag("enable_modelarts", False, "Run on ModelArts (not supported here: must stay False)"),
            _text("multi_data_url", "/cache/data/", "ModelArts multi-dataset path (unused)"),
            _text("data_url", "/cache/data/", "ModelArts dataset path (unused)"),
            _text("ckpt_url", "/cache/output/", "ModelArts pretrained-model path (unused)"),
            _text("train_url", "/cache/output/", "ModelArts output path (unused)"),
        ],
    ),
)

_OPTIONS = {option.name: option for _, _, options in _GROUPS for option in options}
# MindCV options that cannot apply here: accepted so MindCV's YAMLs run, with a warning when set.
_NO_EFFECT = {
    "drop_path_rate": "DenseNet has no stochastic depth",
    "dataset_sink_mode": "batches are always fed step by step",
    "drop_overflow_update": "updates with overflowing gradients are always skipped",
}
_OPTION_STRINGS = {"-h", "--help", "-c", "--config"} | {f"--{name}" for name in _OPTIONS}


# ---------------------------------------------------------------------------------------------
# Parser.


def _config_parser() -> argparse.ArgumentParser:
    """Only -c/--config, read first because the YAML it names supplies the defaults."""
    parser = _Parser(add_help=False, allow_abbrev=False)
    parser.add_argument(
        "-c",
        "--config",
        default="",
        metavar="FILE.yaml",
        help="YAML file of flat MindCV-style 'option: value' lines replacing the defaults; "
        "the command line overrides it (default: '')",
    )
    return parser


def create_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """MindCV's pair (parser_config, parser): the -c/--config parser and the full one, grouped as
    in MindCV; every option's help ends with its default."""
    parser_config = _config_parser()
    parser = _Parser(
        description="DenseNet training and validation. Precedence: defaults < -c FILE.yaml < command line. "
        "key=value works like --key=value; a boolean alone means true (or give true/false, yes/no, 1/0); "
        "list options take several values, e.g. --scale 0.08 1.0.",
        allow_abbrev=False,
        parents=[parser_config],
    )
    for title, description, options in _GROUPS:
        group = parser.add_argument_group(title, description)
        for option in options:
            group.add_argument(
                f"--{option.name}",
                action=_Store,
                convert=option.convert,
                default=option.default,
                nargs=option.nargs,
                const=option.const,
                metavar=option.metavar,
                help=f"{option.help} (default: {option.default!r})",
            )
    return parser_config, parser


_KEY_VALUE = re.compile(r"[A-Za-z_]\w*=")
_NEGATIVE_NUMBER = re.compile(r"-\.?\d")


def _normalise(argv):
    """Read MindCV's `key=value` tokens (the seed writes `dataset=cifar10`) as `--key=value`.

    A value that itself looks like `name=...` must therefore be attached: `--data_dir=run=3`.
    """
    return [f"--{token}" if _KEY_VALUE.match(token) else token for token in argv]


def _check_option_names(argv):
    """Refuse an unknown option before argparse does, with the closest valid name."""
    for token in argv:
        if token.startswith("-") and token != "--" and not _NEGATIVE_NUMBER.match(token):
            name = token.split("=", 1)[0] if token.startswith("--") else token[:2]
            if name not in _OPTION_STRINGS:
                close = _suggest(name, _OPTION_STRINGS)
                fix = f"did you mean {close}?" if close else "run with --help to see the options"
                raise UnknownOptionError(f"unknown option {name}; {fix}")


def _config_path(argv):
    return _config_parser().parse_known_args(argv)[0].config


def _load_config(path):
    """Typed values of a flat YAML file of these options. Its `config` key, written by MindCV's
    save_args, is read past: the -c path given wins, as in MindCV."""
    return load_yaml_options(path, _OPTIONS, skip=("config",))


def _check_cfgs_in_parser(cfgs: dict, parser: argparse.ArgumentParser) -> None:
    """MindCV's check, for scripts that load a YAML themselves: every key is an option of `parser`.

    Raises exactly MindCV's `KeyError("<key> does not exist in ArgumentParser!")`, which callers
    test by type and message; `parse_args` (train.py) reports an unknown key its own way, in one
    line naming the closest option.
    """
    known = {action.dest for action in parser._actions} | set(parser._defaults)
    for key in cfgs:
        if key not in known:
            raise KeyError(f"{key} does not exist in ArgumentParser!")


class Options(argparse.Namespace):
    """The resolved options, plus `user_set`: the names the YAML file or the command line gave.

    `user_set` is a slot, not an attribute in `vars()`, so the options compare, save and key the
    compile cache exactly as a plain namespace does.
    """

    __slots__ = ("user_set",)


def user_set(args: argparse.Namespace, name: str) -> bool:
    """Whether the user chose `name` (YAML or command line), so a value that cannot work is
    their error; a default they never set is fitted to the run instead. A namespace built in
    code (no record) counts a value as chosen when it differs from the default."""
    chosen = getattr(args, "user_set", None)
    if chosen is not None:
        return name in chosen
    return getattr(args, name, _OPTIONS[name].default) != _OPTIONS[name].default


def _named_on_command_line(argv):
    return {token[2:].split("=", 1)[0] for token in argv if token.startswith("--") and token != "--"}


def parse_args(argv=None) -> Options:
    """Resolve defaults < `-c FILE.yaml` < command line (sys.argv[1:] by default), then validate."""
    argv = _normalise(sys.argv[1:] if argv is None else list(argv))
    _check_option_names(argv)
    config = _config_path(argv)
    from_file = _load_config(config) if config else {}
    namespace = Options(**from_file)
    # Values already in the namespace (the YAML's) replace the parser's defaults; argv overrides both.
    args = create_parser()[1].parse_args(argv, namespace)
    args.user_set = frozenset(from_file) | (_named_on_command_line(argv) & _OPTIONS.keys())
    return validate_args(args)


def validate_args(args: argparse.Namespace) -> argparse.Namespace:
    """Type-check and normalise a namespace however it was built, then refuse contradictions.

    Options missing from `args` get their defaults, names get their canonical spelling ("adamW" ->
    "adamw", "warmup_cosine_decay" -> "cosine_decay"), and MindCV's older spellings
    (filter_bias_and_bn, dynamic_loss_scale) are carried over to the current options.
    """
    for name, option in _OPTIONS.items():
        try:
            setattr(args, name, option.convert(getattr(args, name, option.default)))
        except ValueError as err:
            raise MindCVError(f"--{name}: {err}") from None
    if args.filter_bias_and_bn and args.weight_decay_filter == "disable":
        args.weight_decay_filter = "norm_and_bias"
    if args.dynamic_loss_scale and args.loss_scale_type == "fixed":
        args.loss_scale_type = "dynamic"

    if args.pretrained and args.ckpt_path:
        raise MindCVError("--pretrained and --ckpt_path both choose the starting weights; give only one")
    if args.ckpt_path and not os.path.isfile(args.ckpt_path):
        raise MindCVError(f"--ckpt_path {args.ckpt_path}: no such file; give an existing checkpoint file")
    if args.resume not in ("", "auto") and not os.path.exists(args.resume):
        raise MindCVError(
            f"--resume {args.resume}: not found; give an existing resume state, "
            "or --resume alone for the newest one in ckpt_save_dir"
        )
    if len(args.mean) != len(args.std):
        raise MindCVError(
            f"--mean has {len(args.mean)} values but --std has {len(args.std)}; give one of each per channel"
        )
    for name, reason in _NO_EFFECT.items():
        if getattr(args, name) != _OPTIONS[name].default:
            _logger.warning("--%s %s has no effect: %s", name, getattr(args, name), reason)
    if args.enable_modelarts:
        raise MindCVError("--enable_modelarts: ModelArts is not supported by this project; set it to False")
    return args


def save_args(args: argparse.Namespace, path: str, rank: int = 0) -> None:
    """Write the resolved options as YAML that `-c` reads back (on rank 0 only, as MindCV does).

    The file is written under a temporary name and renamed, so a crash or a full disk never
    leaves a half-written config behind.
    """
    if rank != 0:
        return
    values = {name: getattr(args, name, option.default) for name, option in _OPTIONS.items()}
    source = getattr(args, "config", "")
    text = (
        f"# Resolved options of a run (defaults < {source or 'no config file'} < command line).\n"
        f"# Reuse them with: -c {path}\n" + yaml.safe_dump(values, sort_keys=False, default_flow_style=None)
    )
    atomic_write_bytes(path, text.encode("utf-8"))
