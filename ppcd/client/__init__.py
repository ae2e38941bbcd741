"""`ppcd qmp`, `ppcd migrate` and `ppcd console`: a running ppcd, for people at a terminal.

Each subcommand is a module with `add_parser(subcommands)` and `run(args) -> exit status`;
they talk to ppcd over QMP (connection.py) with plain blocking sockets, one request at a time.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..journal import report
from . import console, migrate, qmp
from .connection import ClientError

SUBCOMMANDS = {"qmp": qmp, "migrate": migrate, "console": console}


def add_parsers(commands: Any) -> None:
    for module in SUBCOMMANDS.values():
        module.add_parser(commands)


def run(args: argparse.Namespace) -> int:
    """Run a client subcommand; a problem is one line on stderr and exit status 1."""
    try:
        return SUBCOMMANDS[args.command].run(args)
    except ClientError as e:
        report(str(e))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
