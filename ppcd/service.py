"""Running as a systemd service: sd_notify messages, the watchdog and socket activation.

The protocols are systemd's own (sd_notify(3), sd_watchdog_enabled(3), sd_listen_fds(3)),
spoken directly: a datagram to $NOTIFY_SOCKET, and the listening sockets systemd passes from
fd 3 on with $LISTEN_FDS and $LISTEN_PID. Outside systemd every call here does nothing.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import trio

from .qmp.server import Address, Listener, TCPAddress, UnixAddress

if TYPE_CHECKING:
    from .daemon import VirtualMachine

SD_LISTEN_FDS_START = 3
# STATUS= follows a migration's progress this often (and run-state changes at once).
STATUS_INTERVAL = 1.0


class Notifier:
    """sd_notify(3): state changes for the service manager, when it asked for them."""

    def __init__(self, address: Optional[str] = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._sock: Optional[socket.socket] = None
        self._address = ""
        if address and address[0] in "/@":
            # "@name" is the abstract namespace: a leading NUL byte in the kernel's view.
            self._address = "\0" + address[1:] if address[0] == "@" else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # The worker must not talk to the service manager (NotifyAccess=main would refuse it).
        os.environ.pop("NOTIFY_SOCKET", None)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *assignments: str) -> None:
        """Send VAR=VALUE lines; a service manager that has gone away is not an error."""
        if self._sock is None:
            return
        try:
            self._sock.sendto("\n".join(assignments).encode(), self._address)
        except OSError:
            pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval() -> Optional[float]:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when not asked for."""
    usec = os.environ.pop("WATCHDOG_USEC", "")
    pid = os.environ.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


def describe(vm: "VirtualMachine") -> str:
    """One line for `systemctl status`: the run state, a migration's progress, lost output."""
    text = vm.state
    if vm.migration.active:
        info: Dict[str, Any] = vm.migration.info()
        ram = info.get("ram", {})
        done = 100 * ram.get("transferred", 0) // max(ram.get("total", 0), 1)
        text += (f", migration {info.get('status')}: {done}% of RAM sent, "
                 f"pass {ram.get('dirty-sync-count', 0)}")
    if vm.console.dropped:
        text += f", {vm.console.dropped} console bytes dropped"
    return text


class ServiceManager:
    """What ppcd tells systemd: READY=1, STATUS= lines, WATCHDOG=1 pings and STOPPING=1."""

    def __init__(self) -> None:
        self.notifier = Notifier()
        self.watchdog = watchdog_interval()
        self._status = ""

    async def run(self, vm: "VirtualMachine") -> None:
        """From the moment the machine has started (its sockets listen) until ppcd stops."""
        self._status = describe(vm)
        self.notifier.notify("READY=1", f"STATUS={self._status}")
        vm.listeners.append(lambda event, data: self._update(vm))
        interval = min(STATUS_INTERVAL, self.watchdog or STATUS_INTERVAL)
        while True:
            # Pinged from the trio loop itself: a hung control loop stops the pings.
            if self.watchdog is not None:
                self.notifier.notify("WATCHDOG=1")
            self._update(vm)
            await trio.sleep(interval)

    def _update(self, vm: "VirtualMachine") -> None:
        status = describe(vm)
        if status != self._status:
            self._status = status
            self.notifier.notify(f"STATUS={status}")

    def stopping(self) -> None:
        self.notifier.notify("STOPPING=1", "STATUS=stopping")


class InheritedListener(Listener):
    """A listening socket systemd created: it owns the socket file, so closing leaves it."""

    async def aclose(self) -> None:
        await self.listener.aclose()


def inherited_listeners() -> List[Listener]:
    """The listening sockets passed by socket activation (sd_listen_fds), as QMP listeners."""
    count = os.environ.pop("LISTEN_FDS", "")
    pid = os.environ.pop("LISTEN_PID", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    if not count.isdigit() or pid != str(os.getpid()):
        return []
    listeners: List[Listener] = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)):
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
        name = sock.getsockname()
        address: Address = (UnixAddress(name) if sock.family == socket.AF_UNIX
                            else TCPAddress(name[0], name[1]))
        listeners.append(InheritedListener(
            trio.SocketListener(trio.socket.from_stdlib_socket(sock)), address))
    return listeners
