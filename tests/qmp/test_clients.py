"""The real clients: qemu.qmp's QMPClient (asyncio) and its qmp-shell, driven through stdin."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from qemu.qmp import ExecuteError, QMPClient


def test_qmpclient_drives_the_machine(daemon) -> None:
    async def session():
        client = QMPClient("ppcd-test")
        await client.connect(daemon.socket_path)
        assert client.greeting.QMP.version["package"].startswith("ppcd ")
        events = client.events
        assert (await client.execute("query-status"))["status"] == "prelaunch"
        await client.execute("cont")
        assert (await events.get())["event"] == "RESUME"
        await client.execute("stop")
        assert (await events.get())["event"] == "STOP"
        await client.execute("system_reset")
        reset = await events.get()
        assert reset["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
        # qemu.qmp negotiated oob, so exec-oob works.
        assert (await client.execute("query-status", oob=True))["status"] == "prelaunch"
        text = await client.execute("human-monitor-command", {"command-line": "info status"})
        assert text == "VM status: paused (prelaunch)\r\n"
        with pytest.raises(ExecuteError, match="Parameter 'filename' is missing"):
            await client.execute("pmemsave", {"val": 0, "size": 1})
        with pytest.raises(ExecuteError, match="has not been found"):
            await client.execute("no-such-command")
        await client.disconnect()
    asyncio.run(session())


@pytest.mark.skipif(shutil.which("qmp-shell") is None, reason="qmp-shell is not installed")
def test_qmp_shell(daemon) -> None:
    commands = "\n".join([
        "query-status",
        "cont",
        "human-monitor-command command-line=stop",
        "query-status",
        "memsave val=4194304 size=4",
        "query-name",
    ]) + "\n"
    result = subprocess.run(["qmp-shell", daemon.socket_path], input=commands, text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Connected to QEMU 7.2.0" in out
    assert '{"return": {"status": "prelaunch", "singlestep": false, "running": false}}' in out
    assert '{"return": {"status": "paused", "singlestep": false, "running": false}}' in out
    assert "Parameter 'filename' is missing" in out
    assert '{"return": {"name": "testvm"}}' in out


@pytest.mark.skipif(shutil.which("qmp-shell") is None, reason="qmp-shell is not installed")
def test_qmp_shell_hmp_mode(daemon) -> None:
    result = subprocess.run(["qmp-shell", "-H", daemon.socket_path],
                            input="info status\nx/2xw 0x400000\ninfo bogus\n", text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "VM status: paused (prelaunch)" in result.stdout
    assert "0000000000400000: 0x38800000 0x38840001" in result.stdout
    assert "unknown command: 'info bogus'" in result.stdout
