"""Learning-rate schedules: `create_scheduler` returns one learning rate per training step."""

from .factory import SCHEDULERS, create_scheduler

__all__ = ["SCHEDULERS", "create_scheduler"]
