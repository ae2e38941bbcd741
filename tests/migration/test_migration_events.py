"""The source's MIGRATION and MIGRATION_PASS events along a migration of several passes, and
what query-migrate and `info migrate` show once it completed or failed, against
qemu-system-ppc64 7.2, the oracle: the same sequence runs on two real QEMUs and two real
ppcds. QEMU 7.2 (migration/ram.c migration_bitmap_sync) sends MIGRATION_PASS when a pass
starts, pass 1 in setup before "active", and one more after the vCPU stopped for the last pass.
The number of passes differs between the two: runs of MIGRATION_PASS compare as one."""

from __future__ import annotations

import re
from typing import Any, Dict, List

from .conftest import set_capabilities
from .test_hmp_migrate import counter, lines, qemus, status, until  # noqa: F401 - fixture

FINAL = ("completed", "failed", "cancelled")
# How a write to a socket whose reader died fails (EPIPE or ECONNRESET) is the kernel's choice.
PEER_GONE = re.compile(r"Broken pipe|Connection reset by peer")
GLOBALS = 7     # info migrate's migration_global_dump lines, before the status


def migration_events(client: Any) -> List[str]:
    """The source's MIGRATION (with the status), MIGRATION_PASS (with the pass number) and
    STOP events, in order."""
    client.command("query-status")      # events sent before this reply are in client.events
    seen = []
    for event in client.events:
        if event["event"] == "MIGRATION":
            seen.append(f"MIGRATION {event['data']['status']}")
        elif event["event"] == "MIGRATION_PASS":
            seen.append(f"MIGRATION_PASS {event['data']['pass']}")
        elif event["event"] == "STOP":
            seen.append("STOP")
    return seen


def pass_numbers(events: List[str]) -> List[int]:
    return [int(event.split()[1]) for event in events if event.startswith("MIGRATION_PASS")]


def pattern(events: List[str]) -> List[str]:
    """The events with pass numbers left out and each run of MIGRATION_PASS as one."""
    collapsed: List[str] = []
    for event in events:
        event = "MIGRATION_PASS" if event.startswith("MIGRATION_PASS") else event
        if not (event == "MIGRATION_PASS" and collapsed and collapsed[-1] == event):
            collapsed.append(event)
    return collapsed


def shape(info: Dict[str, Any]) -> Dict[str, Any]:
    """query-migrate with every number as 0: which members it has, and their words."""
    return {key: shape(value) if isinstance(value, dict) else
            0 if isinstance(value, (int, float)) else value for key, value in info.items()}


def dirty_sync_count(machine: Any) -> int:
    return machine.qmp.command("query-migrate").get("ram", {}).get("dirty-sync-count", 0)


def guest_running(source: Any) -> None:
    """The guest has written its 4 MiB once: pass 1 has them to send. (If a pass ends before
    QEMU's first bandwidth measurement, after 100 ms, QEMU 7.2 goes straight to the last pass,
    as its threshold is still 0.)"""
    until(lambda: counter(source) > 1)


def several_passes(source: Any, uri: str) -> Dict[str, Any]:
    """A migration that cannot converge (downtime-limit 1 ms, the guest rewrites 4 MiB each
    loop) until it has made three passes; then it may."""
    guest_running(source)
    set_capabilities(source, events=True)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 16 << 20,
                                                  "downtime-limit": 1})
    source.qmp.command("migrate", {"uri": uri})
    until(lambda: dirty_sync_count(source) >= 3)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 0, "downtime-limit": 20000})
    until(lambda: status(source) in FINAL)
    return {"events": migration_events(source.qmp),
            "query-migrate": source.qmp.command("query-migrate"),
            "info migrate": lines(source, "info migrate")[GLOBALS:]}


