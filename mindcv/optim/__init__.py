"""Optimizers: `create_optimizer`, weight-decay parameter groups, AdamW/LAMB, state restore."""

from .adamw import AdamW, Lamb
from .factory import OPTIMIZERS, create_optimizer
from .param_groups import FILTERS, is_norm_or_bias, layer_decay_groups, layer_ids, param_groups
from .state import load_optimizer_state, optimizer_state

__all__ = [
    "FILTERS",
    "OPTIMIZERS",
    "AdamW",
    "Lamb",
    "create_optimizer",
    "is_norm_or_bias",
    "layer_decay_groups",
    "layer_ids",
    "load_optimizer_state",
    "optimizer_state",
    "param_groups",
]
