"""QMP events as QEMU emits them: name, optional data, and the time it happened."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

from .schema import BOOL, INT, Member, Schema, enum

# qapi/run-state.json's ShutdownCause: why a SHUTDOWN or RESET happened.
SHUTDOWN_CAUSE = enum("ShutdownCause", "none", "host-error", "host-qmp-quit",
                      "host-qmp-system-reset", "host-signal", "host-ui", "guest-shutdown",
                      "guest-reset", "guest-panic", "subsystem-reset", "snapshot-load")
_CAUSED = Schema((Member("guest", BOOL), Member("reason", SHUTDOWN_CAUSE)))

EVENTS = {
    "STOP": Schema(),
    "RESUME": Schema(),
    "RESET": _CAUSED,
    "SHUTDOWN": _CAUSED,
    "POWERDOWN": Schema(),
    "MIGRATION": Schema((Member("status", enum(
        "MigrationStatus", "none", "setup", "cancelling", "cancelled", "active",
        "postcopy-active", "postcopy-paused", "postcopy-recover", "completed", "failed",
        "colo", "pre-switchover", "device", "wait-unplug")),)),
    "MIGRATION_PASS": Schema((Member("pass", INT),)),
}


def event_message(name: str, data: Optional[Dict[str, Any]] = None,
                  now: Optional[float] = None) -> Dict[str, Any]:
    """The event object, timestamped like QEMU's (seconds and microseconds since the epoch)."""
    if now is None:
        now = time.time()
    seconds = int(now)
    message: Dict[str, Any] = {"timestamp": {"seconds": seconds,
                                             "microseconds": int((now - seconds) * 1e6)},
                               "event": name}
    if data is not None:
        message["data"] = data
    return message
