"""config.py as MindCV's config module: `create_parser()`'s pair, KeyError for unknown keys, names."""

import pytest

import config
from mindcv.utils.errors import MindCVError


def test_create_parser_returns_mindcvs_pair(tmp_path):
    parser_config, parser = config.create_parser()
    (tmp_path / "c.yaml").write_text("lr: 0.5\n")
    known, rest = parser_config.parse_known_args(["-c", str(tmp_path / "c.yaml"), "--lr", "1"])
    assert known.config == str(tmp_path / "c.yaml") and rest == ["--lr", "1"]
    assert parser.parse_args(["--lr", "0.1"]).lr == 0.1 and parser.get_default("config") == ""


@pytest.mark.parametrize("source", ["yaml", "cli"])
def test_unknown_keys_are_keyerrors_too(tmp_path, source):
    (tmp_path / "c.yaml").write_text("lr: 0.1\nlearning_rat: 0.1\n")
    argv = ["-c", str(tmp_path / "c.yaml")] if source == "yaml" else ["--learning_rat", "0.1"]
    with pytest.raises(KeyError) as caught:
        config.parse_args(argv)
    assert isinstance(caught.value, MindCVError) and isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(("unknown option", str(tmp_path)))  # one plain line, no quotes


def test_mindcvs_optimizers_and_schedulers_are_accepted():
    args = config.parse_args(["--opt", "Lion", "--scheduler", "one_cycle"])
    assert (args.opt, args.scheduler) == ("lion", "one_cycle")
    assert config.parse_args(["opt=nadam", "scheduler=cyclic"]).opt == "nadam"


def test_check_cfgs_in_parser_as_mindcvs_scripts_call_it():
    _, parser = config.create_parser()
    config._check_cfgs_in_parser({"lr": 0.1, "config": "x.yaml"}, parser)
    with pytest.raises(KeyError) as raised:
        config._check_cfgs_in_parser({"lrr": 0.1}, parser)
    assert raised.type is KeyError and raised.value.args == ("lrr does not exist in ArgumentParser!",)
