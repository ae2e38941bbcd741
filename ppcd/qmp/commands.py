"""The QMP commands ppcd answers: each is one handler with its argument schema next to it.

Replies follow QEMU 7.2's pseries machine (qapi/*.json); ppcd reports QEMU version 7.2.0 so
clients that check versions treat it as the QEMU whose behaviour it copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List

import trio

from .. import __version__
from ..cpu.compat import mode_name
from ..machine.pseries import CPU_MODELS, MAX_CPUS
from ..migration.manager import CAPABILITIES as MIGRATION_CAPABILITIES
from ..migration.transport import TransportError
from .events import EVENTS
from .hmp import run_hmp
from .schema import BOOL, INT, STR, Member, QMPError, Schema, enum, introspection, struct

if TYPE_CHECKING:
    from .server import Session

QEMU_VERSION = {"micro": 0, "minor": 2, "major": 7}
CAPABILITIES = ("oob",)
QMP_CAPABILITY = enum("QMPCapability", *CAPABILITIES)
CHUNK = 1 << 20     # memsave writes RAM in pieces of this size


@dataclass(frozen=True)
class Command:
    name: str
    schema: Schema
    handler: Callable[..., Awaitable[Any]]
    allow_oob: bool


COMMANDS: Dict[str, Command] = {}


def command(name: str, *members: Member, allow_oob: bool = False):
    """Register a handler, called as handler(session, **checked_arguments)."""
    def register(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        COMMANDS[name] = Command(name, Schema(members), handler, allow_oob)
        return handler
    return register


def version_info() -> Dict[str, Any]:
    return {"qemu": dict(QEMU_VERSION), "package": f"ppcd {__version__}"}


def check_cpu_index(session: "Session", cpu_index: int) -> int:
    """A cpu-index argument as QEMU's monitor_set_cpu takes it (a C int) naming a vCPU."""
    index = (cpu_index + (1 << 31)) % (1 << 32) - (1 << 31)
    if not 0 <= index < session.vm.cpu_count:
        raise QMPError("Parameter 'cpu-index' expects a CPU number")
    return index


# --- negotiation and introspection ----------------------------------------------------------
@command("qmp_capabilities", Member("enable", QMP_CAPABILITY, optional=True, array=True))
async def qmp_capabilities(session: "Session", enable: List[str] = ()) -> Dict[str, Any]:
    session.negotiated = True
    session.oob_enabled = "oob" in enable
    return {}


@command("query-version", allow_oob=True)
async def query_version(session: "Session") -> Dict[str, Any]:
    return version_info()


@command("query-commands", allow_oob=True)
async def query_commands(session: "Session") -> List[Dict[str, str]]:
    return [{"name": name} for name in COMMANDS]


@command("query-qmp-schema")
async def query_qmp_schema(session: "Session") -> List[Dict[str, Any]]:
    return introspection([(c.name, c.schema, c.allow_oob) for c in COMMANDS.values()],
                         list(EVENTS.items()))


# --- the machine ------------------------------------------------------------------------------
@command("query-status", allow_oob=True)
async def query_status(session: "Session") -> Dict[str, Any]:
    vm = session.vm
    return {"status": vm.state, "singlestep": False, "running": vm.running}


@command("query-name", allow_oob=True)
async def query_name(session: "Session") -> Dict[str, Any]:
    name = session.vm.options.name
    return {} if name is None else {"name": name}


@command("query-target", allow_oob=True)
async def query_target(session: "Session") -> Dict[str, Any]:
    return {"arch": "ppc64"}


@command("query-cpus-fast")
async def query_cpus_fast(session: "Session") -> List[Dict[str, Any]]:
    # QEMU's pseries with -smp N: vCPU i is thread 0 of core i (a spapr-cpu-core, the
    # machine's (i+1)th unattached device). Every vCPU runs in the worker process, so its pid
    # is each vCPU's thread-id.
    pid = session.vm.worker_pid
    return [{"thread-id": pid, "props": {"core-id": index, "node-id": 0},
             "qom-path": f"/machine/unattached/device[{index + 1}]/thread[0]",
             "cpu-index": index, "target": "ppc64"} for index in range(session.vm.cpu_count)]


