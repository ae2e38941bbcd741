"""Running as a systemd service: sd_notify messages, the watchdog and socket activation.

The protocols are systemd's own (sd_notify(3), sd_watchdog_enabled(3), sd_listen_fds(3)),
spoken directly: a datagram to $NOTIFY_SOCKET, and the listening sockets systemd passes from
fd 3 on with $LISTEN_FDS and $LISTEN_PID. Outside systemd every call here does nothing.
"""

from __future__ import annotations

import os
import socket
from typing import List, Optional

import trio

from .qmp.server import Address, Listener, TCPAddress, UnixAddress

SD_LISTEN_FDS_START = 3


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


async def keep_watchdog_fed(notifier: Notifier, interval: float) -> None:
    """Ping from the trio loop itself: a hung control loop stops the pings and gets restarted."""
    while True:
        notifier.notify("WATCHDOG=1")
        await trio.sleep(interval)


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
