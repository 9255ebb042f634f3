"""DenseNet model zoo for MindSpore with MindCV's API.

The top-level names load on first use (PEP 562), so `import mindcv.utils.errors` (and so
`config.py`, `--help` and option errors) answers without the seconds MindSpore takes to import.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "MindCVError": "mindcv.utils.errors",
    "create_model": "mindcv.models",
    "is_model": "mindcv.models",
    "list_models": "mindcv.models",
    "list_modules": "mindcv.models",
    "model_entrypoint": "mindcv.models",
    "create_dataset": "mindcv.data",
    "create_loader": "mindcv.data",
    "create_transforms": "mindcv.data",
    "create_loss": "mindcv.loss",
    "create_optimizer": "mindcv.optim",
    "create_scheduler": "mindcv.scheduler",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mindcv' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