@command("x-query-cpu-compat")
async def x_query_cpu_compat(session: "Session") -> List[Dict[str, Any]]:
    """Each vCPU's compatibility mode: the logical PVR (0: raw), max-cpu-compat's, the PCR."""
    vm = session.vm
    compat = []
    for index in range(vm.cpu_count):
        registers = await vm.registers(index)
        compat_pvr = int(registers["compat_pvr"])
        compat.append({"cpu-index": index, "compat-pvr": compat_pvr,
                       "mode": mode_name(compat_pvr) or "raw",
                       "max-cpu-compat": vm.migration.max_compat_pvr,
                       "pcr": int(registers["spr"]["338"])})
    return compat


# --- the virtual clock's instruction count (QEMU's qapi/replay.json) ---------------------------
# ppcd's clock always counts instructions, as QEMU's under -icount record/replay: the count
# (since reset, migrated with the guest) is deterministic, so a break at it is too.
@command("query-replay")
async def query_replay(session: "Session") -> Dict[str, Any]:
    # The machine's time: the furthest vCPU clock (an idle vCPU's stands still), which is
    # what replay-break counts.
    return {"mode": "none", "icount": await session.vm.clock()}


@command("replay-break", Member("icount", INT))
async def replay_break(session: "Session", icount: int) -> Dict[str, Any]:
    await session.vm.replay_break(icount)
    return {}


@command("replay-delete-break")
async def replay_delete_break(session: "Session") -> Dict[str, Any]:
    await session.vm.replay_break(None)
    return {}


@command("query-cpu-definitions")
async def query_cpu_definitions(session: "Session") -> List[Dict[str, Any]]:
    return [{"name": name, "typename": f"{name}-powerpc64-cpu", "static": False,
             "deprecated": False} for name in CPU_MODELS]


@command("query-machines")
async def query_machines(session: "Session") -> List[Dict[str, Any]]:
    # cpu-max: the most vCPUs ppcd runs (--smp); QEMU's pseries says 4096.
    return [{"name": "pseries-7.2", "alias": "pseries", "is-default": True, "cpu-max": MAX_CPUS,
             "hotpluggable-cpus": False, "numa-mem-supported": False, "deprecated": False,
             "default-cpu-type": "power9-powerpc64-cpu", "default-ram-id": "ppc_spapr.ram"}]


@command("stop", allow_oob=True)
async def stop(session: "Session") -> Dict[str, Any]:
    await session.vm.stop()
    return {}


@command("cont", allow_oob=True)
async def cont(session: "Session") -> Dict[str, Any]:
    await session.vm.cont()
    return {}


@command("system_reset")
async def system_reset(session: "Session") -> Dict[str, Any]:
    await session.vm.system_reset()
    return {}


@command("system_powerdown")
async def system_powerdown(session: "Session") -> Dict[str, Any]:
    session.vm.system_powerdown()
    return {}


@command("quit")
async def quit(session: "Session") -> Dict[str, Any]:
    # The reply goes out first; the SHUTDOWN event follows, as from QEMU.
    session.vm.finish(0, quit_reason="host-qmp-quit")
    return {}


# --- the console (ppcd/chardev) ---------------------------------------------------------------
@command("query-chardev")
async def query_chardev(session: "Session") -> List[Dict[str, Any]]:
    # QEMU's ChardevInfo for the pseries vty's backend, which QEMU labels serial0.
    return [{"label": "serial0", "filename": session.vm.console.backend.filename,
             "frontend-open": True}]


@command("x-query-console", allow_oob=True)
async def x_query_console(session: "Session") -> Dict[str, Any]:
    """ppcd's own: the backend, its QEMU-style filename and the bytes carried and dropped."""
    return session.vm.console.info()


# --- memory --------------------------------------------------------------------------------
async def _save(session: "Session", address: int, size: int, filename: str,
                physical: bool) -> Dict[str, Any]:
    vm = session.vm
    base = address if physical else vm.real_address(address)
    if size < 0 or base < 0 or base + size > vm.ram.size:
        raise QMPError(f"Invalid addr {address & (1 << 64) - 1:#018x}/size {size} specified")
    try:
        out = await trio.open_file(filename, "wb")
    except OSError as e:
        raise QMPError(f"Could not open '{filename}': {e.strerror}") from None
    async with out:
        try:
            for offset in range(0, size, CHUNK):
                await out.write(vm.read_physical(base + offset, min(CHUNK, size - offset)))
        except OSError as e:
            raise QMPError(f"writing memory to '{filename}' failed: {e.strerror}") from None
    return {}


