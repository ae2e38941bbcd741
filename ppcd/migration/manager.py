"""Both ends of a live migration, driven over QMP as QEMU's migration/migration.c is.

Source: setup (connect, stream header, RAM setup) -> active (pre-copy passes while the guest
runs) -> the vCPU stops (finish-migrate) for the last pass and the device state -> completed,
and the machine stays in postmigrate. After a failure or a cancel the guest keeps running.

Destination: inmigrate until the whole stream is loaded; the vCPU gets its state only then, so
a half-loaded guest never runs. The loaded guest runs if it ran on the source (and no -S).
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

import trio

from .. import __version__, control
from ..machine.pseries import CPU_MODELS, max_compat_pvr
from ..machine.ram import PAGE_SIZE
from ..qmp.schema import QMPError
from . import handshake as H
from . import stream as S
from .machine import (
    MachineType,
    Snapshot,
    check_cpu,
    device_sections,
    find_section,
    missing_sections,
    section_key,
)
from .ram import RAM_SECTION, RAM_VERSION, RAMLoader, RAMSaver
from .transport import URI, Channel, Listener, TransportError, connect, listen, parse_uri
from .vmstate import Cursor, Truncated, VMStateError, load, save

if TYPE_CHECKING:
    from ..daemon import VirtualMachine

# qapi/migration.json MigrationStatus, the part of QEMU's state machine ppcd goes through.
NONE, SETUP, ACTIVE, COMPLETED, FAILED = "none", "setup", "active", "completed", "failed"
CANCELLING, CANCELLED = "cancelling", "cancelled"
CAPABILITIES = ("events", "auto-converge", "return-path")
RAM_SECTION_ID = 0
BANDWIDTH_WINDOW = 0.1          # QEMU's BUFFER_DELAY: the rate limit is kept per 100 ms
MAX_THROTTLE = 99
# MIG_RP_MSG_SHUT on the return path: be16 type 1, be16 length 4, be32 0 (ok) or 1 (failed).
SHUT_OK = b"\x00\x01\x00\x04\x00\x00\x00\x00"
SHUT_FAILED = b"\x00\x01\x00\x04\x00\x00\x00\x01"


@dataclass
class Parameters:
    """qapi/migration.json MigrationParameters that ppcd uses, with QEMU 7.2's defaults."""

    downtime_limit: int = 300                   # ms
    max_bandwidth: int = 128 << 20              # bytes/s
    avail_switchover_bandwidth: int = 0         # bytes/s; 0: use the measured bandwidth
    cpu_throttle_initial: int = 20              # percent
    cpu_throttle_increment: int = 10            # percent

    def to_json(self) -> Dict[str, int]:
        return {name.replace("_", "-"): value for name, value in vars(self).items()}


@dataclass
class Progress:
    status: str = NONE
    start: float = 0.0
    setup_time: float = 0.0
    total_time: Optional[float] = None
    downtime: Optional[float] = None
    expected_downtime: float = 0.0
    bandwidth: float = 0.0                      # bytes/s of the last pass
    dirty_rate: float = 0.0                     # pages/s dirtied during the last pass
    throttle: int = 0
    error: Optional[str] = None
    ram: Optional[RAMSaver] = None
    total_ram: int = 0
    events: List[str] = field(default_factory=list)
    incoming: bool = False                      # the destination's side
    precopy_end: Optional[int] = None           # bytes sent when the vCPU stopped
    # The destination's listening addresses while it waits and loads (QAPI SocketAddress).
    socket_address: Optional[List[Dict[str, Any]]] = None


class _RunStates:
    """The daemon's run-state names, looked up when used: the daemon imports this module."""

    def __getattr__(self, name: str) -> str:
        from .. import daemon
        return getattr(daemon, name)


vm_states = _RunStates()


