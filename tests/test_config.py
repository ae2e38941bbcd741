"""The TOML configuration file: every `run` option as a key, the command line winning, and
bad files refused with one line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from console_guest import write_echo_guest
from qmp.conftest import ROOT, RawClient

from ppcd import cli, config

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
# Values for options whose converters need a particular form; every other option takes a
# string, a boolean or its first choice.
SAMPLES = {"memory": ("1G", 1 << 30), "max-instructions": (5000, 5000), "smp": (2, 2),
           "qmp": (["unix:/a", "tcp:127.0.0.1:4444"], ["unix:/a", "tcp:127.0.0.1:4444"])}


@pytest.fixture(scope="module")
def echo_elf(tmp_path_factory) -> Path:
    return write_echo_guest(tmp_path_factory.mktemp("echo") / "echo.elf")


def ppcd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcd.cli", *args], capture_output=True,
                          text=True, timeout=60, env=ENV, stdin=subprocess.DEVNULL)


def run_options() -> argparse.ArgumentParser:
    return cli._subparser(cli.build_parser(), "run")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value) if isinstance(value, int) else f'"{value}"'


def test_every_run_option_is_a_key(tmp_path) -> None:
    """Each option set from the file gives the value the same option gives on the command line."""
    parser = run_options()
    for action in parser._actions:
        key = config.config_key(action)
        if not action.option_strings or key in config.NOT_KEYS:
            continue
        if key in SAMPLES:
            value, expected = SAMPLES[key]
        elif isinstance(action, argparse._StoreTrueAction):
            value, expected = True, True
        elif action.choices:
            value = expected = sorted(action.choices)[-1]
        else:
            value = expected = "/some/where"
        path = tmp_path / f"{key}.toml"
        path.write_text(f"{key} = {toml_value(value)}\n")
        args = parser.parse_args([])
        config.apply(parser, args, [], str(path))
        assert getattr(args, action.dest) == expected, key


def test_command_line_wins(tmp_path) -> None:
    parser = run_options()
    path = tmp_path / "vm.toml"
    path.write_text('memory = "1G"\ncpu = "power8"\nqmp = ["unix:/from/file"]\nname = "file"\n')
    argv = ["--cpu", "power9", "--qmp", "unix:/from/cli"]
    args = parser.parse_args(argv)
    config.apply(parser, args, argv, str(path))
    # Even --cpu power9, the default, counts as given.
    assert (args.cpu, args.qmp, args.memory, args.name) == (
        "power9", ["unix:/from/cli"], 1 << 30, "file")


def test_a_configured_machine_runs(tmp_path, echo_elf) -> None:
    out = tmp_path / "console.txt"
    path = tmp_path / "vm.toml"
    path.write_text(f'kernel = "{echo_elf}"\nserial = "file:{out}"\nmax-instructions = 5000\n'
                    'memory = "64M"\n')
    result = ppcd("run", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("ppcd: guest stopped: instruction limit of 5000")
    assert out.read_bytes() == b"ready\n"
    result = ppcd("run", "--config", str(path), "--max-instructions", "6000")
    assert "instruction limit of 6000" in result.stderr


def test_qmp_and_start_paused_from_the_file(tmp_path, echo_elf) -> None:
    sock = tmp_path / "qmp.sock"
    path = tmp_path / "vm.toml"
    path.write_text(f'kernel = "{echo_elf}"\nserial = "null"\nqmp = "unix:{sock}"\n'
                    'start-paused = true\nname = "configured"\n')
    process = subprocess.Popen([sys.executable, "-m", "ppcd.cli", "run", "--config", str(path)],
                               env=ENV, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        client = RawClient(str(sock))
        client.command("qmp_capabilities")
        assert client.command("query-status")["status"] == "prelaunch"
        assert client.command("query-name") == {"name": "configured"}
        client.command("quit")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("text, message", [
    ("colour = \"blue\"\n", "unknown option 'colour'; the options are "),
    ("memory = \"lots\"\n", "memory: "),
    ("max-instructions = \"many\"\n", "max-instructions: not a number"),
    ("cpu = \"power7\"\n", "cpu: expects one of power10, power8, power9"),
    ("start-paused = \"yes\"\n", "start-paused: expects true or false"),
    ("name = 42\n", "name: expects a string"),
    ("memory = = 1\n", "not valid TOML"),
])
def test_bad_file_is_one_line(tmp_path, text, message) -> None:
    path = tmp_path / "vm.toml"
    path.write_text(text)
    result = ppcd("run", "--config", str(path))
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("ppcd: ") and result.stderr.count("\n") == 1


def test_missing_file_is_one_line(tmp_path) -> None:
    result = ppcd("run", "--config", str(tmp_path / "absent.toml"))
    assert result.returncode == 1
    assert result.stderr == f"ppcd: cannot read configuration '{tmp_path}/absent.toml': " \
                            "No such file or directory\n"
