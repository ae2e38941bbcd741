"""The pseries device tree handed to the guest, shaped like QEMU 7.2's (``-M pseries,x-vof=on``).

Node names, property names and values follow what QEMU puts in the tree (see
``qemu-system-ppc64 -M pseries,x-vof=on,dumpdtb=q.dtb``), so a guest written for QEMU's pseries
finds the same things here. Parts of QEMU's tree describing hardware ppcd does not model (PCI host
bridge, XICS interrupt controller, event sources, NVRAM, hotplug DRCs, NUMA) are left out: a guest
that finds no node for a device does not try to drive it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ppcd.machine.fdt import FdtNode, assign_phandles, cells64

# RTAS service name -> token, numbered as QEMU numbers them (RTAS_TOKEN_BASE 0x2000 + the index in
# hw/ppc/spapr.h), so that guests and tests written against QEMU pass the same tokens to ppcd.
RTAS_TOKENS: dict[str, int] = {
    "display-character": 0x2000,
    "get-time-of-day": 0x2001,
    "set-time-of-day": 0x2002,
    "power-off": 0x2003,
    "system-reboot": 0x2004,
    "query-cpu-stopped-state": 0x2005,
    "start-cpu": 0x2006,
    "stop-self": 0x2007,
    "ibm,get-system-parameter": 0x2008,
    "ibm,set-system-parameter": 0x2009,
    "ibm,set-xive": 0x200A,
    "ibm,get-xive": 0x200B,
    "ibm,int-off": 0x200C,
    "ibm,int-on": 0x200D,
    "check-exception": 0x200E,
    "event-scan": 0x200F,
    "ibm,set-tce-bypass": 0x2010,
    "quiesce": 0x2011,
    "nvram-fetch": 0x2012,
    "nvram-store": 0x2013,
    "read-pci-config": 0x2014,
    "write-pci-config": 0x2015,
    "ibm,read-pci-config": 0x2016,
    "ibm,write-pci-config": 0x2017,
    "ibm,query-interrupt-source-number": 0x2018,
    "ibm,change-msi": 0x2019,
    "set-indicator": 0x201A,
    "set-power-level": 0x201B,
    "get-power-level": 0x201C,
    "get-sensor-state": 0x201D,
    "ibm,configure-connector": 0x201E,
    "ibm,os-term": 0x201F,
    "ibm,set-eeh-option": 0x2020,
    "ibm,get-config-addr-info2": 0x2021,
    "ibm,read-slot-reset-state2": 0x2022,
    "ibm,set-slot-reset": 0x2023,
    "ibm,configure-pe": 0x2024,
    "ibm,slot-error-detail": 0x2025,
    "ibm,query-pe-dma-window": 0x2026,
    "ibm,create-pe-dma-window": 0x2027,
    "ibm,remove-pe-dma-window": 0x2028,
    "ibm,reset-pe-dma-window": 0x2029,
    "ibm,suspend-me": 0x202A,
    "ibm,nmi-register": 0x202B,
    "ibm,nmi-interlock": 0x202C,
}

# The services advertised by default: the ones that need no device ppcd lacks (no PCI, XICS,
# NVRAM, sensors or event sources), so the tree promises nothing the RTAS handler cannot do.
DEFAULT_RTAS_SERVICES: tuple[str, ...] = (
    "display-character",
    "get-time-of-day",
    "set-time-of-day",
    "power-off",
    "system-reboot",
    "query-cpu-stopped-state",
    "start-cpu",
    "stop-self",
    "ibm,get-system-parameter",
    "ibm,set-system-parameter",
    "ibm,os-term",
)

# QEMU 7.2's ibm,hypertas-functions: hypervisor feature flags, advertised as QEMU does so the
# guest ABI matches; an hcall the machine lacks answers H_FUNCTION as it would on PowerVM.
QEMU_HYPERTAS_FUNCTIONS: tuple[str, ...] = (
    "hcall-pft",
    "hcall-term",
    "hcall-dabr",
    "hcall-interrupt",
    "hcall-tce",
    "hcall-vio",
    "hcall-splpar",
    "hcall-join",
    "hcall-bulk",
    "hcall-set-mode",
    "hcall-sprg0",
    "hcall-copy",
    "hcall-debug",
    "hcall-vphn",
    "hcall-multi-tce",
    "hcall-hpt-resize",
    "hcall-watchdog",
)

VTY_REG = 0x71000000  # QEMU's first VIO device address (SPAPR_VIO_REG_BASE)
CPU_CLOCK_HZ = 1_000_000_000  # QEMU's fixed clock-frequency for TCG
RTAS_ERROR_LOG_MAX = 2048

# ISA level (x100) of each supported CPU model, and of the logical PVRs a compat mode sets.
_CPU_ISA = {"POWER8": 207, "POWER9": 300, "POWER10": 310}
_LOGICAL_PVR_ISA = {0x0F000002: 205, 0x0F000003: 206, 0x1F000003: 206, 0x0F000004: 207,
                    0x0F000005: 300, 0x0F000006: 310}

# ibm,pa-features as QEMU 7.2 gives them (pa_features_206 / _207 / _300 after its fixups; none
# below ISA 2.06); QEMU 7.2 gives POWER10 the ISA 3.00 table too.
_PA_FEATURES_206 = bytes.fromhex("0600f63fc70080c0")
_PA_FEATURES_207 = bytes.fromhex("1800f63fc7c080f0800000000000000000008000800080000000")
_PA_FEATURES_300 = bytes.fromhex(
    "4200f63f c7c080f0 80000000 00000000 00008000 80008000 00008000 80008000 80008000"
    " c0008000 80008000 80008000 80008000 80008000 80008000 80008000 80000000"
)

# 4K and 64K base pages with their actual page sizes and the matching SLB/PTE encodings.
_SEGMENT_PAGE_SIZES = [0x0C, 0x000, 1, 0x0C, 0x0000, 0x10, 0x110, 1, 0x10, 0x0001]
_RADIX_AP_ENCODINGS = [0x0000000C, 0xA0000010, 0x20000015, 0x4000001E]  # 4K, 64K, 2M, 1G
_DEC_BITS = 56  # large decrementer width of ISA 3.00+


def rtas_size(ncpus: int) -> int:
    """QEMU's rtas-size: RTAS_MIN_SIZE + error log + the FWNMI save area (8 + 16 per vCPU)."""
    return 20 + RTAS_ERROR_LOG_MAX + 8 + 16 * ncpus