class MigrationManager:
    def __init__(self, vm: "VirtualMachine", machine: MachineType, allow_exec: bool) -> None:
        self.vm = vm
        self.machine = machine
        self.allow_exec = allow_exec
        self.parameters = Parameters()
        self.capabilities = {name: False for name in CAPABILITIES}
        self.progress = Progress()
        self.incoming_deferred = False
        self.incoming_started = False
        self._cancel: Optional[trio.CancelScope] = None
        self._stopped_from: Optional[str] = None    # the run state the last pass stopped
        boot = vm.options.boot
        # The mode this machine restores when a stream lacks cpu/compat, and the CPU's rule
        # for sending it (None: the machine type's).
        self.max_compat_pvr = max_compat_pvr(boot.cpu, boot.max_cpu_compat)
        self.compat_rule = boot.compat_subsection
        # One "cpu" section per vCPU (instance = its index), as QEMU's streams have.
        self.sections = device_sections(vm.cpu_count)

    def _assumed_peer(self) -> H.Peer:
        """A destination that said nothing: started like this one (a file, an exec stream)."""
        return H.Peer(__version__, self.max_compat_pvr)

    # --- status ----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.progress.status in (SETUP, ACTIVE, CANCELLING)

    def _set_status(self, status: str) -> None:
        self.progress.status = status
        if self.capabilities["events"]:
            self.vm.emit("MIGRATION", {"status": status})

    def info(self) -> Dict[str, Any]:
        """query-migrate's MigrationInfo."""
        p = self.progress
        if p.incoming:
            # QEMU's fill_destination_migration_info: no status until the source connects,
            # then the status only, and the listening addresses until the load ends (ppcd
            # adds why a load failed).
            info: Dict[str, Any] = {} if p.status == NONE else {"status": p.status}
            if p.status == FAILED and p.error is not None:
                info["error-desc"] = p.error
            if p.socket_address is not None:
                info["socket-address"] = p.socket_address
            return info
        # QEMU's fill_source_migration_info: the status alone in setup, after a cancel and
        # after a failure (with why); the times and the RAM counters while it runs and once
        # it completed.
        if p.status == NONE:
            return {}
        info = {"status": p.status}
        if p.status == FAILED and p.error is not None:
            info["error-desc"] = p.error
        if p.status not in (ACTIVE, CANCELLING, COMPLETED):
            return info
        now = time.monotonic()
        # populate_time_info: the whole time and the downtime once completed, the time so far
        # and the expected downtime before.
        info["setup-time"] = int(p.setup_time * 1000)
        if p.status == COMPLETED:
            total = p.total_time if p.total_time is not None else now - p.start
            info["total-time"] = int(total * 1000)
            if p.downtime is not None:
                info["downtime"] = int(p.downtime * 1000)
        else:
            info["total-time"] = int((now - p.start) * 1000)
            info["expected-downtime"] = int(p.expected_downtime * 1000)
        if p.ram is not None:
            info["ram"] = self._ram_info(now)
        if p.throttle:
            info["cpu-throttle-percentage"] = p.throttle
        return info

    def _ram_info(self, now: float) -> Dict[str, Any]:
        p = self.progress
        assert p.ram is not None
        stats = p.ram.stats
        elapsed = max((p.total_time if p.total_time is not None else now - p.start), 1e-6)
        completed = p.status == COMPLETED
        remaining = 0 if completed else p.ram.remaining_pages() * PAGE_SIZE
        # As QEMU counts them: what went out before the vCPU stopped is pre-copy (so far, while
        # it runs), the rest downtime.
        precopy = stats.transferred if p.precopy_end is None else p.precopy_end
        return {
            "transferred": stats.transferred, "remaining": remaining, "total": p.total_ram,
            "duplicate": stats.duplicate, "skipped": 0, "normal": stats.normal,
            "normal-bytes": stats.normal * PAGE_SIZE,
            # QEMU's populate_ram_info leaves the rate out (0) once completed.
            "dirty-pages-rate": 0 if completed else int(p.dirty_rate),
            "mbps": p.bandwidth * 8 / 1e6,
            "dirty-sync-count": stats.dirty_sync_count, "postcopy-requests": 0,
            "page-size": PAGE_SIZE, "multifd-bytes": 0,
            "pages-per-second": int((stats.duplicate + stats.normal) / elapsed),
            "precopy-bytes": precopy, "downtime-bytes": stats.transferred - precopy,
            "postcopy-bytes": 0, "dirty-sync-missed-zero-copy": 0,
        }

    # --- configuration ---------------------------------------------------------------------
    def set_capabilities(self, wanted: Dict[str, bool]) -> None:
        if self.active:
            raise QMPError("There's a migration process in progress")
        self.capabilities.update(wanted)

    def set_parameters(self, **values: int) -> None:
        limits = {"downtime_limit": (0, 2_000_000, "milliseconds"),
                  "cpu_throttle_initial": (1, 99, ""), "cpu_throttle_increment": (1, 99, ""),
                  "max_bandwidth": (0, (1 << 63) - 1, "bytes/second"),
                  "avail_switchover_bandwidth": (0, (1 << 63) - 1, "bytes/second")}
        for name, value in values.items():
            low, high, unit = limits[name]
            if not low <= value <= high:
                raise QMPError(f"Parameter '{name}' expects an integer in the range of {low} "
                               f"to {high}{' ' + unit if unit else ''}")
        for name, value in values.items():
            setattr(self.parameters, name, value)

    # --- source ----------------------------------------------------------------------------
    async def migrate(self, uri_text: str) -> None:
        """QMP migrate: checks, then the migration runs in the background."""
        if self.active:
            raise QMPError("There's a migration process in progress")
        if self.vm.state == vm_states.INMIGRATE:
            raise QMPError("Guest is waiting for an incoming migration")
        if self.vm.worker is None or not self.vm.worker.alive:
            raise QMPError("the vCPU worker is not running")
        try:
            uri = parse_uri(uri_text, self.allow_exec)
        except TransportError:
            raise QMPError("Parameter 'uri' expects a valid migration protocol") from None
        # ppcd keeps every vCPU in vCPU 0's mode (CAS and set_compat switch them all), so one
        # look answers for each here; the last check, with the stopped guest's state, takes
        # every vCPU's own.
        compat_pvr = int((await self.vm.registers())["compat_pvr"])
        # QEMU's migrate_init: the expected downtime is the limit until a pass measured it.
        self.progress = Progress(start=time.monotonic(), total_ram=self.vm.ram.size,
                                 expected_downtime=self.parameters.downtime_limit / 1000)
        self._set_status(SETUP)
        channel: Optional[Channel] = None
        peer = self._assumed_peer()
        self._cancel = trio.CancelScope()
        with self._cancel:
            if uri.scheme in ("tcp", "unix"):
                # Connect and hear the destination out now: a refusal is this command's error.
                try:
                    channel = await connect(uri)
                except OSError as e:
                    self._fail(f"Failed to connect to '{uri}': {e.strerror or e}")
                    return
                try:
                    peer = await self._handshake(channel)
                except (H.HandshakeError, OSError, trio.BrokenResourceError) as e:
                    await channel.aclose()
                    self._fail(str(e))
                    return
        if self._cancel.cancelled_caught:      # migrate_cancel while the peer was awaited
            if channel is not None:
                await channel.aclose()
            self._set_status(CANCELLED)
            return
        cpus = {("cpu", index): {"compat_pvr": compat_pvr}
                for index in range(self.vm.cpu_count)}
        refusal = H.plan((), cpus, self._properties(peer), self.machine, peer).refusal
        if refusal is not None:
            if channel is not None:
                if peer.handshake:
                    await _try_send(channel, H.plan_message(refusal))
                await channel.aclose()
            self._fail(refusal)
            raise QMPError(refusal)
        self._cancel = trio.CancelScope()
        assert self.vm._nursery is not None
        self.vm._nursery.start_soon(self._outgoing, uri, self._cancel, channel, peer)

    def _fail(self, message: str) -> None:
        self.progress.error = message
        self.progress.total_time = time.monotonic() - self.progress.start
        self._set_status(FAILED)

    def _properties(self, peer: H.Peer) -> Dict[str, Any]:
        return H.runtime_properties(self.machine, self.compat_rule, peer)

    async def _handshake(self, channel: Channel) -> H.Peer:
        """The destination's greeting, or a peer without the handshake when none comes."""
        body = await H.receive_greeting(channel.receive_some, H.GREETING_TIMEOUT)
        if body is None:
            # ppcd 0.1 and older: no compatibility modes, no greeting.
            return H.Peer(None, 0)
        return H.Peer.from_greeting(body)

    def cancel(self) -> None:
        if self.progress.status in (SETUP, ACTIVE) and self._cancel is not None:
            self._set_status(CANCELLING)
            self._cancel.cancel()

    async def _outgoing(self, uri: URI, scope: trio.CancelScope, channel: Optional[Channel],
                        peer: H.Peer) -> None:
        p = self.progress
        self._stopped_from = None
        final = FAILED
        try:
            with scope:
                if channel is None:
                    try:
                        channel = await connect(uri)
                    except OSError as e:
                        raise MigrationFailed(
                            f"Failed to connect to '{uri}': {e.strerror or e}") from None
                await self._precopy(channel, peer)
            if p.status == CANCELLING:
                final = CANCELLED
            else:
                p.total_time = time.monotonic() - p.start
                await self._set_throttle(0)
                self.vm.state = vm_states.POSTMIGRATE
                self._stopped_from = None
                final = COMPLETED
        except (MigrationFailed, OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                QMPError) as e:
            p.error = str(e) if isinstance(e, (MigrationFailed, QMPError)) else \
                _write_error(uri, e)
        finally:
            self._cancel = None     # too late for migrate_cancel
            with trio.CancelScope(shield=True):
                if channel is not None:
                    await channel.aclose()
                if final != COMPLETED:
                    await self._set_throttle(0)
                    # Stopped for the last pass (a cancel or a failure may come after the
                    # vCPU stopped): the guest runs again before the status says so.
                    await self._restart(self._stopped_from)
            if p.total_time is None:
                p.total_time = time.monotonic() - p.start
            self._set_status(final)

    async def _set_throttle(self, percent: int) -> None:
        if self.progress.throttle != percent and self.vm.worker is not None:
            try:
                await self.vm.worker.request(control.OP_THROTTLE, percent=percent)
            except Exception:   # noqa: BLE001 - a gone worker has no throttle to lift
                pass
        self.progress.throttle = percent

    async def _restart(self, stopped_from: Optional[str]) -> None:
        """After a failure or cancel, the guest carries on as before (QEMU: vm_start)."""
        vm = self.vm
        if stopped_from is None or vm.state != vm_states.FINISH_MIGRATE:
            return
        if stopped_from == vm_states.RUNNING:
            await self._resume(vm_states.FINISH_MIGRATE)
        else:
            vm.state = stopped_from

    async def _resume(self, current: str, autostart: bool = False) -> bool:
        """Run the vCPU from run state `current` straight to running, as QEMU's vm_start
        does: no paused in between for query-status to see. False if it left `current` (or,
        with `autostart`, if -S or a QMP stop while inmigrate asked it to stay paused)."""
        vm = self.vm
        with trio.CancelScope(shield=True):
            async with vm._lock:
                if vm.state != current or (autostart and vm.options.start_paused):
                    return False
                try:
                    await vm._ask(control.OP_CONT)
                except QMPError:
                    return False
                vm.state = vm_states.RUNNING
                vm.emit("RESUME")
                return True

    async def _precopy(self, channel: Channel, peer: H.Peer) -> None:
        """Send the stream; the run state the guest was stopped from goes to _stopped_from."""
        p = self.progress
        vm = self.vm
        saver = RAMSaver(vm.ram)
        p.ram = saver
        sender = _RateLimited(channel, saver, self.parameters)
        props = self._properties(peer)
        footers = props.get("migration.send-section-footer", True)
        if peer.handshake:
            await channel.send_all(H.plan_message(None))    # not stream bytes: not counted

        async def ram_section(kind: int, chunks) -> None:
            saver.begin_section()
            await sender.send(S.section_part(kind, RAM_SECTION_ID))
            for chunk in chunks:
                await sender.send(chunk)
            await sender.send(saver.end_of_section()
                              + (S.footer(RAM_SECTION_ID) if footers else b""))

        head = S.header()
        if props.get("migration.send-configuration", True):
            head += S.configuration(self.machine.name)
        head += S.section_start(S.QEMU_VM_SECTION_START, RAM_SECTION_ID, RAM_SECTION, 0,
                                RAM_VERSION) + saver.setup()
        await sender.send(head + (S.footer(RAM_SECTION_ID) if footers else b""))
        # QEMU's ram_save_setup syncs the dirty bitmap: pass 1 starts (MIGRATION_PASS) while
        # the status still says setup.
        passes = self._sync(saver.first_pass())
        p.setup_time = time.monotonic() - p.start
        self._set_status(ACTIVE)

        high_dirty_rate = 0
        while True:
            started, sent_before = time.monotonic(), sender.sent
            await ram_section(S.QEMU_VM_SECTION_PART, passes)
            elapsed = max(time.monotonic() - started, 1e-6)
            sent = sender.sent - sent_before
            p.bandwidth = sent / elapsed
            remaining_pages = saver.remaining_pages()
            remaining = remaining_pages * PAGE_SIZE
            p.dirty_rate = remaining_pages / elapsed
            switchover = self.parameters.avail_switchover_bandwidth or p.bandwidth
            p.expected_downtime = remaining / max(switchover, 1.0)
            # As QEMU's ram_save_pending, a sync (the next pass) before the choice: when the
            # rest fits, what it found goes out after the vCPU stopped, then a last sync's.
            passes = self._sync(saver.dirty_pass())
            if remaining <= switchover * self.parameters.downtime_limit / 1000:
                break
            # QEMU's auto-converge: the guest dirtied more than half of what the link carried,
            # twice running: throttle the vCPU, harder each time it happens again.
            if self.capabilities["auto-converge"] and remaining > sent / 2:
                high_dirty_rate += 1
                if high_dirty_rate >= 2:
                    high_dirty_rate = 0
                    step = self.parameters.cpu_throttle_increment if p.throttle else \
                        self.parameters.cpu_throttle_initial
                    await self._set_throttle(min(p.throttle + step, MAX_THROTTLE))

        # The last pass, with the vCPU stopped: the downtime the guest sees.
        stopped_from = self._stopped_from = await self._stop_vm()
        downtime_start = time.monotonic()
        sent_before = p.precopy_end = sender.sent
        sender.unlimited = True
        state: Snapshot = await vm._ask(control.OP_SAVE_STATE)
        state["runstate"] = stopped_from
        exported = {section_key(section): section.export(state) for section in self.sections}
        # The guest may have negotiated another mode during pre-copy: check again.
        plan = H.plan(self.sections, exported, props, self.machine, peer)
        if plan.refusal is not None:
            raise MigrationFailed(plan.refusal)
        await ram_section(S.QEMU_VM_SECTION_END,
                          itertools.chain(passes, self._last_sync(saver)))
        devices = []
        out = bytearray()
        for number, section in enumerate(self.sections, start=RAM_SECTION_ID + 1):
            out += S.section_start(S.QEMU_VM_SECTION_FULL, number, section.name,
                                   section.instance_id, section.vmsd.version_id)
            desc = save(section.vmsd, exported[section_key(section)], props, out, plan.omit)
            devices.append({"name": section.name, "instance_id": section.instance_id, **desc})
            if footers:
                out += S.footer(number)
        await sender.send(bytes(out) + S.eof_and_vmdesc(devices, PAGE_SIZE))
        if self.capabilities["return-path"] and uri_is_connection(channel):
            reply = await _read_shut(channel)
            if reply != SHUT_OK:
                raise MigrationFailed("the destination failed to load the migration stream")
        p.downtime = time.monotonic() - downtime_start
        saver.stats.downtime_bytes = sender.sent - sent_before
        saver.stats.precopy_bytes = sent_before

    def _sync(self, passes: Iterator[bytes]) -> Iterator[bytes]:
        """Start a pass now (QEMU's migration_bitmap_sync): it takes the dirty marks and
        dirty-sync-count counts it; MIGRATION_PASS carries that count."""
        first = next(passes, None)
        assert self.progress.ram is not None
        if self.capabilities["events"]:
            self.vm.emit("MIGRATION_PASS", {"pass": self.progress.ram.stats.dirty_sync_count})
        return itertools.chain(() if first is None else (first,), passes)

    def _last_sync(self, saver: RAMSaver) -> Iterator[bytes]:
        """QEMU's ram_save_complete: with the vCPU stopped, once what the last sync found is
        sent, a final sync and its pages."""
        yield from self._sync(saver.dirty_pass())

    async def _stop_vm(self) -> str:
        """Stop the vCPU for the last pass: run state finish-migrate, STOP if it ran."""
        vm = self.vm
        async with vm._lock:
            previous = vm.state
            if previous == vm_states.RUNNING:
                await vm._ask(control.OP_STOP)
                vm.emit("STOP")
            vm.state = vm_states.FINISH_MIGRATE
            return previous

    # --- destination -----------------------------------------------------------------------
    async def prepare_incoming(self, uri_text: str) -> Listener:
        """Parse and bind a --incoming or migrate-incoming URI (errors: TransportError)."""
        uri = parse_uri(uri_text, self.allow_exec)
        try:
            return await listen(uri)
        except OSError as e:
            raise TransportError(f"cannot listen for the migration on {uri}: "
                                 f"{e.strerror or e}") from None

    def start_incoming(self, listener: Listener, exit_on_error: bool) -> None:
        self.incoming_started = True
        # Status none until the source connects, as QEMU's destination: no setup.
        self.progress = Progress(start=time.monotonic(), total_ram=self.vm.ram.size,
                                 incoming=True, socket_address=_socket_address(listener))
        assert self.vm._nursery is not None
        self.vm._nursery.start_soon(self._incoming, listener, exit_on_error)

    async def _incoming(self, listener: Listener, exit_on_error: bool) -> None:
        vm = self.vm
        channel = None
        try:
            channel = await listener.accept()
            self._set_status(ACTIVE)
            try:
                reader = S.StreamReader(channel.receive_some)
                if uri_is_connection(channel):
                    await self._greet(channel, reader)
                state = await self._load(reader)
                check_cpu(state, CPU_MODELS[vm.options.boot.cpu].pvr)
                await vm._ask(control.OP_LOAD_STATE, state=state)
            except (VMStateError, QMPError, H.HandshakeError, trio.BrokenResourceError) as e:
                if uri_is_connection(channel):
                    await _try_send(channel, SHUT_FAILED)
                raise MigrationFailed(str(getattr(e, "desc", e))) from None
            if uri_is_connection(channel):
                await _try_send(channel, SHUT_OK)
        except (MigrationFailed, OSError) as e:
            message = str(e) if isinstance(e, MigrationFailed) else (e.strerror or str(e))
            self.progress.error = message
            self._set_status(FAILED)
            if exit_on_error:
                sys.stderr.write(f"ppcd: load of migration failed: {message}\n")
                vm.finish(1)
            return
        finally:
            self.progress.socket_address = None
            if channel is not None:
                await channel.aclose()
            await listener.aclose()
        self.progress.total_time = time.monotonic() - self.progress.start
        self._set_status(COMPLETED)
        if state["runstate"] == vm_states.RUNNING:
            if await self._resume(vm_states.INMIGRATE, autostart=True):
                return
        async with vm._lock:
            if vm.state == vm_states.INMIGRATE:
                vm.state = vm_states.PAUSED

    async def _greet(self, channel: Channel, reader: S.StreamReader) -> None:
        """Greet a source that waits in silence (ppcd 0.2+); read its plan if it sends one."""
        with trio.move_on_after(H.GREET_AFTER):
            await reader.more()
        if reader.received or reader.eof:
            return      # an older source sent its stream at once: it reads no greeting
        await channel.send_all(H.greeting(self.machine, self.max_compat_pvr, self.sections))
        body = await reader.parse(lambda c: H.parse_message(c, H.PLAN))
        if body is not None and body.get("refuse"):
            raise MigrationFailed(f"the source refused the migration: {body['refuse']}")

    async def _load(self, reader: S.StreamReader) -> Snapshot:
        """Read a whole stream into guest RAM and a snapshot for the worker."""
        props = self.machine.properties
        footers = props.get("migration.send-section-footer", True)
        await reader.read_header()
        if props.get("migration.send-configuration", True):
            await reader.read_configuration(self.machine.name)
        loader = RAMLoader(self.vm.ram)
        snapshot: Snapshot = {}
        loaded = set()
        sections: Dict[int, str] = {}
        while True:
            kind = await reader.parse(lambda c: c.byte())
            if kind == S.QEMU_VM_EOF:
                break
            if kind in (S.QEMU_VM_SECTION_START, S.QEMU_VM_SECTION_FULL):
                section_id, name, instance_id, version_id = await reader.parse(
                    lambda c: (c.be32(), c.idstr(), c.be32(), c.be32()))
                sections[section_id] = name
                if kind == S.QEMU_VM_SECTION_START:
                    if (name, instance_id) != (RAM_SECTION, 0):
                        find_section(name, instance_id, self.sections)     # unknown: QEMU's
                        raise VMStateError(f"section '{name}' is not iterable")
                    if version_id != RAM_VERSION:
                        raise VMStateError(f"ram: incoming version_id {version_id} is not "
                                           f"{RAM_VERSION}")
                    await reader.parse(loader.setup)
                else:
                    section = find_section(name, instance_id, self.sections)
                    fields = await reader.parse(
                        lambda c, vmsd=section.vmsd, v=version_id: load(vmsd, c, v))
                    section.apply(fields, snapshot)
                    loaded.add(section_key(section))
            elif kind in (S.QEMU_VM_SECTION_PART, S.QEMU_VM_SECTION_END):
                section_id = await reader.parse(Cursor.be32)
                if sections.get(section_id) != RAM_SECTION:
                    raise VMStateError(f"Unknown savevm section {section_id}")
                await _ram_records(reader, loader)
            else:
                raise VMStateError(f"Unknown savevm section type {kind}")
            if footers:
                await reader.read_footer(section_id, sections[section_id])
        await reader.skip_vmdesc()
        # A vCPU the stream lacks (a destination with more) fails the load: no vCPU starts
        # from reset beside migrated ones.
        missing_sections(self.sections, loaded)
        return snapshot


