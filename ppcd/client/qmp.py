"""`ppcd qmp SOCKET COMMAND [key=value ...|JSON]`: one QMP command, its answer printed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

from .connection import ClientError, CommandFailed, QMPConnection


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "qmp", help="send one QMP command to a running ppcd",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Send one QMP command to a running ppcd and print what it returns.",
        epilog="Arguments are key=value pairs, where a value that reads as JSON (a number, "
               "true,\nfalse, null, \"a string\", [...] or {...}) is taken as JSON and "
               "anything else is a\nstring; or one JSON object with all of them.\n\n"
               "examples:\n"
               "  ppcd qmp /run/ppcd/vm.qmp query-status\n"
               "  ppcd qmp /run/ppcd/vm.qmp human-monitor-command command-line='info registers'\n"
               "  ppcd qmp tcp:127.0.0.1:4444 migrate-set-parameters '{\"downtime-limit\": 100}'\n"
               "  ppcd qmp /run/ppcd/vm.qmp          (lists the commands)")
    parser.add_argument("socket", metavar="SOCKET",
                        help="ppcd's QMP socket: a path, unix:PATH or tcp:HOST:PORT")
    parser.add_argument("qmp_command", metavar="COMMAND", nargs="?",
                        help="the QMP command, e.g. query-status")
    parser.add_argument("arguments", metavar="ARG", nargs="*",
                        help="key=value, or one JSON object")
    parser.add_argument("--json", action="store_true",
                        help="print the reply as one line of JSON: {\"return\": ...} or "
                             "{\"error\": ...}")


def parse_arguments(words: List[str]) -> Dict[str, Any]:
    """key=value words (values read as JSON when they are JSON), or one JSON object."""
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        try:
            value = json.loads(words[0])
        except ValueError as e:
            raise ClientError(f"the arguments are not a JSON object: {e}") from None
        if not isinstance(value, dict):
            raise ClientError("the arguments are not a JSON object")
        return value
    arguments: Dict[str, Any] = {}
    for word in words:
        key, equals, text = word.partition("=")
        if not equals or not key:
            raise ClientError(f"bad argument {word!r}: use key=value or one JSON object")
        try:
            arguments[key] = json.loads(text)
        except ValueError:
            arguments[key] = text
    return arguments


def show(value: Any) -> str:
    """A return value for a person: HMP's text as it is, anything else as indented JSON."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    if value == {}:
        return ""
    return json.dumps(value, indent=2) + "\n"


def run(args: argparse.Namespace) -> int:
    arguments = parse_arguments(args.arguments)
    with QMPConnection(args.socket) as qmp:
        if args.qmp_command is None:
            names = sorted(c["name"] for c in qmp.execute("query-commands"))
            sys.stdout.write(json.dumps(names) + "\n" if args.json else "\n".join(names) + "\n")
            return 0
        try:
            value = qmp.execute(args.qmp_command, arguments)
        except CommandFailed as e:
            if args.json:
                sys.stdout.write(json.dumps({"error": e.error}) + "\n")
                return 1
            raise
    sys.stdout.write(json.dumps({"return": value}) + "\n" if args.json else show(value))
    return 0
