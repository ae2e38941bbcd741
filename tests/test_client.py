"""The client CLI end to end against running daemons: `ppcd qmp`, `ppcd console`,
`ppcd migrate` (with its progress bar on a real terminal), --version, --help, and `pip install`
of a clean checkout into a fresh virtual environment."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
from console_guest import write_echo_guest
from qmp.conftest import ROOT, Daemon

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
SUBCOMMANDS = ("run", "dump-vmstate", "qmp", "migrate", "console")


@pytest.fixture(scope="module")
def echo_elf(tmp_path_factory) -> Path:
    return write_echo_guest(tmp_path_factory.mktemp("echo") / "echo.elf")


@pytest.fixture(scope="module")
def spin_elf(tmp_path_factory) -> Path:
    from qmp.guests import SPIN, write_guest
    return write_guest(tmp_path_factory.mktemp("spin") / "spin.elf", SPIN)


@pytest.fixture
def daemon(tmp_path, spin_elf):
    running = Daemon(tmp_path, spin_elf)
    yield running
    running.stop()


def ppcd(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcd.cli", *args], capture_output=True,
                          text=True, timeout=60, env=ENV, **options)


def test_qmp_command_for_a_person(daemon) -> None:
    result = ppcd("qmp", daemon.socket_path, "query-status")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "running", "singlestep": False,
                                         "running": True}
    result = ppcd("qmp", daemon.socket_path, "human-monitor-command", "command-line=info status")
    assert result.stdout == "VM status: running\n"
    assert ppcd("qmp", daemon.socket_path, "stop").stdout == ""
    assert "paused" in ppcd("qmp", f"unix:{daemon.socket_path}", "query-status").stdout


def test_qmp_arguments_as_json(daemon) -> None:
    result = ppcd("qmp", daemon.socket_path, "migrate-set-parameters",
                  '{"downtime-limit": 123}')
    assert result.returncode == 0, result.stderr
    result = ppcd("qmp", daemon.socket_path, "query-migrate-parameters", "--json")
    assert json.loads(result.stdout)["return"]["downtime-limit"] == 123
    # key=value whose value reads as JSON is JSON: 77 is a number.
    ppcd("qmp", daemon.socket_path, "migrate-set-parameters", "downtime-limit=77")
    result = ppcd("qmp", daemon.socket_path, "query-migrate-parameters", "--json")
    assert json.loads(result.stdout)["return"]["downtime-limit"] == 77


def test_qmp_errors(daemon, tmp_path) -> None:
    result = ppcd("qmp", daemon.socket_path, "no-such-command")
    assert result.returncode == 1
    assert result.stderr == ("ppcd: CommandNotFound: The command no-such-command has not been "
                             "found\n")
    result = ppcd("qmp", daemon.socket_path, "no-such-command", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["class"] == "CommandNotFound"
    result = ppcd("qmp", daemon.socket_path, "query-status", "novalue")
    assert result.stderr == "ppcd: bad argument 'novalue': use key=value or one JSON object\n"
    result = ppcd("qmp", str(tmp_path / "absent.sock"), "query-status")
    assert result.returncode == 1
    assert result.stderr.startswith(f"ppcd: cannot connect to {tmp_path}/absent.sock: No such")
    assert result.stderr.count("\n") == 1


def test_qmp_without_a_command_lists_them(daemon) -> None:
    names = ppcd("qmp", daemon.socket_path).stdout.split()
    assert {"query-status", "migrate", "x-query-console", "query-chardev"} <= set(names)


def test_console_through_the_qmp_socket(tmp_path, echo_elf) -> None:
    console = tmp_path / "console.sock"
    running = Daemon(tmp_path, echo_elf, "--serial", f"unix:{console},server")
    try:
        chardevs = running.connect().command("query-chardev")
        assert chardevs == [{"label": "serial0", "filename": f"disconnected:unix:{console},server",
                             "frontend-open": True}]
        # No terminal: stdin is sent, output shown until ppcd closes the console (power-off).
        result = ppcd("console", running.socket_path, input="hello\nq")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ready\nhello\nq"
        assert running.process.wait(timeout=20) == 0
    finally:
        running.stop()


def test_console_by_address_and_refusals(tmp_path, echo_elf, daemon) -> None:
    result = ppcd("console", daemon.socket_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ppcd: the console of {daemon.socket_path} goes to null: "
                                    "nothing to attach to")
    process = subprocess.Popen([sys.executable, "-m", "ppcd.cli", "run", "--kernel",
                                str(echo_elf), "--serial", "tcp:127.0.0.1:0,server"],
                               env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    address = process.stderr.readline().decode().split()[-1]
    result = ppcd("console", address, input="q")
    assert (result.returncode, result.stdout) == (0, "ready\nq")
    assert process.wait(timeout=20) == 0


def test_migrate_with_progress_bar_and_summary(tmp_path, spin_elf) -> None:
    source = Daemon(tmp_path / "a" if (tmp_path / "a").mkdir() is None else tmp_path, spin_elf)
    (tmp_path / "b").mkdir()
    incoming = tmp_path / "migration.sock"
    destination = Daemon(tmp_path / "b", spin_elf, "--incoming", f"unix:{incoming}")
    try:
        # stderr on a real terminal, as a person would have it: the bar is drawn there.
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "ppcd.cli", "migrate", "--from", source.socket_path,
             "--downtime-limit", "300", "--interval", "0.05", f"unix:{incoming}"],
            env=ENV, stdout=subprocess.PIPE, stderr=terminal, text=True)
        os.close(terminal)
        out, _ = process.communicate(timeout=60)
        screen = b""
        while True:
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        os.close(controller)
        assert process.returncode == 0, screen
        assert re.fullmatch(r"migration completed: [\d.]+ [KMG]?i?B sent in [\d.]+ s "
                            r"\([\d.]+ [KMG]?i?B/s\), \d+ passes, downtime \d+ ms\n", out), out
        assert re.search(rb"\r(setup|active)\s+\[[#.]{24}\]\s+\d+%.*pass \d+", screen), screen
        client = destination.connect()
        deadline = time.monotonic() + 20
        while client.command("query-status")["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert source.connect().command("query-status")["status"] == "postmigrate"
    finally:
        source.stop()
        destination.stop()


def test_migrate_json_and_failure(tmp_path, daemon) -> None:
    result = ppcd("migrate", "--from", daemon.socket_path, "--json",
                  f"unix:{tmp_path / 'nobody-listens'}")
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["status"] == "failed"
    result = ppcd("migrate", "--from", daemon.socket_path, f"unix:{tmp_path / 'nobody'}")
    assert result.returncode == 1
    assert result.stderr.startswith("ppcd: migration failed")
    assert result.stderr.count("\n") == 1
    result = ppcd("migrate", "--from", daemon.socket_path, "carrier-pigeon:x")
    assert result.stderr == ("ppcd: GenericError: Parameter 'uri' expects a valid migration "
                             "protocol\n")


def test_version_and_help_everywhere() -> None:
    assert re.fullmatch(r"ppcd \d+\.\d+\.\d+\n", ppcd("--version").stdout)
    for command in SUBCOMMANDS:
        result = ppcd(command, "--help")
        assert result.returncode == 0 and "usage: ppcd " + command in result.stdout, command


def test_pip_install_from_a_clean_checkout(tmp_path) -> None:
    """The files git knows (committed or not, none ignored), installed as a user would."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    checkout = tmp_path / "checkout"
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (checkout / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name.decode())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    # Dependencies come from this environment (no network): a .pth file points at them.
    site = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps",
                    str(checkout)], check=True, timeout=120, cwd=tmp_path)
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = subprocess.run([venv / "bin" / "ppcd", "--version"], capture_output=True,
                             text=True, env=clean, cwd=tmp_path, timeout=60)
    assert version.stdout.startswith("ppcd ")
    demo = subprocess.run([venv / "bin" / "ppcd", "run", "--serial", "null"], env=clean,
                          cwd=tmp_path, capture_output=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
