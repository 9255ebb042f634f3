"""Model registry: name -> entrypoint, with MindCV's query functions.

`register_model` also records the model's module and its pretrained config (the module's
`default_cfgs[name]`), so `list_models(pretrained=True)` knows which models have weights.
"""

import fnmatch
import sys
from collections import defaultdict
from typing import Callable, Dict, Iterable, List, Set, Union

from ..utils.errors import unknown_choice

__all__ = [
    "register_model",
    "list_models",
    "list_modules",
    "is_model",
    "is_model_in_modules",
    "is_model_pretrained",
    "model_entrypoint",
    "get_pretrained_cfg",
]

_model_entrypoints: Dict[str, Callable] = {}
_model_to_module: Dict[str, str] = {}
_module_to_models: Dict[str, Set[str]] = defaultdict(set)
_pretrained_cfgs: Dict[str, dict] = {}


def register_model(fn: Callable) -> Callable:
    """Decorator: register `fn` under its own name."""
    name = fn.__name__
    module_name = fn.__module__.split(".")[-1]
    _model_entrypoints[name] = fn
    _model_to_module[name] = module_name
    _module_to_models[module_name].add(name)
    cfg = getattr(sys.modules[fn.__module__], "default_cfgs", {}).get(name)
    if cfg:
        _pretrained_cfgs[name] = cfg
    return fn


def _as_list(patterns: Union[str, Iterable[str]]) -> List[str]:
    return [patterns] if isinstance(patterns, str) else list(patterns)


def list_models(
    filter: Union[str, Iterable[str]] = "",
    module: str = "",
    pretrained: bool = False,
    exclude_filters: Union[str, Iterable[str]] = "",
) -> List[str]:
    """Sorted registered model names matching the wildcard `filter` (e.g. "densenet1*")."""
    names = _module_to_models[module] if module else _model_entrypoints.keys()
    include = [p for p in _as_list(filter) if p]
    if include:
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in include)}
    for pattern in (p for p in _as_list(exclude_filters) if p):
        names = {n for n in names if not fnmatch.fnmatch(n, pattern)}
    if pretrained:
        names = {n for n in names if is_model_pretrained(n)}
    return sorted(names)


def list_modules() -> List[str]:
    return sorted(_module_to_models)


def is_model(model_name: str) -> bool:
    return model_name in _model_entrypoints


def is_model_in_modules(model_name: str, module_names: Iterable[str]) -> bool:
    return any(model_name in _module_to_models[m] for m in module_names)


def is_model_pretrained(model_name: str) -> bool:
    return bool(_pretrained_cfgs.get(model_name, {}).get("url"))


def model_entrypoint(model_name: str) -> Callable:
    """The registered constructor; an unknown name raises, naming the closest registered ones."""
    if model_name not in _model_entrypoints:
        raise unknown_choice("model", model_name, sorted(_model_entrypoints))
    return _model_entrypoints[model_name]


def get_pretrained_cfg(model_name: str) -> dict:
    """The model's pretrained-weight config (URL, classes, first conv, classifier, mean/std, ...)."""
    model_entrypoint(model_name)
    return dict(_pretrained_cfgs.get(model_name, {}))
