"""Models: the DenseNet family, its registry and `create_model`."""

from . import densenet
from .checkpoint import adapt_input_conv, load_params, read_checkpoint
from .convert import convert_key, convert_state_dict, convert_weights, read_state_dict
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .factory import create_model, load_weights
from .registry import (
    get_pretrained_cfg,
    is_model,
    is_model_in_modules,
    is_model_pretrained,
    list_models,
    list_modules,
    model_entrypoint,
    register_model,
)

__all__ = [
    "DenseNet",
    "adapt_input_conv",
    "convert_key",
    "convert_state_dict",
    "convert_weights",
    "create_model",
    "densenet",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "get_pretrained_cfg",
    "is_model",
    "is_model_in_modules",
    "is_model_pretrained",
    "list_models",
    "list_modules",
    "load_params",
    "load_weights",
    "model_entrypoint",
    "read_checkpoint",
    "read_state_dict",
    "register_model",
]
