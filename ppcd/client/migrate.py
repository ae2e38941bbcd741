"""`ppcd migrate --from SOCKET URI`: start a live migration and follow it to the end.

Progress comes from query-migrate's MigrationInfo (QEMU's qapi/migration.json): ram.transferred
and ram.remaining for the bar, ram.dirty-sync-count for the pass, expected-downtime while it
runs and downtime, total-time and status at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from typing import Any, Dict, TextIO

from .connection import ClientError, QMPConnection

FINISHED = ("completed", "failed", "cancelled")
BAR_WIDTH = 24


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.01 <= value <= 60:
        raise argparse.ArgumentTypeError("must be between 0.01 and 60 seconds")
    return value


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "migrate", help="live-migrate a running ppcd to another one",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Migrate the machine of a running ppcd to a ppcd started with "
                    "--incoming URI (on this host or another), showing the progress, and "
                    "print a summary. Ctrl-C cancels the migration; the source keeps running.",
        epilog="examples:\n"
               "  ppcd migrate --from /run/ppcd/vm.qmp tcp:host2:4444\n"
               "  ppcd migrate --from /run/ppcd/vm.qmp --downtime-limit 100 unix:/tmp/mig.sock\n"
               "  ppcd migrate --from /run/ppcd/vm.qmp --json file:/var/tmp/vm.mig")
    parser.add_argument("--from", dest="source", required=True, metavar="SOCKET",
                        help="the source ppcd's QMP socket: a path, unix:PATH or tcp:HOST:PORT")
    parser.add_argument("uri", metavar="URI",
                        help="where to: tcp:HOST:PORT, unix:PATH, file:PATH or exec:COMMAND")
    parser.add_argument("--downtime-limit", type=_non_negative, metavar="MS",
                        help="longest pause of the guest at the switch-over, in milliseconds")
    parser.add_argument("--max-bandwidth", type=_non_negative, metavar="BYTES",
                        help="bytes per second the migration may use")
    parser.add_argument("--interval", type=_seconds, default=0.2, metavar="SECONDS",
                        help="how often to ask for progress (default 0.2)")
    parser.add_argument("--json", action="store_true",
                        help="print each query-migrate reply as a line of JSON, no bar")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return ""


class ProgressBar:
    """One line, redrawn in place on a terminal; nothing when stderr is not one."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.enabled = out.isatty()
        self.last_bytes = 0
        self.last_time = time.monotonic()
        self.rate = 0.0

    def update(self, info: Dict[str, Any]) -> None:
        ram = info.get("ram", {})
        sent = ram.get("transferred", 0)
        now = time.monotonic()
        if now > self.last_time and sent >= self.last_bytes:
            # A smoothed rate from what the client saw; QEMU's mbps is per pass.
            current = (sent - self.last_bytes) / (now - self.last_time)
            self.rate = current if not self.rate else 0.7 * self.rate + 0.3 * current
        self.last_bytes, self.last_time = sent, now
        if not self.enabled:
            return
        remaining = ram.get("remaining", 0)
        fraction = sent / (sent + remaining) if sent + remaining else 0.0
        filled = int(fraction * BAR_WIDTH)
        line = (f"{info.get('status', '?'):<9} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                f"{fraction * 100:3.0f}%  {_size(sent)} sent, {_size(remaining)} left  "
                f"pass {ram.get('dirty-sync-count', 0)}  {_size(self.rate)}/s")
        if "expected-downtime" in info:
            line += f"  downtime ~{info['expected-downtime']} ms"
        width = shutil.get_terminal_size().columns
        self.out.write("\r" + line[:width - 1].ljust(width - 1))
        self.out.flush()

    def clear(self) -> None:
        if self.enabled:
            self.out.write("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r")
            self.out.flush()


def summary(info: Dict[str, Any]) -> str:
    ram = info.get("ram", {})
    seconds = info.get("total-time", 0) / 1000
    rate = ram.get("transferred", 0) / seconds if seconds else 0
    text = (f"migration {info.get('status')}: {_size(ram.get('transferred', 0))} sent in "
            f"{seconds:.1f} s ({_size(rate)}/s), {ram.get('dirty-sync-count', 0)} passes")
    if "downtime" in info:
        text += f", downtime {info['downtime']} ms"
    if "error-desc" in info:
        text += f": {info['error-desc']}"
    return text


def _follow(qmp: QMPConnection, args: argparse.Namespace, bar: ProgressBar) -> Dict[str, Any]:
    info: Dict[str, Any] = {}
    while info.get("status") not in FINISHED:
        info = qmp.execute("query-migrate")
        if args.json:
            sys.stdout.write(json.dumps(info) + "\n")
            sys.stdout.flush()
        else:
            bar.update(info)
        if info.get("status") not in FINISHED:
            time.sleep(args.interval)
    return info


def run(args: argparse.Namespace) -> int:
    with QMPConnection(args.source) as qmp:
        parameters = {name: value for name, value in (
            ("downtime-limit", args.downtime_limit), ("max-bandwidth", args.max_bandwidth))
            if value is not None}
        if parameters:
            qmp.execute("migrate-set-parameters", parameters)
        qmp.execute("migrate", {"uri": args.uri})
        bar = ProgressBar(sys.stderr)
        try:
            info = _follow(qmp, args, bar)
        except KeyboardInterrupt:
            qmp.execute("migrate_cancel")
            info = _follow(qmp, args, bar)
        finally:
            bar.clear()
    if args.json:
        return 0 if info.get("status") == "completed" else 1
    if info.get("status") == "completed":
        sys.stdout.write(summary(info) + "\n")
        return 0
    raise ClientError(summary(info))
