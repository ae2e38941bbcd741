"""The DTB writer/reader, checked against dtc (the reference implementation) and by round trips."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from ppcd.machine.fdt import (
    FDT_MAGIC,
    FdtNode,
    assign_phandles,
    cells64,
    parse_dtb,
    read_header,
    read_reservations,
    to_dtb,
    u64,
)

needs_dtc = pytest.mark.skipif(
    shutil.which("dtc") is None, reason="dtc (Debian package device-tree-compiler) is not installed"
)


def dtc(blob: bytes, out_format: str = "dts") -> bytes:
    """Run ``dtc -I dtb``; fail on any warning or error, since those mean a malformed blob."""
    proc = subprocess.run(
        ["dtc", "-I", "dtb", "-O", out_format, "-"], input=blob, capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b"", proc.stderr.decode()
    return proc.stdout


def sample_tree() -> FdtNode:
    root = FdtNode("")
    root.set_prop("#address-cells", 2)
    root.set_prop("#size-cells", 2)
    root.set_prop("model", "test board")
    root.set_prop("compatible", ["test,board", "test,generic"])
    mem = root.add_child("memory@100000000")
    mem.set_prop("device_type", "memory")
    mem.set_prop("reg", cells64([0x1_0000_0000, 0x2000_0000]))
    cpus = root.add_child("cpus")
    cpus.set_prop("#address-cells", 1)
    cpus.set_prop("#size-cells", 0)
    cpu = cpus.add_child("cpu@0")
    cpu.set_prop("reg", 0)
    cpu.set_prop("device_type", "cpu")
    cpu.set_prop("ibm,ppc-interrupt-server#s", (0, 1))
    cpu.set_prop("big", u64(0x123456789ABCDEF0))
    cpu.set_prop("odd-bytes", b"\x01\x02\x03")
    cpu.set_empty("64-bit")
    root.add_child("chosen").set_prop("bootargs", "console=hvc0 quiet")
    return root


@needs_dtc
def test_dtc_decompiles_the_blob_with_the_right_values() -> None:
    blob = to_dtb(sample_tree(), boot_cpuid_phys=3, reserved=[(0x1000_0000, 0x1000)])
    text = dtc(blob).decode()
    for expected in (
        "/memreserve/\t0x0000000010000000 0x0000000000001000;",
        "#address-cells = <0x02>;",
        'model = "test board";',
        'compatible = "test,board\\0test,generic";',
        "memory@100000000 {",
        "reg = <0x01 0x00 0x00 0x20000000>;",
        "cpu@0 {",
        "ibm,ppc-interrupt-server#s = <0x00 0x01>;",
        "big = <0x12345678 0x9abcdef0>;",
        "odd-bytes = [01 02 03];",
        "64-bit;",
        'bootargs = "console=hvc0 quiet";',
    ):
        assert expected in text, expected


@needs_dtc
def test_dtc_reads_the_header_and_its_own_output_parses_back() -> None:
    tree = sample_tree()
    blob = to_dtb(tree, boot_cpuid_phys=3, reserved=[(0x1000_0000, 0x1000), (0x2000, 0x10)])
    # dtc -O dtb re-encodes what it understood (keeping boot_cpuid and reservations); reading that
    # back shows writer and reader agree with dtc on every field.
    again = dtc(blob, "dtb")
    assert parse_dtb(again) == tree
    assert read_reservations(again) == [(0x1000_0000, 0x1000), (0x2000, 0x10)]
    assert read_header(again).boot_cpuid_phys == 3


def test_header_layout() -> None:
    blob = to_dtb(sample_tree(), boot_cpuid_phys=7)
    hdr = read_header(blob)
    assert hdr.magic == FDT_MAGIC
    assert (hdr.version, hdr.last_comp_version) == (17, 16)
    assert hdr.totalsize == len(blob)
    assert hdr.boot_cpuid_phys == 7
    assert hdr.off_mem_rsvmap == 40
    assert blob[40:56] == b"\0" * 16  # only the terminating reservation entry
    assert hdr.off_dt_struct == 56
    assert hdr.off_dt_struct + hdr.size_dt_struct == hdr.off_dt_strings
    assert hdr.off_dt_strings + hdr.size_dt_strings == hdr.totalsize
    assert hdr.size_dt_struct % 4 == 0
    assert struct.unpack_from(">I", blob, hdr.off_dt_strings - 4) == (9,)  # FDT_END


def test_property_names_are_stored_once() -> None:
    root = FdtNode("")
    for i in range(5):
        child = root.add_child(f"n@{i}")
        child.set_prop("reg", i)
        child.set_prop("status", "okay")
    hdr = read_header(to_dtb(root))
    assert hdr.size_dt_strings == len(b"reg\0status\0")


def test_round_trip_through_parse_dtb() -> None:
    tree = sample_tree()
    blob = to_dtb(tree, reserved=[(0, 0x4000)])
    parsed = parse_dtb(blob)
    assert parsed == tree
    assert read_reservations(blob) == [(0, 0x4000)]
    cpu = parsed.find("/cpus/cpu@0")
    assert cpu is not None
    assert cpu.cells("ibm,ppc-interrupt-server#s") == [0, 1]
    assert cpu.prop("odd-bytes") == b"\x01\x02\x03"
    assert cpu.prop("64-bit") == b""
    assert parsed.strings("compatible") == ["test,board", "test,generic"]
    assert parsed.find("/chosen").string("bootargs") == "console=hvc0 quiet"  # type: ignore[union-attr]


def test_find_and_lookup() -> None:
    root = sample_tree()
    assert root.find("/") is root
    assert root.find("/cpus/cpu@0").name == "cpu@0"  # type: ignore[union-attr]
    assert root.find("/cpus/cpu").name == "cpu@0"  # type: ignore[union-attr]  # libfdt-style
    assert root.find("cpus").find("cpu@0") is not None  # type: ignore[union-attr]
    assert root.find("/cpus/cpu@1") is None
    assert root.find("/nothing/cpu@0") is None
    with pytest.raises(KeyError, match="no property 'absent'"):
        root.prop("absent")
    with pytest.raises(ValueError, match="not a whole number of cells"):
        root.find("/cpus/cpu@0").cells("odd-bytes")  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="holds 2 strings"):
        root.string("compatible")


def test_set_prop_replaces_in_place() -> None:
    node = FdtNode("")
    node.set_prop("a", 1)
    node.set_prop("b", 2)
    node.set_prop("a", 3)
    assert list(node.props) == ["a", "b"]
    assert node.cells("a") == [3]


def test_assign_phandles_gives_unique_handles_and_keeps_existing() -> None:
    root = sample_tree()
    root.find("/cpus").set_prop("phandle", 2)  # type: ignore[union-attr]
    assign_phandles(root)
    handles = [node.phandle for _, node in root.walk()]
    assert None not in handles
    assert len(set(handles)) == len(handles)
    assert root.find("/cpus").phandle == 2  # type: ignore[union-attr]
    assert root.phandle == 1


@pytest.mark.parametrize("name", ["", "a b", "a@", "@1", "a@b@c", "cpu/0", "ä", "x\0"])
def test_bad_node_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid node name"):
        FdtNode("").add_child(name)


def test_duplicate_child() -> None:
    root = FdtNode("")
    root.add_child("cpus")
    with pytest.raises(ValueError, match="already has a child 'cpus'"):
        root.add_child("cpus")


@pytest.mark.parametrize("name", ["", "a b", "a/b", "a@b", "é", "x\0"])
def test_bad_property_names(name: str) -> None:
    node = FdtNode("")
    with pytest.raises(ValueError, match="invalid property name"):
        node.set_prop(name, 1)
    with pytest.raises(ValueError, match="invalid property name"):
        node.set_empty(name)
    assert dict(node.props) == {}


@pytest.mark.parametrize(
    "value, error",
    [
        (-1, ValueError),
        (1 << 32, ValueError),
        ([1, 1 << 32], ValueError),
        ("a\0b", ValueError),
        (["ok", "bad\0"], ValueError),
        ("é", ValueError),
        (True, TypeError),
        ([1, "a"], TypeError),
        (1.5, TypeError),
        (None, TypeError),
    ],
)
def test_bad_property_values(value: object, error: type[Exception]) -> None:
    node = FdtNode("")
    with pytest.raises(error):
        node.set_prop("p", value)  # type: ignore[arg-type]
    assert dict(node.props) == {}


def test_bad_64bit_values() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        u64(-1)
    with pytest.raises(ValueError, match="64 bits"):
        cells64([1, 1 << 64])


def test_bad_to_dtb_arguments() -> None:
    with pytest.raises(ValueError, match="zero size"):
        to_dtb(FdtNode(""), reserved=[(0x1000, 0)])
    with pytest.raises(ValueError, match="64 bits"):
        to_dtb(FdtNode(""), reserved=[(1 << 64, 1)])
    with pytest.raises(ValueError, match="32 bits"):
        to_dtb(FdtNode(""), boot_cpuid_phys=1 << 32)
    with pytest.raises(ValueError, match="root node"):
        to_dtb(FdtNode("cpus"))


def test_bad_blobs() -> None:
    good = to_dtb(sample_tree())
    with pytest.raises(ValueError, match="too short"):
        parse_dtb(good[:20])
    with pytest.raises(ValueError, match="bad DTB magic"):
        parse_dtb(b"\0" * 4 + good[4:])
    with pytest.raises(ValueError, match="exceeds"):
        parse_dtb(good[:-8])
    hdr = read_header(good)
    # An unknown token where the first property should be.
    broken = bytearray(good)
    struct.pack_into(">I", broken, hdr.off_dt_struct + 8, 0x77)
    with pytest.raises(ValueError, match="unknown structure token 0x77"):
        parse_dtb(bytes(broken))
    # A property name offset outside the strings block.
    broken = bytearray(good)
    struct.pack_into(">I", broken, hdr.off_dt_struct + 16, 0xFFFF)
    with pytest.raises(ValueError, match="not NUL-terminated"):
        parse_dtb(bytes(broken))
    # Structure block cut before FDT_END.
    broken = bytearray(good)
    struct.pack_into(">I", broken, 36, hdr.size_dt_struct - 8)
    with pytest.raises(ValueError):
        parse_dtb(bytes(broken))
    broken = bytearray(good)
    struct.pack_into(">I", broken, 24, 18)  # last_comp_version newer than we know
    with pytest.raises(ValueError, match="unsupported DTB version"):
        parse_dtb(bytes(broken))
