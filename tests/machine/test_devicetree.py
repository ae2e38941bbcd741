"""The pseries device tree: checked with dtc and against the tree QEMU 7.2 builds (the oracle)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from ppcd.machine.devicetree import (
    DEFAULT_RTAS_SERVICES,
    QEMU_HYPERTAS_FUNCTIONS,
    RTAS_TOKENS,
    build_pseries_tree,
)
from ppcd.machine.fdt import FdtNode, parse_dtb, to_dtb

POWER9_PVR = 0x004E1200  # POWER9 DD2.0, QEMU's default pseries CPU
POWER8_PVR = 0x004D0200
POWER10_PVR = 0x00800200
PVRS = {"POWER8": POWER8_PVR, "POWER9": POWER9_PVR, "POWER10": POWER10_PVR}
MIB = 1 << 20

QemuDumper = Callable[..., FdtNode]


def decompile(root: FdtNode) -> str:
    if shutil.which("dtc") is None:
        pytest.skip("dtc (Debian package device-tree-compiler) is not installed")
    proc = subprocess.run(
        ["dtc", "-I", "dtb", "-O", "dts", "-"], input=to_dtb(root), capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b"", proc.stderr.decode()  # warnings mean a malformed tree
    return proc.stdout.decode()


@pytest.fixture(scope="module")
def qemu_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuDumper]:
    """QEMU's own pseries tree (dumped with dumpdtb), parsed, for a given configuration."""
    if shutil.which("qemu-system-ppc64") is None:
        pytest.skip("qemu-system-ppc64 is not installed")
    cache: dict[tuple[str, int, int, str], FdtNode] = {}
    workdir: Path = tmp_path_factory.mktemp("qemu-dtb")

    def dump(cpu: str = "POWER9", ram_mib: int = 256, smp: int = 1, compat: str = "") -> FdtNode:
        key = (cpu, ram_mib, smp, compat)
        if key not in cache:
            out = workdir / f"{cpu}-{ram_mib}-{smp}-{compat or 'none'}.dtb"
            machine = f"pseries,x-vof=on,dumpdtb={out}" + (
                f",max-cpu-compat={compat}" if compat else ""
            )
            subprocess.run(
                ["qemu-system-ppc64", "-M", machine, "-cpu", cpu, "-accel", "tcg",
                 "-m", f"{ram_mib}M", "-smp", str(smp), "-display", "none", "-nodefaults",
                 "-serial", "null"],  # one serial port, so QEMU's tree has the vty too
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            cache[key] = parse_dtb(out.read_bytes())
        return cache[key]

    yield dump


def node(root: FdtNode, path: str) -> FdtNode:
    found = root.find(path)
    assert found is not None, f"no node {path}"
    return found


def test_tree_decompiles_with_expected_values() -> None:
    tree = build_pseries_tree(
        512 * MIB, "POWER9", POWER9_PVR, ncpus=2, bootargs="console=hvc0", initrd=(0x2000000, 0x800)
    )
    text = decompile(tree)
    for expected in (
        '\tmodel = "IBM pSeries (emulated by ppcd)";',
        '\tcompatible = "qemu,pseries";',
        '\tdevice_type = "chrp";',
        "\t#address-cells = <0x02>;",
        "\tmemory@0 {",
        "reg = <0x00 0x00 0x00 0x20000000>;",
        "PowerPC,POWER9@0 {",
        "PowerPC,POWER9@1 {",
        "cpu-version = <0x4e1200>;",
        "timebase-frequency = <0x1e848000>;",
        "power-off = <0x2003>;",
        "display-character = <0x2000>;",
        'stdout-path = "/vdevice/vty@71000000";',
        'linux,stdout-path = "/vdevice/vty@71000000";',
        'bootargs = "console=hvc0";',
        "linux,initrd-start = <0x2000000>;",
        "linux,initrd-end = <0x2000800>;",
        "vty@71000000 {",
        'compatible = "hvterm1";',
        "reg = <0x71000000>;",
    ):
        assert expected in text, expected


def test_tree_structure() -> None:
    tree = parse_dtb(to_dtb(build_pseries_tree(256 * MIB, "POWER10", POWER10_PVR, ncpus=3)))
    cpus = node(tree, "/cpus").children
    assert [c.name for c in cpus] == ["PowerPC,POWER10@0", "PowerPC,POWER10@1", "PowerPC,POWER10@2"]
    assert [c.cells("reg") for c in cpus] == [[0], [1], [2]]
    assert node(tree, "/memory@0").cells("reg") == [0, 0, 0, 256 * MIB]
    assert node(tree, "/rtas").cells("power-off") == [0x2003]
    assert node(tree, "/chosen").string("stdout-path") == "/vdevice/vty@71000000"
    assert node(tree, "/vdevice/vty@71000000").string("device_type") == "serial"
    assert "bootargs" not in node(tree, "/chosen").props  # QEMU omits an empty command line
    handles = [n.phandle for _, n in tree.walk()]
    assert None not in handles and len(set(handles)) == len(handles)


def test_compat_mode_sets_cpu_version() -> None:
    tree = build_pseries_tree(256 * MIB, "POWER9", POWER9_PVR, cpu_version=0x0F000004)
    cpu = node(tree, "/cpus/PowerPC,POWER9@0")
    assert cpu.cells("cpu-version") == [0x0F000004]
    assert "ibm,dec-bits" not in cpu.props  # the large decrementer is ISA 3.00


def test_rtas_token_table_matches_the_numbering() -> None:
    assert RTAS_TOKENS["display-character"] == 0x2000
    assert RTAS_TOKENS["get-time-of-day"] == 0x2001
    assert RTAS_TOKENS["set-time-of-day"] == 0x2002
    assert RTAS_TOKENS["power-off"] == 0x2003
    assert RTAS_TOKENS["system-reboot"] == 0x2004
    assert sorted(RTAS_TOKENS.values()) == list(range(0x2000, 0x2000 + len(RTAS_TOKENS)))


def test_rtas_services_are_selectable() -> None:
    tree = build_pseries_tree(256 * MIB, "POWER9", POWER9_PVR, rtas_services=["power-off"])
    rtas = node(tree, "/rtas")
    assert [name for name in rtas.props if name in RTAS_TOKENS] == ["power-off"]
    assert "ibm,extended-os-term" not in rtas.props


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cpu_name": "POWER7"}, "unknown CPU model 'POWER7'"),
        ({"ram_size": 0}, "positive multiple of 4 KiB"),
        ({"ram_size": 4097}, "positive multiple of 4 KiB"),
        ({"ncpus": 0}, "at least one vCPU"),
        ({"timebase_hz": 1 << 32}, "does not fit in one cell"),
        ({"cpu_version": 0x1234}, "not a known logical PVR"),
        ({"cpu_name": "POWER8", "cpu_version": 0x0F000005}, "cannot run in compat mode"),
        ({"stdout_path": "vty"}, "absolute node path"),
        ({"rtas_services": ["power-off", "make-coffee"]}, "unknown RTAS services: make-coffee"),
        ({"initrd": (0xFFFFF000, 0x2000)}, "below 4 GiB"),
        ({"bootargs": "a\0b"}, "NUL"),
        ({"pvr": -1}, "32 bits"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"ram_size": 256 * MIB, "cpu_name": "POWER9", "pvr": POWER9_PVR}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_pseries_tree(**args)  # type: ignore[arg-type]


# --- QEMU as the oracle ---------------------------------------------------------------------


def test_rtas_tokens_match_qemu(qemu_tree: QemuDumper) -> None:
    qemu_rtas = node(qemu_tree(), "/rtas")
    ours = node(build_pseries_tree(256 * MIB, "POWER9", POWER9_PVR), "/rtas")
    included = {name: ours.cells(name) for name in ours.props if name in RTAS_TOKENS}
    assert set(DEFAULT_RTAS_SERVICES) == set(included)
    assert included == {name: qemu_rtas.cells(name) for name in included}
    # The whole table, so that services enabled later use QEMU's numbers too.
    assert {name: [token] for name, token in RTAS_TOKENS.items()} == {
        name: qemu_rtas.cells(name) for name in RTAS_TOKENS
    }
    for name in ("rtas-size", "rtas-error-log-max"):
        assert ours.prop(name) == qemu_rtas.prop(name), name
    assert ours.strings("ibm,hypertas-functions") == list(QEMU_HYPERTAS_FUNCTIONS)
    assert ours.prop("ibm,hypertas-functions") == qemu_rtas.prop("ibm,hypertas-functions")


def test_rtas_size_matches_qemu_for_more_cpus(qemu_tree: QemuDumper) -> None:
    ours = build_pseries_tree(256 * MIB, "POWER9", POWER9_PVR, ncpus=4)
    assert node(ours, "/rtas").prop("rtas-size") == node(qemu_tree(smp=4), "/rtas").prop(
        "rtas-size"
    )


@pytest.mark.parametrize(
    "cpu, compat, ram_mib, cpu_version",
    [
        ("POWER9", "", 256, None),
        ("POWER8", "", 256, None),
        ("POWER10", "", 256, None),
        ("POWER9", "power8", 256, 0x0F000004),
        ("POWER9", "power7", 256, 0x0F000003),
        ("POWER8", "power7", 256, 0x0F000003),
        ("POWER9", "", 768, None),
        ("POWER9", "", 3072, None),
    ],
)
def test_nodes_match_qemu(
    qemu_tree: QemuDumper, cpu: str, compat: str, ram_mib: int, cpu_version: int | None
) -> None:
    """Every property we emit has QEMU's value (phandles aside: those are numbered differently)."""
    qemu = qemu_tree(cpu=cpu, ram_mib=ram_mib, smp=2, compat=compat)
    ours = build_pseries_tree(ram_mib * MIB, cpu, PVRS[cpu], ncpus=2, cpu_version=cpu_version)
    ours_nodes = {path: n for path, n in ours.walk()}
    qemu_nodes = {path: n for path, n in qemu.walk()}
    assert set(ours_nodes) <= set(qemu_nodes), "nodes QEMU does not have"
    for path, ours_node in ours_nodes.items():
        qemu_props = qemu_nodes[path].props
        for name, value in ours_node.props.items():
            if name not in ("phandle", "model", "ibm,architecture-vec-5"):
                assert qemu_props.get(name) == value, f"{path}:{name}"
    # The cpu nodes carry the same property set, apart from hotplug (DRC) bookkeeping.
    for n in range(2):
        path = f"/cpus/PowerPC,{cpu}@{n}"
        assert set(qemu_nodes[path].props) - set(ours_nodes[path].props) == {"ibm,my-drc-index"}
    # QEMU's model differs only in the emulator's name.
    assert node(qemu, "/").string("model") == "IBM pSeries (emulated by qemu)"
    assert node(qemu, "/chosen").prop("ibm,architecture-vec-5") == b"\0\0"