def hpt_shift(ram_size: int) -> int:
    """log2 of the hashed page table size QEMU picks for this much RAM (ibm,pft-size)."""
    return min(max((ram_size - 1).bit_length() - 7, 18), 46)


def _memory_chunks(ram_size: int) -> list[tuple[int, int]]:
    """RAM split as QEMU splits it: power-of-two sized, naturally aligned blocks."""
    chunks = []
    start = 0
    while start < ram_size:
        size = 1 << ((ram_size - start).bit_length() - 1)
        if start:
            size = min(size, start & -start)
        chunks.append((start, size))
        start += size
    return chunks


def build_pseries_tree(
    ram_size: int,
    cpu_name: str,
    pvr: int,
    ncpus: int = 1,
    timebase_hz: int = 512_000_000,
    cpu_version: int | None = None,
    large_decrementer: bool | None = None,
    stdout_path: str = "/vdevice/vty@71000000",
    bootargs: str = "",
    initrd: tuple[int, int] | None = None,
    rtas_services: Iterable[str] = DEFAULT_RTAS_SERVICES,
    hypertas_functions: Iterable[str] = QEMU_HYPERTAS_FUNCTIONS,
) -> FdtNode:
    """The root of the device tree of a pseries machine.

    ``cpu_version`` is the logical PVR of a compat mode (e.g. 0x0f000004 for POWER8 mode); when
    set, the cpu nodes advertise it and the ISA features of that level, like QEMU's
    ``max-cpu-compat``. ``large_decrementer`` says whether ``ibm,dec-bits`` is advertised: QEMU
    decides it from max-cpu-compat, not from the mode CAS negotiates (default: from the
    compat mode's ISA level). ``initrd`` is (guest address, size). ``rtas_services`` names the RTAS
    services to advertise (keys of ``RTAS_TOKENS``).
    """
    isa = _CPU_ISA.get(cpu_name)
    if isa is None:
        raise ValueError(f"unknown CPU model {cpu_name!r}; expected one of {', '.join(_CPU_ISA)}")
    if ram_size <= 0 or ram_size % 4096:
        raise ValueError(f"RAM size {ram_size:#x} must be a positive multiple of 4 KiB")
    if ncpus < 1:
        raise ValueError(f"need at least one vCPU, got {ncpus}")
    if not 0 < timebase_hz <= 0xFFFFFFFF:
        raise ValueError(f"timebase frequency {timebase_hz} does not fit in one cell")
    if not stdout_path.startswith("/"):
        raise ValueError(f"stdout path {stdout_path!r} must be an absolute node path")
    compat_isa = isa
    if cpu_version is not None:
        if cpu_version not in _LOGICAL_PVR_ISA:
            raise ValueError(f"cpu_version {cpu_version:#x} is not a known logical PVR")
        compat_isa = _LOGICAL_PVR_ISA[cpu_version]
        if compat_isa > isa:
            raise ValueError(f"{cpu_name} cannot run in compat mode {cpu_version:#x}")
    services = list(rtas_services)
    unknown = [s for s in services if s not in RTAS_TOKENS]
    if unknown:
        raise ValueError(f"unknown RTAS services: {', '.join(unknown)}")

    root = FdtNode("")
    root.set_prop("device_type", "chrp")
    root.set_prop("model", "IBM pSeries (emulated by ppcd)")
    root.set_prop("compatible", "qemu,pseries")
    root.set_prop("#address-cells", 2)
    root.set_prop("#size-cells", 2)

    for start, size in _memory_chunks(ram_size):
        memory = root.add_child(f"memory@{start:x}")
        memory.set_prop("device_type", "memory")
        memory.set_prop("reg", cells64([start, size]))

    vdevice = root.add_child("vdevice")
    vdevice.set_prop("device_type", "vdevice")
    vdevice.set_prop("compatible", "IBM,vdevice")
    vdevice.set_prop("#address-cells", 1)
    vdevice.set_prop("#size-cells", 0)
    vdevice.set_prop("#interrupt-cells", 2)
    vdevice.set_empty("interrupt-controller")
    vty = vdevice.add_child(f"vty@{VTY_REG:x}")
    # No "interrupts": without an interrupt controller the hvc driver polls the console.
    vty.set_prop("reg", VTY_REG)
    vty.set_prop("device_type", "serial")
    vty.set_prop("compatible", "hvterm1")

    cpus = root.add_child("cpus")
    cpus.set_prop("#address-cells", 1)
    cpus.set_prop("#size-cells", 0)
    for n in range(ncpus):
        _add_cpu(
            cpus,
            n,
            cpu_name,
            pvr if cpu_version is None else cpu_version,
            isa,
            compat_isa,
            compat_isa >= 300 if large_decrementer is None else large_decrementer,
            timebase_hz,
            hpt_shift(ram_size),
        )

    rtas = root.add_child("rtas")
    rtas.set_prop("ibm,hypertas-functions", list(hypertas_functions))
    rtas.set_prop("rtas-size", rtas_size(ncpus))
    rtas.set_prop("rtas-error-log-max", RTAS_ERROR_LOG_MAX)
    if "event-scan" in services:
        rtas.set_prop("rtas-event-scan-rate", 1)
    if "ibm,os-term" in services:
        rtas.set_empty("ibm,extended-os-term")  # our ibm,os-term returns to the caller, as QEMU's
    for name in sorted(services, key=RTAS_TOKENS.__getitem__):
        rtas.set_prop(name, RTAS_TOKENS[name])

    chosen = root.add_child("chosen")
    if bootargs:
        chosen.set_prop("bootargs", bootargs)
    if initrd is not None:
        start, size = initrd
        if start < 0 or size < 0 or start + size > 0xFFFFFFFF:
            raise ValueError(f"initrd {start:#x}+{size:#x} must lie below 4 GiB")
        chosen.set_prop("linux,initrd-start", start)
        chosen.set_prop("linux,initrd-end", start + size)
    chosen.set_prop("stdout-path", stdout_path)
    chosen.set_prop("linux,stdout-path", stdout_path)
    # The CAS result, empty until the guest negotiates (KVMPPC_H_CAS rewrites it); Linux reads it
    # to pick the MMU mode, hash when absent or empty.
    chosen.set_prop("ibm,architecture-vec-5", b"\0\0")

    assign_phandles(root)
    return root


