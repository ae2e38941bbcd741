"""The pre-flight handshake's decisions: what a stream leaves out for a peer that said what it
loads, and why it refuses when leaving something out would change the guest."""

from __future__ import annotations

import json

import pytest

from ppcd import __version__
from ppcd.cpu.compat import BY_NAME
from ppcd.migration.handshake import (
    GREETING,
    HandshakeError,
    Peer,
    greeting,
    parse_message,
    plan,
    runtime_properties,
)
from ppcd.migration.machine import DEVICE_SECTIONS, machine_type
from ppcd.migration.vmstate import Cursor, Truncated

POWER7, POWER8 = BY_NAME["power7"].pvr, BY_NAME["power8"].pvr
NEWEST = machine_type("pseries")


def _peer(max_compat: int = 0, drop=()) -> Peer:
    body = parse_message(Cursor(greeting(NEWEST, max_compat, DEVICE_SECTIONS)), GREETING)
    for section, sub in drop:
        del body["sections"][section]["subsections"][sub]
    return Peer.from_greeting(body)


def _states(compat_pvr: int, **cpu) -> dict:
    states = {(s.name, s.instance_id): s.vmsd.defaults() for s in DEVICE_SECTIONS}
    states["cpu", 0].update(compat_pvr=compat_pvr, **cpu)
    return states


def _plan(states, peer: Peer, rule=None):
    return plan(DEVICE_SECTIONS, states, runtime_properties(NEWEST, rule, peer), NEWEST, peer)


def test_a_peer_that_loads_everything_gets_everything() -> None:
    assert _plan(_states(POWER8), _peer()).omit == frozenset()
    assert _plan(_states(POWER8), _peer()).refusal is None


def test_compat_left_out_when_the_peer_restores_the_same_mode() -> None:
    peer = _peer(max_compat=POWER8, drop=[("cpu", "cpu/compat")])
    result = _plan(_states(POWER8), peer)
    assert (result.omit, result.refusal) == (frozenset({"cpu/compat"}), None)


def test_compat_that_cannot_be_restored_is_refused() -> None:
    peer = _peer(max_compat=POWER8, drop=[("cpu", "cpu/compat")])
    assert _plan(_states(POWER7), peer).refusal == (
        "the guest runs in power7 compatibility mode, which this migration cannot carry: the "
        f"destination (ppcd {__version__}) cannot load cpu/compat and would restore power8 "
        "compatibility mode from its --max-cpu-compat power8")


def test_differs_rule_uses_the_peers_max_cpu_compat() -> None:
    # The guest runs in power8, which this peer starts in: nothing to send.
    assert _plan(_states(POWER8), _peer(max_compat=POWER8), "differs").refusal is None
    states = _states(POWER8)
    assert _plan(states, _peer(max_compat=0), "differs").refusal is None


def test_other_needed_subsections_the_peer_lacks_are_refused() -> None:
    peer = _peer(drop=[("cpu", "cpu/dabr")])
    assert _plan(_states(0, **{"env.dabr": 5}), peer).refusal == (
        f"the destination (ppcd {__version__}) cannot load subsection 'cpu/dabr' version 1")
    assert _plan(_states(0), peer).refusal is None      # not needed: not sent


def test_newer_section_versions_are_refused() -> None:
    body = json.loads(greeting(NEWEST, 0, DEVICE_SECTIONS)[12:])
    body["sections"]["cpu"]["version_id"] = 4
    assert "cannot load section 'cpu' version 5" in _plan(_states(0),
                                                          Peer.from_greeting(body)).refusal


def test_legacy_peer_runs_raw_mode_only() -> None:
    legacy = Peer(None, 0)
    assert _plan(_states(0), legacy).refusal is None
    assert "has no compatibility modes" in _plan(_states(POWER8), legacy).refusal


def test_malformed_greetings() -> None:
    with pytest.raises(HandshakeError, match="malformed"):
        Peer.from_greeting({"ppcd": "9", "max-cpu-compat": 0, "sections": {"cpu": 3}})
    with pytest.raises(Truncated):
        parse_message(Cursor(GREETING + b"\0\0"), GREETING)
    assert parse_message(Cursor(b"QEVM\0\0\0\3"), GREETING) is None
