"""`ppcd console SOCKET|ADDRESS`: the guest console on this terminal.

ADDRESS (unix:PATH or tcp:HOST:PORT) is a console backend's own socket; a plain path is ppcd's
QMP socket, which says where the console is (x-query-console): a socket or a pseudo-terminal.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import termios
import tty
from typing import Any, Optional

from .connection import ClientError, QMPConnection, connect

ESCAPE = b"\x1d"            # Ctrl-], as telnet
CHUNK = 4096


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "console", help="attach this terminal to a guest console",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Attach this terminal to the guest console of a running ppcd whose "
                    "--serial is pty, unix:PATH,server or tcp:HOST:PORT,server. Typing goes "
                    "to the guest; Ctrl-] detaches. Without a terminal, standard input is "
                    "sent and the output printed until ppcd closes the console.",
        epilog="examples:\n"
               "  ppcd console /run/ppcd/vm.qmp       (asks ppcd where its console is)\n"
               "  ppcd console unix:/run/ppcd/vm/console.sock\n"
               "  ppcd console tcp:127.0.0.1:4555")
    parser.add_argument("target", metavar="SOCKET|ADDRESS",
                        help="ppcd's QMP socket (a path), or the console's unix:PATH or "
                             "tcp:HOST:PORT")


def locate(qmp_socket: str) -> str:
    """The console's address (unix:..., tcp:...) or pty path, asked of ppcd over QMP."""
    with QMPConnection(qmp_socket) as qmp:
        filename = qmp.execute("x-query-console")["filename"]
    filename = filename.removeprefix("disconnected:").split(" <-> ")[0]
    if filename.startswith("pty:"):
        return filename[4:]
    if filename.startswith(("tcp:", "unix:")):
        return filename.removesuffix(",server")
    raise ClientError(f"the console of {qmp_socket} goes to {filename}: nothing to attach to "
                      f"(run ppcd with --serial pty, unix:PATH,server or tcp:HOST:PORT,server)")


class Endpoint:
    """The console's end: a socket or a pseudo-terminal, as read/write on a descriptor."""

    def __init__(self, target: str) -> None:
        self.sock: Optional[socket.socket] = None
        if target.startswith(("unix:", "tcp:")):
            self.sock = connect(target, timeout=None)
            self.fd = self.sock.fileno()
        else:
            try:
                self.fd = os.open(target, os.O_RDWR | os.O_NOCTTY)
            except OSError as e:
                raise ClientError(f"cannot open {target}: {e.strerror}") from None
            tty.setraw(self.fd)

    def read(self) -> bytes:
        try:
            return os.read(self.fd, CHUNK)
        except OSError:
            return b""      # a pty whose other side has gone

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        else:
            os.close(self.fd)


def pump(endpoint: Endpoint, in_fd: int, out_fd: int, interactive: bool) -> None:
    """Copy between the terminal and the console until one of them ends (or Ctrl-])."""
    selector = selectors.DefaultSelector()
    selector.register(endpoint.fd, selectors.EVENT_READ)
    selector.register(in_fd, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fd == endpoint.fd:
                data = endpoint.read()
                if not data:
                    return
                os.write(out_fd, data)
            else:
                data = os.read(in_fd, CHUNK)
                if interactive and ESCAPE in data:
                    endpoint.write(data[:data.index(ESCAPE)])
                    return
                if not data:
                    # End of a script's input: keep showing output until the console closes
                    # (ppcd exits); a half-closed socket would count as a client leaving.
                    selector.unregister(in_fd)
                    continue
                endpoint.write(data)


def run(args: argparse.Namespace) -> int:
    target = args.target
    if not target.startswith(("unix:", "tcp:")):
        target = locate(target)
    endpoint = Endpoint(target)
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    interactive = os.isatty(in_fd)
    saved = termios.tcgetattr(in_fd) if interactive else None
    try:
        if interactive:
            sys.stderr.write(f"Connected to {target}; Ctrl-] detaches.\r\n")
            sys.stderr.flush()
            tty.setraw(in_fd)
        pump(endpoint, in_fd, out_fd, interactive)
    finally:
        if saved is not None:
            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
            sys.stderr.write("\nDetached.\n")
        endpoint.close()
    return 0
