"""Option machinery without MindSpore: converters, option makers, a parser that fails in one line,
and a YAML loader, shared by the scripts.

config.py holds the table of train.py's and validate.py's options made with these; infer.py and
benchmark.py check their numbers with the same converters through `arg_type`. A converter types and
range-checks one value, whether it comes from the command line or a YAML file, and says what it
expected in a `ValueError`: `converter(to_int, "an integer", POSITIVE)("0")` raises
"expected an integer > 0 (got '0')".
"""

from __future__ import annotations

import argparse
import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from .errors import MindCVError, UnknownOptionError

__all__ = [
    "AT_LEAST_32",
    "FRACTION",
    "MILESTONES",
    "NON_NEGATIVE",
    "PER_CHANNEL",
    "PER_CHANNEL_POSITIVE",
    "POSITIVE",
    "PROBABILITY",
    "RANGE",
    "UNIT",
    "Option",
    "OptionParser",
    "StoreConverted",
    "arg_type",
    "choice",
    "converter",
    "flag",
    "float_option",
    "int_option",
    "list_option",
    "load_yaml_options",
    "path_option",
    "split_items",
    "suggest",
    "text_option",
    "to_bool",
    "to_fill",
    "to_float",
    "to_int",
    "to_str",
    "unknown_key",
]


# ---------------------------------------------------------------------------------------------
# Converters: one per option, shared by the command line, YAML files and validation, so a value
# means the same wherever it comes from.

_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_NONE = ("none", "null")


def to_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return _BOOLS[value.strip().lower()]


