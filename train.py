"""Train or fine-tune a DenseNet: `python train.py -c configs/densenet/densenet_121_demo.yaml`.

A short pipeline over the package's factories: data, model, loss, learning rates, optimizer,
train step, then the epoch loop. Every option is documented in config.py (`--help`).
"""

import logging
from pathlib import Path

from config import parse_args, save_args, user_set
from mindcv.amp import resolve_loss_scale_type
from mindcv.data import get_class_names
from mindcv.data.class_names import CLASS_NAMES_FILE, save_class_names
from mindcv.engine.builders import build_loader, mixing_on
from mindcv.engine.checkpoint_manager import CheckpointManager
from mindcv.engine.metrics_log import MetricsLog
from mindcv.engine.runtime import compile_cache_folder, init_runtime
from mindcv.engine.train_step import create_trainer
from mindcv.engine.trainer import RunPosition, Trainer
from mindcv.loss import create_loss
from mindcv.models import create_model
from mindcv.optim import create_optimizer
from mindcv.scheduler import create_scheduler
from mindcv.utils.atomic import remove_temporaries
from mindcv.utils.cli import run_script
from mindcv.utils.errors import MindCVError

_logger = logging.getLogger("train")


def build_train_step(args, dist, steps_per_epoch: int):
    """Model, loss, per-step learning rates, optimizer and the train step around them."""
    model_kwargs = {} if args.drop_rate is None else {"drop_rate": args.drop_rate}
    network = create_model(
        args.model,
        num_classes=args.num_classes,
        pretrained=args.pretrained,
        in_channels=args.in_channels,
        checkpoint_path=args.ckpt_path,
        **model_kwargs,
    )
    loss = create_loss(
        args.loss,
        reduction=args.reduction,
        label_smoothing=0.0 if mixing_on(args) else args.label_smoothing,
        aux_factor=args.aux_factor,
    )
    updates_per_epoch = steps_per_epoch // args.gradient_accumulation_steps
    if updates_per_epoch == 0:
        raise MindCVError(
            f"--gradient_accumulation_steps {args.gradient_accumulation_steps} exceeds the "
            f"{steps_per_epoch} steps of an epoch; lower it"
        )
    learning_rates = create_scheduler(
        updates_per_epoch,
        scheduler=args.scheduler,
        lr=args.lr,
        min_lr=args.min_lr,
        warmup_epochs=args.warmup_epochs,
        warmup_factor=args.warmup_factor,
        decay_epochs=args.decay_epochs,
        decay_rate=args.decay_rate,
        milestones=args.multi_step_decay_milestones,
        num_epochs=args.epoch_size,
        num_cycles=args.num_cycles,
        cycle_decay=args.cycle_decay,
        lr_epoch_stair=args.lr_epoch_stair,
        fit_to_run={name for name in ("warmup_epochs", "decay_epochs") if not user_set(args, name)},
    )
    optimizer = create_optimizer(
        network,
        opt=args.opt,
        lr=learning_rates,
        weight_decay=args.weight_decay,
        momentum=args.momentum,
        nesterov=args.use_nesterov,
        weight_decay_filter=args.weight_decay_filter,
        layer_decay=args.layer_decay,
        eps=args.eps,
        checkpoint_path=args.ckpt_path if args.resume_opt else "",
    )
    train_step = create_trainer(
        network,
        loss,
        optimizer,
        amp_level=args.amp_level,
        loss_scale_type=resolve_loss_scale_type(args.loss_scale_type, args.amp_level),
        loss_scale=args.loss_scale,
        clip_grad=args.clip_grad,
        clip_value=args.clip_value,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        ema=args.ema,
        ema_decay=args.ema_decay,
        distributed=dist.distributed,
        amp_cast_list=args.amp_cast_list,
    )
    return train_step, learning_rates


def _graph_options(args) -> dict:
    """The options a compiled graph may depend on: all but where to resume from."""
    return {key: value for key, value in vars(args).items() if key != "resume"}


def main(args) -> None:
    if args.ckpt_save_policy == "top_k" and not args.val_while_train:
        raise MindCVError(
            "--ckpt_save_policy top_k ranks checkpoints by validation top-1; add --val_while_train "
            "or use --ckpt_save_policy latest_k"
        )
    dist = init_runtime(
        args.mode,
        args.device_target,
        args.threads,
        args.seed,
        args.deterministic,
        args.distribute,
        compile_cache_folder(args.compile_cache, _graph_options(args)),
    )
    train_loader = build_loader(
        args, dist, args.train_split, is_training=True, fit_batch_size=not user_set(args, "batch_size")
    )
    val_loader = build_loader(args, dist, args.val_split, is_training=False) if args.val_while_train else None
    train_step, learning_rates = build_train_step(args, dist, train_loader.get_dataset_size())

    ckpt_dir = Path(args.ckpt_save_dir)
    checkpoints = CheckpointManager(ckpt_dir, args.model, args.keep_checkpoint_max, args.ckpt_save_policy)
    position = RunPosition()
    path = checkpoints.find_resume_state(args.resume) if args.resume else None
    if path is not None:
        position = RunPosition.from_saved(checkpoints.load_resume_state(train_step, path))
        _logger.info("resumed from %s at epoch %d, step %d", path, position.epoch, position.step_in_epoch)
    files = {name: ckpt_dir / name for name in ("config.yaml", CLASS_NAMES_FILE, "metrics.csv", "curves.png")}
    if dist.is_main:  # rank 0 alone writes files
        # What a kill in the middle of a write left behind.
        remove_temporaries(ckpt_dir, [args.model, *(path.stem for path in files.values())])
        # infer.py names the classes of this run's checkpoints from it.
        save_class_names(files[CLASS_NAMES_FILE], get_class_names(train_loader))
    save_args(args, str(files["config.yaml"]), dist.rank)
    metrics = MetricsLog(
        files["metrics.csv"] if args.metrics_csv else None,
        files["curves.png"] if args.plot else None,
        resume_epoch=position.epoch,
        title=f"{args.model} on {args.dataset}",
    )
    trainer = Trainer(
        train_step,
        train_loader,
        val_loader,
        checkpoints,
        metrics,
        learning_rates,
        epochs=args.epoch_size,
        dist=dist,
        global_batch_size=args.batch_size * max(args.aug_splits, 1) * dist.group_size,
        val_interval=args.val_interval,
        ckpt_save_interval=args.ckpt_save_interval,
        nonfinite_policy=args.nonfinite_policy,
        ckpt_save_steps=args.ckpt_save_steps,
        ckpt_save_minutes=args.ckpt_save_minutes,
        log_interval=args.log_interval,
    )
    result = trainer.fit(position)
    if dist.is_main:
        best = f", best top-1 {position.best_top1:.4f}" if result else ""
        _logger.info("done: checkpoints in %s%s", ckpt_dir, best)


if __name__ == "__main__":
    run_script(main, parse_args)
