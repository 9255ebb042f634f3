"""`mindcv.names`: each list of names has one home, which config.py and the factories share."""

import config
from mindcv import names
from mindcv.engine import runtime
from mindcv.loss import factory as loss_factory
from mindcv.optim import OPTIMIZERS
from mindcv.scheduler import SCHEDULERS


def test_the_factories_accept_the_names_config_offers():
    assert OPTIMIZERS is names.OPTIMIZERS is config.OPTIMIZERS
    assert SCHEDULERS is names.SCHEDULERS is config.SCHEDULERS
    assert [name.upper() for name in loss_factory.LOSSES] == list(names.LOSSES) == list(config.LOSSES)
    assert config.AMP_LEVELS is names.AMP_LEVELS
    assert runtime._DEVICES is names.DEVICES and ("auto", *names.DEVICES) == config.DEVICES
