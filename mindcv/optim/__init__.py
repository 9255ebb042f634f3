"""Optimizers: `create_optimizer`, weight-decay parameter groups, AdamW/LAMB/Lion/NAdam, state restore."""

from .adamw import AdamW
from .factory import OPTIMIZERS, create_optimizer
from .lamb import Lamb
from .lion import Lion
from .nadam import NAdam
from .param_groups import FILTERS, is_norm_or_bias, layer_decay_groups, layer_ids, param_groups
from .state import load_optimizer_state, optimizer_state

__all__ = [
    "FILTERS",
    "OPTIMIZERS",
    "AdamW",
    "Lamb",
    "Lion",
    "NAdam",
    "create_optimizer",
    "is_norm_or_bias",
    "layer_decay_groups",
    "layer_ids",
    "load_optimizer_state",
    "optimizer_state",
    "param_groups",
]