def _add_cpu(
    cpus: FdtNode,
    n: int,
    cpu_name: str,
    version: int,
    isa: int,
    compat_isa: int,
    large_decrementer: bool,
    timebase_hz: int,
    pft_shift: int,
) -> None:
    cpu = cpus.add_child(f"PowerPC,{cpu_name}@{n:x}")
    cpu.set_prop("reg", n)
    cpu.set_prop("device_type", "cpu")
    cpu.set_prop("cpu-version", version)
    for cache in ("d", "i"):
        cpu.set_prop(f"{cache}-cache-block-size", 128)
        cpu.set_prop(f"{cache}-cache-line-size", 128)
    cpu.set_prop("d-cache-size", 0x8000)
    cpu.set_prop("i-cache-size", 0x8000)
    cpu.set_prop("timebase-frequency", timebase_hz)
    cpu.set_prop("clock-frequency", CPU_CLOCK_HZ)
    cpu.set_prop("slb-size", 32)
    cpu.set_prop("ibm,slb-size", 32)
    cpu.set_prop("status", "okay")
    cpu.set_empty("64-bit")
    cpu.set_prop("ibm,purr", 1)
    cpu.set_prop("ibm,spurr", 1)
    cpu.set_prop("ibm,processor-segment-sizes", [28, 40, 0xFFFFFFFF, 0xFFFFFFFF])
    cpu.set_prop("ibm,vmx", 2)  # 2: VMX and VSX
    cpu.set_prop("ibm,dfp", 1)
    cpu.set_prop("ibm,segment-page-sizes", _SEGMENT_PAGE_SIZES)
    if compat_isa >= 300:
        cpu.set_prop("ibm,pa-features", _PA_FEATURES_300)
    elif compat_isa >= 207:
        cpu.set_prop("ibm,pa-features", _PA_FEATURES_207)
    elif compat_isa >= 206:
        cpu.set_prop("ibm,pa-features", _PA_FEATURES_206)
    cpu.set_prop("ibm,chip-id", 0)
    cpu.set_prop("ibm,pft-size", [0, pft_shift])
    cpu.set_prop("ibm,ppc-interrupt-server#s", n)  # one thread per core
    cpu.set_prop("ibm,ppc-interrupt-gserver#s", [n, 0])
    if isa >= 300:
        cpu.set_prop("ibm,processor-radix-AP-encodings", _RADIX_AP_ENCODINGS)
    if large_decrementer:
        cpu.set_prop("ibm,dec-bits", _DEC_BITS)
