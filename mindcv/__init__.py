"""DenseNet model zoo for MindSpore with MindCV's API."""

from .models import create_model, is_model, list_models, list_modules, model_entrypoint
from .utils.errors import MindCVError

__version__ = "0.1.0"
__all__ = ["MindCVError", "create_model", "is_model", "list_models", "list_modules", "model_entrypoint"]
