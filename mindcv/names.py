"""The names the options and the factories agree on, each list in one place and MindSpore-free.

config.py offers them as choices (it must not import MindSpore, so it cannot import the
factories) and `create_optimizer`, `create_scheduler`, `create_loss` and `init_runtime` accept
exactly these; `mindcv.optim.OPTIMIZERS` and the other factory names are the same objects.
"""

__all__ = ["AMP_LEVELS", "DEVICES", "LOSSES", "OPTIMIZERS", "SCHEDULERS"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "lamb", "lion", "nadam")
SCHEDULERS = (
    "constant",
    "cosine_decay",
    "exponential_decay",
    "polynomial_decay",
    "step_decay",
    "multi_step_decay",
    "one_cycle",
    "cyclic",
)
LOSSES = ("CE", "BCE")
AMP_LEVELS = ("O0", "O1", "O2", "O3", "bf16")  # bf16: see mindcv/amp.py
DEVICES = ("CPU", "GPU", "Ascend")  # the options also take "auto": the best one available
