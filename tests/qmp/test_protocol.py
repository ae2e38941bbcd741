"""QMP as qmp-spec describes it, byte for byte on a raw socket."""

from __future__ import annotations

import json
import os
import stat

import trio

from ppcd import __version__


def test_greeting_and_negotiation(daemon) -> None:
    client = daemon.connect(negotiate=False)
    assert client.greeting == {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},
                                                   "package": f"ppcd {__version__}"},
                                       "capabilities": ["oob"]}}
    assert client.execute("query-status") == {"error": {
        "class": "CommandNotFound",
        "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}
    assert client.execute("qmp_capabilities", {"enable": ["oob"]}, id=[1]) == {
        "return": {}, "id": [1]}
    assert client.execute("qmp_capabilities")["error"] == {
        "class": "CommandNotFound",
        "desc": "Capabilities negotiation is already complete, command ignored"}


def test_replies_end_with_crlf_and_echo_any_id(daemon) -> None:
    client = daemon.connect()
    client.send(b'{"execute": "query-name", "id": {"nested": ["id", 1]}}')
    assert client.line() == b'{"id": {"nested": ["id", 1]}, "return": {"name": "testvm"}}'


def test_objects_back_to_back_without_newlines(daemon) -> None:
    client = daemon.connect()
    client.send(b'{"execute":"query-target","id":1}{"execute":"query-name","id":2}'
                b'  {"execute":"query-status","id":3}')
    assert [client.reply()["id"] for _ in range(3)] == [1, 2, 3]


def test_one_object_split_across_writes(daemon) -> None:
    client = daemon.connect()
    for piece in (b'{"exec', b'ute": "query-', b'target", "id": "a\\"}', b'"}'):
        client.send(piece)
    assert client.reply() == {"id": 'a"}', "return": {"arch": "ppc64"}}


def test_request_structure_errors(daemon) -> None:
    client = daemon.connect()
    cases = {
        b"[1]": "QMP input must be a JSON object",
        b"42 ": "QMP input must be a JSON object",
        b'{"execute": 1}': "QMP input member 'execute' must be a string",
        b'{"execute": "stop", "foo": 1}': "QMP input member 'foo' is unexpected",
        b'{"execute": "stop", "arguments": []}': "QMP input member 'arguments' must be an object",
        b'{"id": 5}': "QMP input lacks member 'execute'",
        b'{"execute": "query-status", "arguments": {"x": 1}}': "Parameter 'x' is unexpected",
    }
    for request, desc in cases.items():
        client.send(request)
        assert client.reply()["error"] == {"class": "GenericError", "desc": desc}, request
    assert client.execute("no-such-command", id=3) == {"id": 3, "error": {
        "class": "CommandNotFound", "desc": "The command no-such-command has not been found"}}


def test_exec_oob(daemon) -> None:
    client = daemon.connect(negotiate=False)
    client.command("qmp_capabilities")          # without oob: exec-oob is not a member
    client.send(b'{"exec-oob": "query-status"}')
    assert client.reply()["error"]["desc"] == "QMP input member 'exec-oob' is unexpected"
    oob = daemon.connect(negotiate=False)
    oob.command("qmp_capabilities", {"enable": ["oob"]})
    oob.send(b'{"exec-oob": "query-status", "id": "o"}')
    assert oob.reply() == {"id": "o", "return": {"status": "prelaunch", "singlestep": False,
                                                 "running": False}}
    oob.send(b'{"exec-oob": "system_reset", "id": "r"}')
    assert oob.reply()["error"]["desc"] == "The command system_reset does not support OOB"


def test_hostile_input_is_answered_and_harmless(daemon) -> None:
    client = daemon.connect()
    client.command("cont")
    client.send(b'"\xc3\x28"')
    assert "UTF-8" in client.reply()["error"]["desc"]
    client.send(b"}")
    assert client.reply()["error"]["desc"] == "JSON parse error, stray '}'"
    client.send(b"[" * 100 + b"]" * 100)
    assert "nesting" in client.reply()["error"]["desc"]
    client.send(b'{"execute": "' + b"x" * (2 << 20) + b'"}')
    assert "exceeds" in client.reply()["error"]["desc"]
    client.send(b'{"execute": NaN}')
    assert client.reply()["error"]["class"] == "GenericError"
    client.send(bytes(range(256)).replace(b"{", b"").replace(b"[", b"").replace(b'"', b"") + b" ")
    while client.reply().get("error"):
        client.send(b'{"execute": "query-status", "id": "after"}')
        break
    reply = client.reply()
    while reply.get("id") != "after":
        reply = client.reply()
    assert reply["return"]["status"] == "running"


def test_unix_socket_is_private(daemon) -> None:
    assert stat.S_IMODE(os.stat(daemon.socket_path).st_mode) == 0o600


def test_many_clients_each_with_its_own_session(daemon) -> None:
    clients = [daemon.connect(negotiate=False) for _ in range(12)]
    for i, client in enumerate(clients):
        if i % 2:
            client.command("qmp_capabilities")
    for i, client in enumerate(clients):
        reply = client.execute("query-target")
        assert ("return" in reply) == bool(i % 2)
    clients[1].close()                          # gone without a word
    clients[3].send(b'{"execute": "cont"')      # gone mid-command
    clients[3].close()
    assert clients[5].command("cont") == {}
    for client in clients[5::2]:
        assert client.wait_event("RESUME")["event"] == "RESUME"


async def test_trio_client_sees_events_in_qemu_format(daemon) -> None:
    stream = await trio.open_unix_socket(daemon.socket_path)
    buffer = b""

    async def message():
        nonlocal buffer
        while b"\r\n" not in buffer:
            buffer += await stream.receive_some(4096)
        line, buffer = buffer.split(b"\r\n", 1)
        return json.loads(line)

    await message()
    await stream.send_all(b'{"execute":"qmp_capabilities"}{"execute":"cont"}')
    seen = [await message() for _ in range(3)]
    resume = next(m for m in seen if m.get("event") == "RESUME")
    assert set(resume["timestamp"]) == {"seconds", "microseconds"}
    assert "data" not in resume
    await stream.aclose()
