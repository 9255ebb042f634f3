"""`mindcv.utils.options`: the option machinery config.py, infer.py, export.py and benchmark.py share."""

import argparse
import subprocess
import sys

import pytest

from mindcv.utils.errors import MindCVError, UnknownOptionError
from mindcv.utils.options import (
    POSITIVE,
    arg_type,
    converter,
    int_option,
    list_option,
    load_yaml_options,
    to_int,
)


def test_a_converter_types_checks_and_says_what_it_expected():
    positive = converter(to_int, "an integer", POSITIVE)
    assert positive("3") == 3 and positive(3) == 3
    for bad in ("0", "x", True, 1.5):
        with pytest.raises(ValueError, match="expected an integer > 0"):
            positive(bad)
    assert converter(to_int, "an integer", POSITIVE, null=True)("None") is None


def test_arg_type_reports_through_argparse():
    parser = argparse.ArgumentParser(prog="script.py", exit_on_error=False)
    parser.add_argument("--batch_size", type=arg_type(converter(to_int, "an integer", POSITIVE)))
    assert parser.parse_args(["--batch_size", "4"]).batch_size == 4
    with pytest.raises(argparse.ArgumentError, match=r"expected an integer > 0 \(got '0'\)"):
        parser.parse_args(["--batch_size", "0"])


def test_a_yaml_file_is_typed_and_its_problems_name_the_line(tmp_path):
    made = (int_option("epochs", 1, "", POSITIVE), list_option("scale", [1.0], "", None))
    options = {option.name: option for option in made}
    path = tmp_path / "run.yaml"
    path.write_text("epochs: '3'\nscale: [0.5, 1]\nconfig: other.yaml\n")
    assert load_yaml_options(path, options, skip=("config",)) == {"epochs": 3, "scale": [0.5, 1.0]}
    path.write_text("epochs: 2\nepoch: 3\n")
    with pytest.raises(UnknownOptionError, match=r"run.yaml:2: unknown option 'epoch'; did you mean"):
        load_yaml_options(path, options)
    path.write_text("epochs: 0\n")
    with pytest.raises(MindCVError, match=r"run.yaml:1: epochs: expected an integer > 0"):
        load_yaml_options(path, options)


def test_it_does_not_import_mindspore():
    code = "import sys, mindcv.utils.options; print('mindspore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
