"""MindCV's import path `mindcv.utils.train_step`, kept so MindCV scripts run unchanged; the train
step lives in `mindcv.engine.train_step`."""

from ..engine.train_step import TrainStep

__all__ = ["TrainStep"]
