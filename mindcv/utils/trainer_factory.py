"""MindCV's import path `mindcv.utils.trainer_factory.create_trainer` (a `mindspore.Model`); the
implementation is `mindcv.engine.model_api.create_model_trainer`. train.py's own train step is
`mindcv.engine.train_step.create_trainer`."""

from ..engine.model_api import create_model_trainer as create_trainer

__all__ = ["create_trainer"]
