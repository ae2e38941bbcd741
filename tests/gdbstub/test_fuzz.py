"""Random and malformed packets leave the stub and the guest working.

A few hundred examples per machine run in the suite; PPCD_GDB_FUZZ_EXAMPLES=10000 runs 10,000
(`-k smp3` for the three-vCPU machine only). Two machines: one vCPU running SPIN, and three
vCPUs running SMP_SPIN, whose boot vCPU starts the other two with RTAS start-cpu, so every
thread runs. Besides random packets and noise, the generator sends thread-aware ones: H g/c and
T with valid, invalid, all (-1), any (0) and malformed thread ids, qThreadExtraInfo, vCont with
mixed per-thread actions (a step on one thread and continues on the others, t, default actions,
unknown threads, malformed actions), continues, register packets after switching threads, and
breakpoints and watchpoints set and removed around steps and continues.

After each example a sentinel ends whatever was left open and interrupts a machine left
running (a continue's stop may never come), then writes and reads back a fresh nonce: every
reply before the nonce belongs to the example, and each must be a reply gdb knows, with stop
replies naming one of the machine's threads; every vCPU's registers are then read, and every
25 examples the machine migrates to a file, which needs every vCPU's state to be one a machine
can have (a pc wider than 64 bits, set by `c ADDR`, once ended ppcd there). Packets that
would end the session or the machine (D, k, vKill) are left out: their effects are tested in
test_protocol.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
import time
from typing import Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qmp.conftest import RawClient
from qmp.guests import COUNTER_ADDRESS, SPIN, write_guest

from ppcd.cpu.assembler import assemble_all
from ppcd.gdbstub import power
from ppcd.machine.devicetree import RTAS_TOKENS

from .conftest import GDB, RawGDB, run_gdb

EXAMPLES = int(os.environ.get("PPCD_GDB_FUZZ_EXAMPLES", "200"))
LOAD_ADDRESS = 0x400000
NONCE_ADDRESS = 0x2000          # touched by no guest: the sentinel's own word
RTAS_BUFFER = 0x3000
H_RTAS = 0xF000
SAVE_EVERY = 25                 # examples between two migrations of the machine to a file


def _smp_spin(cpus: int) -> str:
    """vCPU 0 starts vCPUs 1..cpus-1 (start-cpu, r3 = the index) at the loop, then joins it:
    each vCPU counts in r4 forever, storing the count at COUNTER_ADDRESS + 8 * index."""
    lines = [f"addi 9,0,{RTAS_BUFFER}", f"addi 10,0,{RTAS_TOKENS['start-cpu']}", "stw 10,0(9)",
             "addi 10,0,3", "stw 10,4(9)", "addi 10,0,1", "stw 10,8(9)",
             f"addis 10,0,{LOAD_ADDRESS >> 16}", "ori 10,10,ENTRY", "stw 10,16(9)"]
    for cpu in range(1, cpus):
        lines += [f"addi 10,0,{cpu}", "stw 10,12(9)", "stw 10,20(9)",
                  "addi 3,0,0", f"ori 3,3,{H_RTAS}", "addi 4,9,0", "sc 1"]
    lines.append("addi 3,0,0")
    entry = 4 * len(lines)
    lines += ["rldicr 5,3,3,60", "addi 4,0,0",
              f"addi 4,4,1; stw 4,{COUNTER_ADDRESS}(5); b -8"]
    return "; ".join(lines).replace("ENTRY", hex(entry))


SMP = 3
SMP_SPIN = _smp_spin(SMP)
# The loop every vCPU runs: addi 4,4,1; stw 4,COUNTER(5); b -8.
SMP_LOOP = LOAD_ADDRESS + 4 * (len(assemble_all(SMP_SPIN)) - 3)
SPIN_LOOP = LOAD_ADDRESS + 4

NAMES = [b"?", b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z", b"z", b"H", b"T", b"s", b"S",
         b"c", b"C", b"qSupported", b"qXfer:features:read:", b"qfThreadInfo", b"qsThreadInfo",
         b"qC", b"qAttached", b"qRcmd,", b"qThreadExtraInfo,", b"vCont;s", b"vCont;t",
         b"vCont;c", b"vCont?", b"QStartNoAckMode", b"vMustReplyEmpty", b"q", b"v", b"Q", b""]
ARGUMENT = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from([b"0", b"1", b"4", b"40", b"400000", b"ffffffffffffffff", b",",
                              b":", b";", b"=", b"p1.1", b"-1", b"}", b"*", b"target.xml",
                              b"696e666f20737461747573", b"zz"]), max_size=8).map(b"".join))

# --- thread-aware packets --------------------------------------------------------------------
THREAD_IDS = st.one_of(
    st.sampled_from([
        # valid on three vCPUs (the first ones on one vCPU too)
        b"p01.01", b"p1.1", b"1", b"p01.02", b"p01.03", b"2", b"3", b"p-1.02", b"p0.03",
        # all and any
        b"-1", b"0", b"p-1.-1", b"p01.-1", b"p1", b"p01.0", b"p0.0", b"p-1.0", b"p0.-1",
        # no such thread or process
        b"p01.04", b"4", b"ff", b"p02.01", b"p2.-1", b"p01.ffffffffffffffff",
        # malformed
        b"", b"p", b"p.", b"p01.", b"p.01", b"pp01.01", b"p01.01.01", b"-2", b"--1",
        b"p-1.-2", b"p01.zz", b"zz", b"p01:01", b"1" * 40, b"p01.01;", b"-", b"p-", b" 1",
        b"p\xff.01", b"p01.01,",
    ]),
    st.binary(max_size=8))
VCONT_ACTIONS = st.sampled_from([b"s", b"c", b"t", b"S05", b"C05", b"S00", b"C02",
                                 b"S", b"C", b"C5", b"Szz", b"x", b"", b"ss", b"r400000,400004"])
VCONT_ITEM = st.builds(lambda action, thread: action if thread is None else action + b":" + thread,
                       VCONT_ACTIONS, st.one_of(st.none(), THREAD_IDS))
VCONT = st.builds(lambda prefix, items, suffix: b"vCont" + prefix + b";".join(items) + suffix,
                  st.sampled_from([b";", b";", b";", b"", b";;", b":"]),
                  st.lists(VCONT_ITEM, min_size=0, max_size=4),
                  st.sampled_from([b"", b"", b"", b";", b":"]))
REGISTER = st.one_of(st.integers(0, len(power.REGISTERS) + 2), st.sampled_from([64, 65, 3, 4]))
HEX_VALUE = st.one_of(st.binary(min_size=8, max_size=8).map(bytes.hex),
                      st.binary(max_size=9).map(bytes.hex),
                      st.sampled_from(["zz", "", "0"])).map(str.encode)
REGISTER_PACKET = st.one_of(
    st.just(b"g"),
    st.builds(lambda n: b"p%x" % n, REGISTER),
    st.builds(lambda n, value: b"P%x=%s" % (n, value), REGISTER, HEX_VALUE),
    st.binary(max_size=800).map(lambda data: b"G" + data.hex().encode()),
)
ADDRESS = st.one_of(st.sampled_from([SMP_LOOP, SMP_LOOP + 4, SMP_LOOP + 8, SPIN_LOOP,
                                     SPIN_LOOP + 4, LOAD_ADDRESS, COUNTER_ADDRESS,
                                     COUNTER_ADDRESS + 8, COUNTER_ADDRESS + 16]),
                    st.integers(0, 2 ** 64 - 1))
BREAKPOINT = st.builds(lambda kind, address, length: b"%d,%x,%d" % (kind, address, length),
                       st.integers(0, 5), ADDRESS, st.sampled_from([0, 1, 4, 8]))
RESUME = st.one_of(VCONT, st.sampled_from([b"s", b"c", b"S05", b"C05", b"vCont;c",
                                           b"vCont;s:p01.02;c", b"vCont;s:p01.03;c:p01.01"]),
                   # at an address: the loop's, any, or one wider than the pc (refused)
                   st.builds(lambda letter, address: letter + b"%x" % address,
                             st.sampled_from([b"c", b"s", b"C05;", b"S05;"]),
                             st.one_of(ADDRESS, st.integers(2 ** 64, 2 ** 128 - 1))))
SELECT = st.builds(lambda op, thread: b"H" + op + thread,
                   st.sampled_from([b"g", b"c", b"g", b"c", b"G", b"x", b""]), THREAD_IDS)


def _frame(payload: bytes, good_checksum: bool = True) -> bytes:
    check = sum(payload) & 0xFF
    return b"$%s#%02x" % (payload, check if good_checksum else check ^ 0x55)


def _framed(payloads: List[bytes]) -> List[bytes]:
    return [_frame(payload) for payload in payloads]


PACKETS = st.one_of(
    st.builds(lambda name, arg, good: [_frame(name + arg, good)],
              st.sampled_from(NAMES), ARGUMENT, st.booleans()),
    st.binary(max_size=64).map(lambda noise: [noise]),      # noise, stray acks and interrupts
    # thread-aware packets
    SELECT.map(lambda packet: [_frame(packet)]),
    THREAD_IDS.map(lambda thread: [_frame(b"T" + thread)]),
    st.builds(lambda sep, thread: [_frame(b"qThreadExtraInfo" + sep + thread)],
              st.sampled_from([b",", b",", b"", b":", b";"]), THREAD_IDS),
    VCONT.map(lambda packet: [_frame(packet)]),
    # registers after switching threads
    st.builds(lambda select, packets: _framed([select, *packets]),
              SELECT, st.lists(REGISTER_PACKET, min_size=1, max_size=3)),
    # breakpoints and watchpoints set while threads step and run
    st.builds(lambda breakpoint, select, resumes, remove:
              _framed([b"Z" + breakpoint, select, *resumes]
                      + ([b"z" + breakpoint] if remove else [])),
              BREAKPOINT, SELECT, st.lists(RESUME, min_size=1, max_size=3), st.booleans()),
    st.builds(lambda resume: [_frame(resume)], RESUME),
)

# Every reply the stub may send, by shape; a stop reply must name one of the machine's threads.
REPLY = re.compile(rb"|OK|E[0-9a-f]{2}|1|[0-9a-f]+|[ml].*|QC.*|O[0-9a-f]+|vCont;.*"
                   rb"|PacketSize=.*|(?P<stop>T[0-9a-f]{2}thread:(?P<thread>[^;]*);.*)",
                   re.DOTALL)


def _check_reply(reply: bytes, threads: List[bytes]) -> None:
    m = REPLY.fullmatch(reply)
    assert m is not None, f"not a reply gdb knows: {reply[:200]!r}"
    if m.group("stop"):
        assert m.group("thread") in threads, f"stop in no thread of the machine: {reply!r}"


def _fuzz(client: RawGDB, threads: List[bytes], save_state) -> None:
    nonce = [0]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(PACKETS, min_size=1, max_size=5), st.permutations(threads))
    def send(groups, order) -> None:
        for group in groups:
            for data in group:
                client.send_raw(data)
        # The sentinel. `#` and two non-hex bytes end a packet left open in its body or its
        # checksum, whatever was open; 0x03, outside any packet now, stops a machine left
        # running and gets its stop reply. Then a nonce written and read back: every reply
        # before it belongs to the random packets.
        nonce[0] += 1
        word = struct.pack(">Q", nonce[0]).hex().encode()
        client.send_raw(b"#\0\0\x03")
        client.send(b"M%x,8:%s" % (NONCE_ADDRESS, word))
        client.send(b"m%x,8" % NONCE_ADDRESS)
        while True:
            reply = client.receive()
            if reply == word:
                break
            _check_reply(reply, threads)
        # The machine is stopped: every vCPU's registers can be read.
        for thread in order:
            assert client.ask(b"Hg" + thread) == b"OK"
            assert len(client.ask(b"g")) == 2 * sum(r.bits // 8 for r in power.REGISTERS)
        if nonce[0] % SAVE_EVERY == 0:
            save_state()

    send()


@pytest.mark.parametrize("cpus", [1, SMP], ids=["smp1", "smp3"])
def test_random_packets_leave_stub_and_guest_working(cpus, tmp_path, start_ppcd) -> None:
    elf = write_guest(tmp_path / "spin.elf", SPIN if cpus == 1 else SMP_SPIN)
    machine = start_ppcd(elf, "--smp", str(cpus))
    threads = [b"p01.%02x" % n for n in range(1, cpus + 1)]
    client = RawGDB(machine.port)
    client.ask(b"QStartNoAckMode")
    if cpus > 1:
        # Let vCPU 0 start the others before the fuzzing begins.
        client.send(b"c")
        with _qmp(machine) as qmp:
            _wait_for_counters(qmp, cpus)
        client.send_raw(b"\x03")
        assert client.receive().startswith(b"T02thread:")

    def save_state() -> None:
        # Every vCPU's state, whatever the packets wrote, must still be a machine's: it
        # migrates to a file (and the machine, in postmigrate, resumes on the next continue).
        with _qmp(machine) as qmp:
            qmp.command("migrate", {"uri": f"file:{tmp_path / 'state.mig'}"})
            deadline = time.monotonic() + 20
            while (status := qmp.command("query-migrate").get("status")) not in (
                    "completed", "failed", "cancelled"):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert status == "completed", qmp.command("query-migrate")

    started = time.monotonic()
    _fuzz(client, threads, save_state)
    save_state()
    if EXAMPLES > 1000:
        print(f"{EXAMPLES} examples on {cpus} vCPU(s) in {time.monotonic() - started:.1f} s")
    client.close()

    # A new debugger is served: the fuzzing one's breakpoints are gone with it.
    again = RawGDB(machine.port)
    assert again.ask(b"qfThreadInfo") == b"m" + b",".join(threads)
    assert again.ask(b"vCont;t") == b"T00thread:%s;" % again.ask(b"qC")[2:]
    assert again.ask(b"D;1") == b"OK"
    again.close()
    # The guest may have been rewritten by random M, X, G and P packets: reset, it counts again
    # (on three vCPUs, vCPU 0 starts the others again). A QMP client of its own: one left
    # unread through the fuzzing's thousands of STOP and RESUME events would be dropped.
    with _qmp(machine) as qmp:
        qmp.command("system_reset")
        assert qmp.command("query-status")["status"] == "running"
        _wait_for_counters(qmp, cpus)
        if cpus > 1:
            _debug_again(elf, machine, qmp, threads)
    assert machine.process.poll() is None


@contextlib.contextmanager
def _qmp(machine) -> Iterator[RawClient]:
    qmp = RawClient(machine.qmp)
    try:
        qmp.command("qmp_capabilities")
        yield qmp
    finally:
        qmp.close()


def _counters(qmp: RawClient, cpus: int) -> List[str]:
    return [qmp.hmp(f"xp/1wx {COUNTER_ADDRESS + 8 * cpu:#x}") for cpu in range(cpus)]


def _wait_for_counters(qmp: RawClient, cpus: int) -> None:
    """Every vCPU's counter moves (the machine must be running)."""
    before = _counters(qmp, cpus)
    deadline = time.monotonic() + 20
    while any(a == b for a, b in zip(before, _counters(qmp, cpus))):
        assert time.monotonic() < deadline, (before, _counters(qmp, cpus))
        time.sleep(0.01)


