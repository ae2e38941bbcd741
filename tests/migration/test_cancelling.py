"""migrate_cancel in the middle of a live migration goes through the transient "cancelling"
state, then "cancelled", and the source's guest runs on: checked on real QEMUs (the oracle for
the order of the MIGRATION and MIGRATION_PASS events, and for what query-migrate and
`info migrate` show once cancelled) and on real ppcd daemons, the same way."""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable, Dict

import pytest

from .conftest import set_capabilities
from .test_hmp_migrate import counter, lines, qemus, status, statuses, until  # noqa: F401
from .test_migration_events import GLOBALS, migration_events, pattern

CANCELLED = ["setup", "active", "cancelling", "cancelled"]


def _slow_link(source: Any, destination: Any) -> None:
    """A max-bandwidth too small to finish: the migration stays active."""
    until(lambda: source.qmp.command("query-migrate").get("ram", {}).get("transferred", 0)
          > 0)


def _stalled_destination(source: Any, destination: Any) -> None:
    """The destination stops reading (SIGSTOP), the link unlimited: the source's writes block
    once the socket's buffers are full."""
    os.kill(destination.process.pid, signal.SIGSTOP)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 0})

    def stalled() -> bool:
        before = source.qmp.command("query-migrate")["ram"]["transferred"]
        time.sleep(0.2)
        return source.qmp.command("query-migrate")["ram"]["transferred"] == before
    until(stalled)
    assert status(source) == "active"


def cancel_sequence(source: Any, destination: Any, uri: str,
                    slow: Callable[[Any, Any], None]) -> Dict[str, Any]:
    set_capabilities(source, events=True)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 1 << 20})
    source.qmp.command("migrate", {"uri": uri})
    until(lambda: status(source) == "active")
    slow(source, destination)
    source.qmp.command("migrate_cancel")
    until(lambda: status(source) in ("cancelled", "failed", "completed"))
    seen: Dict[str, Any] = {"events": statuses(source.qmp),
                            "passes": pattern(migration_events(source.qmp)),
                            "query-migrate": source.qmp.command("query-migrate"),
                            "info migrate": lines(source, "info migrate")[GLOBALS:],
                            "run state": source.qmp.command("query-status")["status"]}
    # The guest carries on: its pass counter keeps going up.
    start = counter(source)
    until(lambda: counter(source) > start + 2)
    seen["run state later"] = source.qmp.command("query-status")["status"]
    # The destination got a cut stream: both QEMU and ppcd give up on it (exit status 1).
    os.kill(destination.process.pid, signal.SIGCONT)
    seen["destination exit"] = destination.process.wait(timeout=20)
    return seen


@pytest.mark.parametrize("slow", [_slow_link, _stalled_destination],
                         ids=["small-max-bandwidth", "stalled-destination"])
def test_cancel_goes_through_cancelling_as_qemu(qemus, daemons, checking_elf, tmp_path,  # noqa: F811
                                                slow) -> None:
    qemu_uri = f"unix:{tmp_path}/qemu-migration.sock"
    qemu = cancel_sequence(qemus("qemu-source", checking_elf),
                           qemus("qemu-destination", checking_elf, "-incoming", qemu_uri),
                           qemu_uri, slow)
    ppcd_uri = f"unix:{tmp_path}/ppcd-migration.sock"
    ppcd = cancel_sequence(daemons("source", checking_elf),
                           daemons("destination", checking_elf, "--incoming", ppcd_uri),
                           ppcd_uri, slow)
    # QEMU's fill_source_migration_info: once cancelled, the status alone (no times, no RAM
    # counters), so info migrate prints a total time of 0.
    expected: Dict[str, Any] = {"events": CANCELLED,
                                "passes": ["MIGRATION setup", "MIGRATION_PASS",
                                           "MIGRATION active", "MIGRATION cancelling",
                                           "MIGRATION cancelled"],
                                "query-migrate": {"status": "cancelled"},
                                "info migrate": ["Migration status: cancelled",
                                                 "total time: 0 ms"],
                                "run state": "running", "run state later": "running",
                                "destination exit": 1}
    assert qemu == expected
    assert ppcd == qemu

