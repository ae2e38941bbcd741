"""The machine's state as plain values: what the worker hands over for "save-state" and takes
back for "load-state" (ppcd/control.py): {"cpus": [one dict per vCPU, vCPU 0 first],
"rtc_offset": seconds, "console_pending": hex}.

The vCPU worker imports this module, so it stays Python 3.9 and standard-library only (PyPy);
the VMState descriptions (ppcd/migration/machine.py) turn these dicts into stream sections in
the control process. Every value is an int, a bool, a list of ints or a hex string, so the
dict crosses the JSON control channel unchanged.
"""

from __future__ import annotations

from typing import Any, Dict

from ppcd.cpu.compat import set_compat
from ppcd.cpu.semantics.supervisor import TEXASR, TFHAR, TFIAR
from ppcd.cpu.spr import SPRS
from ppcd.cpu.state import CPUState, GuestMemory

# Plain CPUState attributes carried as they are (the rest is composed below).
CPU_ATTRIBUTES = ("pc", "msr", "cr", "lr", "ctr", "tar", "fpscr", "cfar", "icount", "tb_offset",
                  "dec_written", "dec_written_at", "dec_bits", "pending_dec", "halted",
                  "lpcr_ile", "dabr", "dabrx", "pvr", "pir", "reserve_len", "compat_pvr")
# A reservation or decrementer expiry that is absent travels as -1.
NONE = -1
# SPRs the CPU stores in cpu.spr although the SPR table (ppcd/cpu/spr.py) lists no access to
# them: tbegin. records its failure in the transactional-memory SPRs. No guest can read them
# yet, but they travel like every other cpu.spr key (QEMU's env.spr array carries them too),
# so a load never drops a value the vCPU holds.
UNLISTED_SPRS = (TFHAR, TFIAR, TEXASR)


def _backing_sprs() -> Dict[int, int]:
    """{cpu.spr key: reset value} for every SPR whose value lives in cpu.spr.

    Found by writing each SPR of the table once on a scratch vCPU: the keys that appear are the
    storage (aliases such as UMMCR0 or PPR32 land on their privileged register's key), and the
    reset value is what a fresh vCPU reads there (MMCR0 resets with FC set).
    """
    scratch = CPUState(GuestMemory(b"", 0, b""), pvr=0)
    keys = set(UNLISTED_SPRS)
    for spr in SPRS.values():
        if spr.write is not None:
            before = set(scratch.spr)
            spr.write(scratch, 1)
            keys |= set(scratch.spr) - before
    fresh = CPUState(GuestMemory(b"", 0, b""), pvr=0)
    return {key: SPRS[key].read(fresh) if key in SPRS else 0 for key in sorted(keys)}


BACKING_SPRS = _backing_sprs()


def capture_cpu(cpu: CPUState) -> Dict[str, Any]:
    state: Dict[str, Any] = {name: getattr(cpu, name) for name in CPU_ATTRIBUTES}
    state["xer"] = cpu.xer
    state["pcr"] = cpu.pcr      # travels in the SPR array, as QEMU's; restored from compat_pvr
    state["gpr"] = list(cpu.gpr)
    state["fpr"] = list(cpu.fpr)
    state["spr"] = {str(key): cpu.spr.get(key, reset) for key, reset in BACKING_SPRS.items()}
    state["reserve"] = NONE if cpu.reserve is None else cpu.reserve
    if cpu.reserve is None:
        state["reserve_len"] = 0    # meaningless without a reservation; travels only with one
    state["dec_expiry"] = NONE if cpu.dec_expiry is None else cpu.dec_expiry
    state["slb_esid"] = list(cpu.slb_esid)     # the SLB as slbmte wrote it (cpu/slb)
    state["slb_vsid"] = list(cpu.slb_vsid)
    return state


def restore_cpu(cpu: CPUState, state: Dict[str, Any]) -> None:
    for name in CPU_ATTRIBUTES:
        setattr(cpu, name, state[name])
    cpu.xer = state["xer"]
    cpu.gpr[:] = state["gpr"]
    cpu.fpr[:] = state["fpr"]
    cpu.spr = {int(key): value for key, value in state["spr"].items()}
    cpu.reserve = None if state["reserve"] == NONE else state["reserve"]
    cpu.dec_expiry = None if state["dec_expiry"] == NONE else state["dec_expiry"]
    cpu.slb_esid[:] = state["slb_esid"]
    cpu.slb_vsid[:] = state["slb_vsid"]


def capture(machine) -> Dict[str, Any]:
    """All state of a stopped pseries Machine (ppcd/machine/pseries.py) except RAM."""
    cpus = [capture_cpu(cpu) for cpu in machine.cpus]
    # The scheduler (ppcd/machine/scheduler.py) drops the reservation of a vCPU that resumes
    # after another vCPU ran: every vCPU but the one whose turn it was has lost its own before
    # it executes again, so it travels as lost. The one left is how restore() finds that vCPU.
    current = machine.scheduler.current
    for index, state in enumerate(cpus):
        if index != current:
            state["reserve"], state["reserve_len"] = NONE, 0
    return {"cpus": cpus,
            "rtc_offset": machine.rtc_offset,
            "console_pending": machine.console.pending.hex()}


def restore(machine, state: Dict[str, Any]) -> None:
    cpus = state["cpus"]
    if len(cpus) != len(machine.cpus):
        # The control process checks this first (the stream's cpu sections); nothing changed.
        raise ValueError(f"the state holds {len(cpus)} vCPUs and this machine has "
                         f"{len(machine.cpus)}")
    for cpu, cpu_state in zip(machine.cpus, cpus):
        restore_cpu(cpu, cpu_state)
        # The PCR and the instruction limit follow the compat mode, with this machine's rules;
        # a stream without cpu/compat (None) leaves the mode max-cpu-compat gives (QEMU's).
        compat_pvr = cpu_state["compat_pvr"]
        set_compat(cpu, machine.max_compat_pvr if compat_pvr is None else compat_pvr,
                   machine.model.isa, machine.compat_enforce)
    # The vCPU whose turn it was: the one that kept its reservation (see capture); without
    # one, which vCPU it was changes nothing.
    machine.scheduler.current = next(
        (index for index, cpu in enumerate(machine.cpus) if cpu.reserve is not None), 0)
    machine.rtc_offset = float(state["rtc_offset"])
    machine.console.pending = bytes.fromhex(state["console_pending"])
