"""The remote protocol on the wire, against a real ppcd: framing, acks, packets, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from qmp.guests import SPIN, write_guest

from ppcd.gdbstub import power

from .conftest import RawGDB

SPIN_LOOP = 0x400004        # addi 4,4,1; stw 4,4096(0); b -8
COUNTER = 0x1000


@pytest.fixture
def stub(tmp_path, start_ppcd):
    machine = start_ppcd(write_guest(tmp_path / "spin.elf", SPIN))
    client = RawGDB(machine.port)
    client.machine = machine
    yield client
    client.close()


def test_acks_nacks_and_no_ack_mode(stub) -> None:
    assert stub.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+") == (
        b"PacketSize=4000;qXfer:features:read+;multiprocess+;swbreak+;hwbreak+;"
        b"vContSupported+;QStartNoAckMode+")
    assert stub.acks == b"+"
    stub.send_raw(b"$qC#00")                      # a bad checksum is refused
    stub.send_raw(b"-")                           # a nack repeats the last reply
    assert stub.receive().startswith(b"PacketSize=")
    assert stub.acks == b"+-"
    assert stub.ask(b"QStartNoAckMode") == b"OK"
    assert stub.ask(b"qC") == b"QCp01.01"
    assert stub.acks == b"+-+"                    # QStartNoAckMode acked, nothing after


def test_queries_threads_and_unknown_packets(stub) -> None:
    assert stub.ask(b"?") == b"T05thread:p01.01;"
    assert stub.ask(b"qfThreadInfo") == b"mp01.01"
    assert stub.ask(b"qsThreadInfo") == b"l"
    assert stub.ask(b"qAttached:1") == b"1"
    assert stub.ask(b"Hgp1.1") == b"OK"
    assert stub.ask(b"Hg0") == b"OK"
    assert stub.ask(b"Hc-1") == b"OK"
    assert stub.ask(b"Hgp1.2") == b"E22"
    assert stub.ask(b"Tp1.1") == b"OK"
    assert stub.ask(b"Tp1.2") == b"E22"
    assert stub.ask(b"qThreadExtraInfo,p1.1") == b"CPU#0 [running]".hex().encode()
    assert stub.ask(b"vCont?") == b"vCont;c;C;s;S;t"
    assert stub.ask(b"vMustReplyEmpty") == b""
    assert stub.ask(b"qXfer:threads:read::0,100") == b""
    assert stub.ask(b"Z9,400000,4") == b""
    for malformed in (b"m12", b"mzz,4", b"M400000,4:zz", b"p", b"Pzz=00", b"Hx1", b"vCont",
                      b"vCont;q", b"qRcmd,zz", b"Z0,400000"):
        assert stub.ask(malformed).startswith(b"E"), malformed


def test_target_description(stub) -> None:
    document = b""
    offset = 0
    while True:
        reply = stub.ask(b"qXfer:features:read:target.xml:%x,80" % offset)
        document += reply[1:]
        offset += len(reply) - 1
        if reply.startswith(b"l"):
            break
    root = ET.fromstring(document)
    assert root.find("architecture").text == "powerpc:common64"
    features = {f.get("name"): [r.get("name") for r in f] for f in root.findall("feature")}
    assert features["org.gnu.gdb.power.core"][:2] == ["r0", "r1"]
    assert features["org.gnu.gdb.power.core"][32:] == ["pc", "msr", "cr", "lr", "ctr", "xer"]
    assert features["org.gnu.gdb.power.fpu"][-1] == "fpscr"
    assert stub.ask(b"qXfer:features:read:other.xml:0,80") == b"E14"


def test_registers_and_memory(stub) -> None:
    registers = stub.ask(b"g")
    # Core and FPU, then the SPRs, 8 bytes each (test_gdb_sprs.py).
    assert len(registers) == 2 * (32 * 8 + 32 * 8 + 8 * 4 + 4 * 3 + len(power.SPR) * 8)
    assert registers[64 * 16:64 * 16 + 16] == b"0000000000400000"     # pc, big-endian
    assert stub.ask(b"p40") == b"0000000000400000"
    assert stub.ask(b"P4=00000000000000ab") == b"OK"
    assert stub.ask(b"p4") == b"00000000000000ab"
    assert stub.ask(b"p%x" % len(power.REGISTERS)) == b"E14"
    assert stub.ask(b"m400000,4") == b"38800000"                     # li r4,0
    assert stub.ask(b"m1ffffffc,8") == b"E14"                        # beyond 256 MiB
    assert stub.ask(b"mc000000000400000,4") == b"38800000"           # real mode: top bits
    assert stub.ask(b"M2000,3:0a0b0c") == b"OK"
    assert stub.ask(b"X2003,3:}]}\x03}\x0a") == b"OK"               # escaped } # *
    assert stub.ask(b"m2000,6") == b"0a0b0c7d232a"
    assert stub.ask(b"X2000,0:") == b"OK"


def test_breakpoint_step_and_code_written_by_the_debugger(stub) -> None:
    stub.ask(b"qSupported:swbreak+;hwbreak+")
    assert stub.ask(b"Z0,40000c,4") == b"OK"                         # b -8
    assert stub.ask(b"vCont;c") == b"T05thread:p01.01;swbreak:;"
    assert stub.ask(b"p40") == b"000000000040000c"
    assert stub.ask(b"z0,40000c,4") == b"OK"
    assert stub.ask(b"z0,40000c,4") == b"E22"
    assert stub.ask(b"Z1,400008,4") == b"OK"
    assert stub.ask(b"vCont;c:p1.1") == b"T05thread:p01.01;hwbreak:;"
    # The loop is translated by now; patch its addi into addi 4,4,5 and check it runs so.
    count = int(stub.ask(b"p4"), 16)
    assert stub.ask(b"M400004,4:38840005") == b"OK"
    assert stub.ask(b"vCont;s:p1.1") == b"T05thread:p01.01;"          # over the breakpoint
    assert stub.ask(b"vCont;c") == b"T05thread:p01.01;hwbreak:;"
    assert int(stub.ask(b"p4"), 16) == count + 5
    assert stub.ask(b"z1,400008,4") == b"OK"
    assert stub.ask(b"Z2,1000,4") == b"OK"                            # the stw's target
    assert stub.ask(b"vCont;c") == b"T05thread:p01.01;watch:1000;"
    assert stub.ask(b"p40") == b"0000000000400008"                    # the stw, not done
    assert stub.ask(b"vCont;t") == b"T00thread:p01.01;"
    assert stub.ask(b"vCont;s") == b"T05thread:p01.01;"               # the store, once
    assert stub.ask(b"m1000,4") == stub.ask(b"p4")[-8:]
    assert stub.ask(b"z2,1000,4") == b"OK"


def test_interrupt_detach_and_kill(stub) -> None:
    stub.send(b"vCont;c")
    stub.send_raw(b"\x03")
    assert stub.receive() == b"T02thread:p01.01;"
    assert stub.ask(b"D;2") == b"E22"
    assert stub.ask(b"D;1") == b"OK"
    stub.close()
    again = RawGDB(stub.machine.port)
    assert again.ask(b"?") == b"T05thread:p01.01;"
    assert again.ask(b"vKill;1") == b"OK"
    assert again.receive() == b"W00"
    assert stub.machine.process.wait(timeout=20) == 0
