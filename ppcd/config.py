"""The TOML configuration file of `ppcd run --config FILE`: every option of the command line.

Keys are the long option names without their dashes (`memory = "1G"`, `max-instructions =
1000000`, `qmp = ["unix:/run/ppcd/vm/qmp.sock"]`; `-S` is `start-paused = true`). They are
taken from the `run` parser itself, so an option added there is a key here too, checked by the
same converters. The command line wins: a key is used only when its option was not given.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Set

import tomllib

NOT_KEYS = ("help", "config")


class ConfigFileError(Exception):
    """A configuration file that cannot be read or used; one line naming the file and key."""


def config_key(action: argparse.Action) -> str:
    """The key of an option: its first long name without dashes, or its dest with dashes."""
    for option in action.option_strings:
        if option.startswith("--"):
            return option[2:]
    return action.dest.replace("_", "-")


def _options(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    return {config_key(action): action for action in parser._actions
            if action.option_strings and config_key(action) not in NOT_KEYS}


def load(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigFileError(f"cannot read configuration {path!r}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigFileError(f"{path}: not valid TOML: {e}") from None


def given_on_command_line(parser: argparse.ArgumentParser, argv: List[str]) -> Set[str]:
    """The dests that `argv` sets: parsed again with every default suppressed."""
    saved = [(action, action.default) for action in parser._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for action, default in saved:
            action.default = default


def _convert(action: argparse.Action, key: str, value: Any) -> Any:
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ValueError("expects true or false")
        return value
    if isinstance(action, argparse._AppendAction):
        items = value if isinstance(value, list) else [value]
        return [_convert_one(action, item) for item in items]
    return _convert_one(action, value)


def _convert_one(action: argparse.Action, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("expects a string" + (" or a number" if action.type else ""))
    if isinstance(value, int) and action.type is None:
        raise ValueError("expects a string")
    try:
        converted = action.type(str(value)) if callable(action.type) else value
    except argparse.ArgumentTypeError as e:
        raise ValueError(str(e)) from None
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"expects one of {', '.join(map(str, action.choices))}")
    return converted


def apply(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: List[str],
          path: str) -> None:
    """Fill `args` from the configuration file at `path` where `argv` did not set an option.

    `parser` is the subcommand's parser and `argv` its arguments."""
    values = load(path)
    options = _options(parser)
    given = given_on_command_line(parser, argv)
    for key, value in values.items():
        action = options.get(key)
        if action is None:
            raise ConfigFileError(f"{path}: unknown option {key!r}; the options are "
                                  f"{', '.join(sorted(options))}")
        try:
            converted = _convert(action, key, value)
        except ValueError as e:
            raise ConfigFileError(f"{path}: {key}: {e}") from None
        if action.dest not in given:
            setattr(args, action.dest, converted)
