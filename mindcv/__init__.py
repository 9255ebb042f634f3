"""DenseNet model zoo for MindSpore with MindCV's API.

The top-level names load on first use (PEP 562), so `import mindcv.utils.errors` (and so
`config.py`, `--help` and option errors) answers without the seconds MindSpore takes to import.

Importing mindcv sets the environment MindSpore reads when it loads, so the scripts (which import
mindcv before anything imports MindSpore) need no set-up of their own: GLOG_v=3 keeps MindSpore's
INFO/WARNING flood off the console unless GLOG_v is already set.
"""

import os

os.environ.setdefault("GLOG_v", "3")

from ._lazy import lazy_exports  # noqa: E402  (after the environment MindSpore reads)

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
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