def _debug_again(elf, machine, qmp: RawClient, threads: List[bytes]) -> None:
    """After the fuzzing: a new debugger lists the threads, reads each one's registers, steps
    one of them while the others stay, continues to a breakpoint and interrupts; then gdb."""
    gdb = RawGDB(machine.port)
    try:
        assert gdb.ask(b"qfThreadInfo") == b"m" + b",".join(threads)
        pcs = {}
        for thread in threads:
            assert gdb.ask(b"Tp" + thread[1:]) == b"OK"
            assert bytes.fromhex(gdb.ask(b"qThreadExtraInfo," + thread).decode()).endswith(
                b"[running]")
            assert gdb.ask(b"Hg" + thread) == b"OK"
            registers = gdb.ask(b"g")
            assert len(registers) == 2 * sum(r.bits // 8 for r in power.REGISTERS)
            pcs[thread] = int(gdb.ask(b"p40"), 16)
            assert SMP_LOOP <= pcs[thread] <= SMP_LOOP + 8, hex(pcs[thread])
        # Threads that do not exist: refused, and nothing resumes.
        for packet in (b"Tp01.04", b"Hgp01.04", b"Hcp02.01", b"qThreadExtraInfo,p01.04",
                       b"vCont;c:p01.04", b"vCont;s:p01.02;c:p01.09", b"vCont;t:p02.-1",
                       b"c" + b"1" + b"0" * 16):
            assert gdb.ask(packet) == b"E22", packet
        # A step of the last thread, the others holding.
        last = threads[-1]
        assert gdb.ask(b"vCont;s:%s;c" % last).startswith(b"T05thread:%s;" % last)
        for thread in threads:
            gdb.ask(b"Hg" + thread)
            moved = int(gdb.ask(b"p40"), 16) != pcs[thread]
            assert moved == (thread == last), thread
        # A continue to a breakpoint, then an interrupted continue.
        assert gdb.ask(b"Z0,%x,4" % (SMP_LOOP + 4)) == b"OK"
        stop = gdb.ask(b"vCont;c")
        assert re.fullmatch(rb"T05thread:p01\.0[1-3];swbreak:;", stop) or re.fullmatch(
            rb"T05thread:p01\.0[1-3];", stop), stop
        assert gdb.ask(b"z0,%x,4" % (SMP_LOOP + 4)) == b"OK"
        gdb.send(b"c")
        time.sleep(0.1)
        gdb.send_raw(b"\x03")
        assert gdb.receive().startswith(b"T02thread:p01.0")
        assert gdb.ask(b"D;1") == b"OK"
    finally:
        gdb.close()
    _wait_for_counters(qmp, len(threads))
    if shutil.which(GDB):
        _gdb_session(elf, machine, qmp, threads)


def _gdb_session(elf, machine, qmp: RawClient, threads: List[bytes]) -> None:
    """gdb-multiarch itself: info threads, every thread's pc, a stepi of thread 2, a
    continue to a breakpoint, detach; the guest runs on."""
    commands = ["info threads"]
    for n in range(1, len(threads) + 1):
        commands += [f"thread {n}", "p/x $pc", "p/x $r5"]
    commands += ["thread 2", "p/x $pc", "stepi", "p/x $pc", f"break *{SMP_LOOP + 4:#x}",
                 "continue", "delete", "info threads", "detach"]
    out = run_gdb(elf, machine.port, commands)
    for n in range(1, len(threads) + 1):
        assert re.search(rf"^[ *] {n}    Thread 1\.{n} \(CPU#{n - 1} \[running\]\)", out,
                         re.MULTILINE), out
    for cpu in range(len(threads)):
        assert f"= {8 * cpu:#x}\n" in out, out
    assert re.search(r"Thread \d hit Breakpoint 1, ", out), out
    assert "Detaching from program" in out or "[Inferior 1 (process 1) detached]" in out, out
    assert "Remote connection closed" not in out and "Remote failure" not in out, out
    _wait_for_counters(qmp, len(threads))