def test_pass_events_as_qemu(qemus, daemons, checking_elf, tmp_path) -> None:  # noqa: F811
    qemu_uri = f"unix:{tmp_path}/qemu-migration.sock"
    qemus("qemu-destination", checking_elf, "-incoming", qemu_uri)
    qemu = several_passes(qemus("qemu-source", checking_elf), qemu_uri)
    ppcd_uri = f"unix:{tmp_path}/ppcd-migration.sock"
    daemons("destination", checking_elf, "--incoming", ppcd_uri)
    ppcd = several_passes(daemons("source", checking_elf), ppcd_uri)

    # QEMU: pass 1 in setup, then the passes while it is active, then, with the vCPU stopped,
    # the last one.
    assert pattern(qemu["events"]) == [
        "MIGRATION setup", "MIGRATION_PASS", "MIGRATION active", "MIGRATION_PASS", "STOP",
        "MIGRATION_PASS", "MIGRATION completed"], qemu["events"]
    assert qemu["events"][:3] == ["MIGRATION setup", "MIGRATION_PASS 1", "MIGRATION active"]
    assert pattern(ppcd["events"]) == pattern(qemu["events"]), ppcd["events"]
    assert ppcd["events"][:3] == qemu["events"][:3]
    for run in (qemu, ppcd):
        numbers = pass_numbers(run["events"])
        assert numbers == list(range(1, len(numbers) + 1)), run["events"]
        assert len(numbers) >= 4        # 1 in setup, 2 and 3 at least while active, the last
        # dirty-sync-count counts the same passes.
        assert run["query-migrate"]["ram"]["dirty-sync-count"] == numbers[-1]

    # Completed: the times and the RAM counters, QEMU's members and lines.
    assert shape(ppcd["query-migrate"]) == shape(qemu["query-migrate"])
    assert [re.sub(r"[\d.]+", "N", line) for line in ppcd["info migrate"]] == \
        [re.sub(r"[\d.]+", "N", line) for line in qemu["info migrate"]]
    assert qemu["info migrate"][0] == "Migration status: completed"


def failing(source: Any, destination: Any, uri: str) -> Dict[str, Any]:
    """The destination dies in the middle of pre-copy: the source's writes fail."""
    guest_running(source)
    set_capabilities(source, events=True)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 4 << 20,
                                                  "downtime-limit": 1})
    source.qmp.command("migrate", {"uri": uri})
    until(lambda: status(source) == "active"
          and source.qmp.command("query-migrate")["ram"]["transferred"] > 0)
    destination.process.kill()
    destination.process.wait(timeout=20)
    until(lambda: status(source) in FINAL)
    info = source.qmp.command("query-migrate")
    if "error-desc" in info:
        info["error-desc"] = PEER_GONE.sub("ERRNO", info["error-desc"])
    return {"events": migration_events(source.qmp), "query-migrate": info,
            "info migrate": [PEER_GONE.sub("ERRNO", line)
                             for line in lines(source, "info migrate")[GLOBALS:]],
            "run state": source.qmp.command("query-status")["status"]}


def test_failed_shows_the_status_alone_as_qemu(qemus, daemons, checking_elf,  # noqa: F811
                                               tmp_path) -> None:
    """QEMU's fill_source_migration_info: after a failure, the status and why, no times, no
    RAM counters; info migrate prints the status line and a total time of 0."""
    qemu_uri = f"unix:{tmp_path}/qemu-migration.sock"
    qemu = failing(qemus("qemu-source", checking_elf),
                   qemus("qemu-destination", checking_elf, "-incoming", qemu_uri), qemu_uri)
    ppcd_uri = f"unix:{tmp_path}/ppcd-migration.sock"
    ppcd = failing(daemons("source", checking_elf),
                   daemons("destination", checking_elf, "--incoming", ppcd_uri), ppcd_uri)
    why = "Unable to write to socket: ERRNO"
    assert qemu == {
        "events": ["MIGRATION setup", "MIGRATION_PASS 1", "MIGRATION active",
                   "MIGRATION failed"],
        "query-migrate": {"status": "failed", "error-desc": why},
        "info migrate": [f"Migration status: failed ({why})", "total time: 0 ms"],
        "run state": "running"}
    assert ppcd == qemu