def _socket_address(listener: Listener) -> Optional[List[Dict[str, Any]]]:
    """query-migrate's socket-address of a tcp: or unix: listener: QAPI SocketAddress, the
    address it is bound to (QEMU: qio_channel_socket_get_local_address)."""
    if listener.listener is None:
        return None     # file: and exec: listen on no socket
    if listener.uri.scheme == "unix":
        return [{"type": "unix", "path": listener.uri.target}]
    name = listener.listener.socket.getsockname()
    family = "ipv6" if ":" in name[0] else "ipv4"
    return [{"type": "inet", "host": name[0], "port": str(name[1]), family: True}]


def _write_error(uri: URI, error: Exception) -> str:
    """A stream that could not be written, in the words of QEMU's QIOChannel for it
    ("Unable to write to socket: Broken pipe")."""
    cause = error if isinstance(error, OSError) else error.__cause__
    why = getattr(cause, "strerror", None) or str(cause or error)
    channel = {"tcp": "socket", "unix": "socket", "exec": "command"}.get(uri.scheme, "file")
    return f"Unable to write to {channel}: {why}"


class MigrationFailed(Exception):
    """Why a migration failed, one line (query-migrate's error-desc)."""


def uri_is_connection(channel: Channel) -> bool:
    return channel.file is None and channel.process is None