def to_int(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError
    return int(value)


def to_float(value):
    """Also reads strings such as "1e-4", which PyYAML leaves as text (YAML 1.1 wants "1.0e-4")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError
    return float(value)


def to_str(value):
    if not isinstance(value, str):
        raise TypeError
    return value


def split_items(value):
    """Flatten a YAML list, several CLI tokens or one `a,b` token (from `key=a,b`) into items."""
    if isinstance(value, (list, tuple)):
        return [item for part in value for item in split_items(part)]
    if isinstance(value, str):
        return [token for token in re.split(r"[\s,]+", value.strip().strip("[]()")) if token]
    return [value]


def to_fill(value):
    """Random-erasing fill as MindSpore takes it: one value, one value per channel, or "random"."""
    items = split_items(value)
    if items == ["random"]:
        return "random"
    numbers = [to_int(item) for item in items]
    if len(numbers) not in (1, 3) or not all(0 <= n <= 255 for n in numbers):
        raise ValueError
    return numbers[0] if len(numbers) == 1 else numbers


def suggest(word, candidates):
    """The closest candidate to a mistyped name, or None."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def converter(parse, noun, check=None, null=False, hint=None):
    """Build the function that types and range-checks one option's value, or says what it expected."""
    condition, valid = check or ("", None)

    def convert(value):
        if null and (value is None or (isinstance(value, str) and value.strip().lower() in _NONE)):
            return None
        try:
            result = parse(value)
            ok = valid is None or valid(result)
        except (AttributeError, KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            expected = " ".join(filter(None, (noun, condition))) + (" or None" if null else "")
            raise ValueError(f"expected {expected} (got {value!r}){hint(value) if hint else ''}")
        return result

    return convert


# Range checks: (text completing "expected an integer ...", predicate).
POSITIVE = ("> 0", lambda v: v > 0)
NON_NEGATIVE = (">= 0", lambda v: v >= 0)
PROBABILITY = ("in [0, 1]", lambda v: 0 <= v <= 1)
FRACTION = ("in [0, 1)", lambda v: 0 <= v < 1)
UNIT = ("in (0, 1]", lambda v: 0 < v <= 1)
AT_LEAST_32 = (">= 32", lambda v: v >= 32)
RANGE = ("MIN MAX with 0 < MIN <= MAX", lambda v: len(v) == 2 and 0 < v[0] <= v[1])
PER_CHANNEL = ("(one per channel)", lambda v: len(v) > 0)
PER_CHANNEL_POSITIVE = ("(one per channel, each > 0)", lambda v: len(v) > 0 and min(v) > 0)
MILESTONES = ("(increasing epochs, each > 0)", lambda v: len(v) > 0 and v == sorted(set(v)) and v[0] > 0)


# ---------------------------------------------------------------------------------------------
# Option makers: one `Option` per command-line option, its converter built from the above.


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str
    convert: Callable[[Any], Any]
    nargs: str | None = None
    const: Any = None
    metavar: str | None = None


def flag(name, default, help):
    """A boolean: `--name` alone means True, `--name false` (or no, 0) means False."""
    convert = converter(to_bool, "true or false", null=default is None)
    return Option(name, default, help, convert, "?", True, "BOOL")


def _scalar(parse, noun, metavar):
    """The maker of one kind of single-value option; None is accepted where it is the default."""

    def make(name, default, help, check=None, null=False):
        convert = converter(parse, noun, check, null or default is None)
        return Option(name, default, help, convert, metavar=metavar)

    return make


int_option = _scalar(to_int, "an integer", "INT")
float_option = _scalar(to_float, "a number", "FLOAT")
text_option = _scalar(to_str, "a string", "STR")
path_option = _scalar(to_str, "a path", "PATH")


def choice(name, default, help, choices, aliases=None, null=False):
    """A name from `choices`, matched case-insensitively and stored in its canonical spelling."""
    table = {choice.lower(): choice for choice in choices} | (aliases or {})

    def hint(value):
        close = suggest(str(value).lower(), table)
        return f"; did you mean '{table[close]}'?" if close else ""

    convert = converter(lambda v: table[v.lower()], "one of " + ", ".join(choices), null=null, hint=hint)
    return Option(name, default, help, convert, metavar="{" + ",".join(choices) + "}")


def list_option(name, default, help, check, item=to_float):
    """Several values: `--name 1 2`, `--name=1,2`, `name=1,2`, or a YAML list."""
    noun, metavar = ("integers", "INT") if item is to_int else ("numbers", "FLOAT")
    convert = converter(lambda v: [item(i) for i in split_items(v)], noun, check)
    return Option(name, default, help, convert, "+", metavar=metavar)


# ---------------------------------------------------------------------------------------------
# Parsing: a parser whose errors are one line, and a YAML file of options.


class OptionParser(argparse.ArgumentParser):
    """argparse that raises a one-line MindCVError instead of printing usage and exiting."""

    def error(self, message):
        raise MindCVError(f"{message}; run with --help to see the options")


class StoreConverted(argparse.Action):
    """Store a command-line value through the option's converter, the one YAML values use too."""

    def __init__(self, option_strings, dest, convert, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.convert = convert

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            setattr(namespace, self.dest, self.convert(values))
        except ValueError as err:
            raise MindCVError(f"{option_string}: {err}") from None


def load_yaml_options(path, options: dict, skip=()) -> dict:
    """Typed values of a flat YAML file of `options` (name -> `Option`); keys in `skip` are read
    past. Every problem is reported with the file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise MindCVError(f"config file {path} not found; check the -c/--config path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise MindCVError(f"cannot read config file {path} ({err}); give a readable YAML file") from None

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = {} if root is None else loader.construct_document(root)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        problem = getattr(err, "problem", None) or str(err).replace("\n", " ")
        context, start = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and start:  # e.g. an unclosed list: the error shows later than where it began
            problem += f" ({context} started on line {start.line + 1})"
        raise MindCVError(f"{where}: YAML syntax error: {problem}; fix the YAML there") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise MindCVError(f"{path}: expected 'option: value' lines, got a YAML {type(data).__name__}")

    values = {}
    for key_node, _ in root.value if root is not None else ():
        key, where = key_node.value, f"{path}:{key_node.start_mark.line + 1}"
        if key in skip:
            continue
        if key not in options:
            raise unknown_key(key, options, where)
        if key in values:
            raise MindCVError(f"{where}: '{key}' is set twice; keep one")
        try:
            values[key] = options[key].convert(data[key])
        except ValueError as err:
            raise MindCVError(f"{where}: {key}: {err}") from None
    return values


def unknown_key(key, known, where: str) -> UnknownOptionError:
    close = suggest(key, known)
    fix = f"did you mean '{close}'?" if close else "run with --help to see the options"
    return UnknownOptionError(f"{where}: unknown option '{key}'; {fix}")


def arg_type(convert: Callable[[Any], Any]) -> Callable[[str], Any]:
    """`convert` as an argparse `type=`: its message becomes argparse's error for the argument."""

    def parse(text: str):
        try:
            return convert(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse
