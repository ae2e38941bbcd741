"""Every command of the issue against a running daemon, with QEMU 7.2's replies and rules."""

from __future__ import annotations

import time

import pytest

from .guests import COUNTER_ADDRESS


def test_queries(daemon) -> None:
    client = daemon.connect()
    assert client.command("query-status") == {"status": "prelaunch", "singlestep": False,
                                              "running": False}
    assert client.command("query-name") == {"name": "testvm"}
    assert client.command("query-target") == {"arch": "ppc64"}
    assert client.command("query-version")["qemu"] == {"micro": 0, "minor": 2, "major": 7}
    cpus = client.command("query-cpus-fast")
    assert len(cpus) == 1 and cpus[0]["cpu-index"] == 0 and cpus[0]["thread-id"] > 0
    assert {c["name"] for c in client.command("query-cpu-definitions")} >= {"power9"}
    machine, = client.command("query-machines")
    assert machine["alias"] == "pseries" and machine["is-default"] is True
    names = {c["name"] for c in client.command("query-commands")}
    assert names >= {"qmp_capabilities", "stop", "cont", "memsave", "human-monitor-command"}
    schema = client.command("query-qmp-schema")
    memsave, = (i for i in schema if i["name"] == "memsave")
    arg_type, = (i for i in schema if i["name"] == memsave["arg-type"])
    assert [m["name"] for m in arg_type["members"]] == ["val", "size", "filename", "cpu-index"]


def test_run_states_and_events(daemon) -> None:
    client = daemon.connect()
    assert client.command("stop") == {}          # not running: nothing happens (QEMU)
    assert client.command("query-status")["status"] == "prelaunch"
    client.command("cont")
    assert client.wait_event("RESUME")
    assert client.command("query-status") == {"status": "running", "singlestep": False,
                                              "running": True}
    client.command("cont")                       # already running: no second RESUME
    client.command("stop")
    client.wait_event("STOP")
    assert client.command("query-status")["status"] == "paused"
    assert not any(e["event"] == "RESUME" for e in client.events)
    assert client.hmp("info status") == "VM status: paused\r\n"
    client.command("system_reset")
    reset = client.wait_event("RESET")
    assert reset["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
    assert client.command("query-status")["status"] == "prelaunch"
    assert client.hmp("info status") == "VM status: paused (prelaunch)\r\n"
    client.command("system_powerdown")
    assert "data" not in client.wait_event("POWERDOWN")


def _counter(client) -> int:
    line = client.hmp(f"xp/1xw {COUNTER_ADDRESS:#x}")
    return int(line.split()[1], 16)


def test_guest_runs_and_reset_reloads_it(daemon) -> None:
    client = daemon.connect()
    client.command("cont")
    deadline = time.monotonic() + 20
    while _counter(client) < 1000:      # RAM is read while the guest runs
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client.command("stop")
    count = _counter(client)
    registers = client.hmp("info registers")
    gpr4 = int(registers.split("GPR04 ")[1].split()[0], 16)
    assert gpr4 in (count, count + 1)    # stopped between the addi and the stw, or not
    assert _counter(client) == count     # stopped means stopped
    client.command("system_reset")
    assert _counter(client) == 0
    assert "NIP 0000000000400000" in client.hmp("info registers")


def test_memsave_and_pmemsave(daemon, tmp_path) -> None:
    client = daemon.connect()
    virtual, physical = tmp_path / "virtual.bin", tmp_path / "physical.bin"
    client.command("memsave", {"val": 0x4000000000400000, "size": 16, "filename": str(virtual)})
    client.command("pmemsave", {"val": 0x400000, "size": 16, "filename": str(physical)})
    assert virtual.read_bytes() == physical.read_bytes()
    assert physical.read_bytes()[:4] == bytes.fromhex("38800000")   # li r4,0
    bad = client.execute("pmemsave", {"val": 1 << 40, "size": 16, "filename": str(physical)})
    assert bad["error"]["desc"] == "Invalid addr 0x0000010000000000/size 16 specified"
    missing = client.execute("memsave", {"val": 0, "size": 1, "filename": "/nonexistent/x"})
    assert missing["error"]["desc"] == "Could not open '/nonexistent/x': No such file or directory"
    cpu = client.execute("memsave", {"val": 0, "size": 1, "filename": str(virtual),
                                     "cpu-index": 3})
    assert cpu["error"]["desc"] == "Parameter 'cpu-index' expects a CPU number"


WRONG_VAL = "Invalid parameter type for 'val', expected: integer"


@pytest.mark.parametrize("arguments, desc", [
    ({"size": 1, "filename": "f"}, "Parameter 'val' is missing"),
    ({"val": "a", "size": 1, "filename": "f"}, WRONG_VAL),
    ({"val": True, "size": 1, "filename": "f"}, WRONG_VAL),
    ({"val": 1.0, "size": 1, "filename": "f"}, WRONG_VAL),
    ({"val": 1 << 64, "size": 1, "filename": "f"}, WRONG_VAL),
    ({"val": 0, "size": 1, "filename": 7},
     "Invalid parameter type for 'filename', expected: string"),
    ({"val": 0, "size": 1, "filename": "f", "extra": 1}, "Parameter 'extra' is unexpected"),
])
def test_argument_errors(daemon, arguments, desc) -> None:
    reply = daemon.connect().execute("memsave", arguments)
    assert reply["error"] == {"class": "GenericError", "desc": desc}


def test_capability_enum_is_checked(daemon) -> None:
    client = daemon.connect(negotiate=False)
    reply = client.execute("qmp_capabilities", {"enable": ["bogus"]})
    assert reply["error"]["desc"] == "Parameter 'enable[0]' does not accept value 'bogus'"


def test_hmp(daemon) -> None:
    client = daemon.connect()
    assert client.hmp("x/4xw 0x400000") == (
        "0000000000400000: 0x38800000 0x38840001 0x90801000 0x4bfffff8\r\n")
    assert client.hmp("xp/3xg 0x400000") == ("0000000000400000: 0x3880000038840001 "
                                              "0x908010004bfffff8\r\n0000000000400010: "
                                              "0x0000000000000000\r\n")
    assert client.hmp("x/2i $pc") == ("0x00400000:  38800000  li       r4, 0\r\n"
                                      "0x00400004:  38840001  addi     r4, r4, 1\r\n")
    assert client.hmp("x/2xw $pc + 4*2") == "0000000000400008: 0x90801000 0x4bfffff8\r\n"
    assert client.hmp("x/2dh 0x40000c") == "000000000040000c: 19455    -8\r\n"
    assert client.hmp("x/4c 0x400000") == "0000000000400000: '8' '\\x80' '\\x00' '\\x00'\r\n"
    assert client.hmp("xp/4xw 0x7fffffff0") == "00000007fffffff0: Cannot access memory\r\n"
    assert client.hmp("x/4zw 0") == ("invalid char in format: 'z'\r\n"
                                     "Try \"help x\" for more information\r\n")
    assert client.hmp("x") == ("unexpected end of expression\r\n"
                               "Try \"help x\" for more information\r\n")
    assert client.hmp("bogus") == "unknown command: 'bogus'\r\n"
    assert client.hmp("info cpus").startswith("* CPU #0: thread_id=")
    assert "info status  -- show the current VM status" in client.hmp("info")
    assert client.hmp("cont") == ""
    assert client.command("query-status")["running"] is True
    assert client.hmp("stop") == ""
    assert client.command("query-status")["status"] == "paused"


def test_quit_replies_then_announces_shutdown(daemon) -> None:
    client = daemon.connect()
    assert client.execute("quit") == {"return": {}}
    shutdown = client.wait_event("SHUTDOWN")
    assert shutdown["data"] == {"guest": False, "reason": "host-qmp-quit"}
    assert daemon.process.wait(timeout=20) == 0