async def _try_send(channel: Channel, data: bytes) -> None:
    try:
        await channel.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


async def _read_shut(channel: Channel) -> bytes:
    """The return path's SHUT message, past a greeting that came after the source stopped
    waiting for one."""
    data = b""
    while True:
        chunk = await channel.receive_some()
        if not chunk:
            return data[:len(SHUT_OK)]
        data += chunk
        cursor = Cursor(data)
        try:
            if H.parse_message(cursor, H.GREETING) is not None:
                data = data[cursor.position:]
        except Truncated:
            continue
        if len(data) >= len(SHUT_OK):
            return data[:len(SHUT_OK)]


async def _ram_records(reader: S.StreamReader, loader: RAMLoader) -> None:
    while True:
        try:
            reader.position, eos = loader.records(reader.buffer, reader.position)
        except Truncated:
            await reader.more()
            continue
        if eos:
            return
        await reader.more()


class _RateLimited:
    """Sends with max-bandwidth enforced per 100 ms window, counting what went out."""

    def __init__(self, channel: Channel, saver: RAMSaver, parameters: Parameters) -> None:
        self.channel = channel
        self.saver = saver
        self.parameters = parameters
        self.sent = 0
        self.unlimited = False
        self._window_start = trio.current_time()
        self._window_bytes = 0

    async def send(self, data: bytes) -> None:
        await self.channel.send_all(data)
        self.sent += len(data)
        self.saver.stats.transferred = self.sent
        if self.unlimited or not self.parameters.max_bandwidth:
            await trio.sleep(0)
            return
        self._window_bytes += len(data)
        budget = self.parameters.max_bandwidth * BANDWIDTH_WINDOW
        if self._window_bytes >= budget:
            # Wait out the window the bytes are owed to, then start a new one.
            owed = self._window_bytes / self.parameters.max_bandwidth
            await trio.sleep_until(self._window_start + owed)
            self._window_start = trio.current_time()
            self._window_bytes = 0
        else:
            await trio.sleep(0)