@command("memsave", Member("val", INT), Member("size", INT), Member("filename", STR),
         Member("cpu-index", INT, optional=True))
async def memsave(session: "Session", val: int, size: int, filename: str,
                  cpu_index: int = 0) -> Dict[str, Any]:
    check_cpu_index(session, cpu_index)     # ppcd's MMU is the same for every vCPU
    return await _save(session, val, size, filename, physical=False)


@command("pmemsave", Member("val", INT), Member("size", INT), Member("filename", STR))
async def pmemsave(session: "Session", val: int, size: int, filename: str) -> Dict[str, Any]:
    return await _save(session, val, size, filename, physical=True)


@command("human-monitor-command", Member("command-line", STR),
         Member("cpu-index", INT, optional=True))
async def human_monitor_command(session: "Session", command_line: str,
                                cpu_index: int = 0) -> str:
    # QEMU runs each command in a fresh monitor whose current vCPU is cpu-index (or 0).
    return await run_hmp(session, command_line, check_cpu_index(session, cpu_index))


# --- migration (ppcd/migration/manager.py; qapi/migration.json) ----------------------------
MIGRATION_CAPABILITY = enum("MigrationCapability", *MIGRATION_CAPABILITIES)
_CAPABILITY_STATUS = struct("MigrationCapabilityStatus",
                            Member("capability", MIGRATION_CAPABILITY), Member("state", BOOL))
_PARAMETERS = ("downtime-limit", "max-bandwidth", "avail-switchover-bandwidth",
               "cpu-throttle-initial", "cpu-throttle-increment")


@command("migrate", Member("uri", STR), Member("blk", BOOL, optional=True),
         Member("inc", BOOL, optional=True), Member("detach", BOOL, optional=True),
         Member("resume", BOOL, optional=True))
async def migrate(session: "Session", uri: str, blk: bool = False, inc: bool = False,
                  detach: bool = True, resume: bool = False) -> Dict[str, Any]:
    if blk or inc or resume:
        raise QMPError("ppcd migrates no block devices and cannot resume a migration")
    await session.vm.migration.migrate(uri)
    return {}


@command("migrate_cancel")
async def migrate_cancel(session: "Session") -> Dict[str, Any]:
    session.vm.migration.cancel()
    return {}


@command("query-migrate")
async def query_migrate(session: "Session") -> Dict[str, Any]:
    return session.vm.migration.info()


@command("migrate-set-capabilities", Member("capabilities", _CAPABILITY_STATUS, array=True))
async def migrate_set_capabilities(session: "Session",
                                   capabilities: List[Dict[str, Any]]) -> Dict[str, Any]:
    session.vm.migration.set_capabilities({c["capability"]: c["state"] for c in capabilities})
    return {}


@command("query-migrate-capabilities")
async def query_migrate_capabilities(session: "Session") -> List[Dict[str, Any]]:
    return [{"capability": name, "state": state}
            for name, state in session.vm.migration.capabilities.items()]


@command("migrate-set-parameters", *(Member(name, INT, optional=True) for name in _PARAMETERS))
async def migrate_set_parameters(session: "Session", **parameters: int) -> Dict[str, Any]:
    session.vm.migration.set_parameters(**parameters)
    return {}


@command("query-migrate-parameters")
async def query_migrate_parameters(session: "Session") -> Dict[str, Any]:
    return session.vm.migration.parameters.to_json()


@command("migrate-incoming", Member("uri", STR), Member("exit-on-error", BOOL, optional=True))
async def migrate_incoming(session: "Session", uri: str,
                           exit_on_error: bool = True) -> Dict[str, Any]:
    migration = session.vm.migration
    if not migration.incoming_deferred:
        raise QMPError("For use with '-incoming defer'")
    if migration.incoming_started:
        raise QMPError("The incoming migration has already been started")
    try:
        listener = await migration.prepare_incoming(uri)
    except TransportError as e:
        raise QMPError(str(e)) from None
    migration.start_incoming(listener, exit_on_error)
    return {}
