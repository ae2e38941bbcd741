"""Preparing a machine in the control process: guest RAM, the kernel image, the device tree.

The worker then only has to map the RAM and start the vCPU (DESIGN.md: ELF loading and
device-tree building stay out of the worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Optional

from ppcd.cpu.compat import CompatError

from .devicetree import build_pseries_tree
from .elfload import GuestImage, GuestImageError, load_into, read_guest_elf
from .fdt import to_dtb
from .pseries import CPU_MODELS, has_large_decrementer, max_compat_pvr
from .ram import GuestRAM

# The device tree sits 1 MiB below the top of the first 256 MiB, the area a real-mode
# guest can always reach (QEMU keeps its tree near the top of the RMA too).
FDT_AREA = 1 << 20
RMA_LIMIT = 256 << 20


@dataclass
class BootConfig:
    kernel: Optional[str]      # None: the embedded demo guest
    cpu: str = "power9"
    memory: int = 256 << 20
    smp: int = 1                               # vCPUs
    max_cpu_compat: Optional[str] = None       # QEMU's max-cpu-compat: power7, power8, ...
    compat_enforce: bool = True                # False: QEMU's TCG, which ignores the PCR
    compat_subsection: Optional[str] = None    # cpu/compat rule; None: the machine type's


def demo_kernel_path() -> str:
    return str(resources.files("ppcd.machine") / "demo" / "demo.elf")


def fdt_address(ram_size: int) -> int:
    return min(ram_size, RMA_LIMIT) - FDT_AREA


def prepare(config: BootConfig, ram: GuestRAM) -> GuestImage:
    """Load the kernel and the device tree into RAM; returns the loaded image."""
    if config.cpu not in CPU_MODELS:
        raise GuestImageError(f"unknown CPU model {config.cpu!r}: use one of "
                              + ", ".join(CPU_MODELS))
    try:
        max_compat_pvr(config.cpu, config.max_cpu_compat)
    except CompatError as e:
        raise GuestImageError(f"--max-cpu-compat: {e}") from None
    image = read_guest_elf(config.kernel or demo_kernel_path())
    at = fdt_address(ram.size)
    if image.end > at:
        raise GuestImageError(f"{image.path!r} ends at {image.end:#x}, past the device tree "
                              f"at {at:#x}: use a larger --memory")
    load_into(image, ram)
    model = CPU_MODELS[config.cpu]
    # At reset the vCPU is in the max-cpu-compat mode and the tree says so (QEMU's).
    compat_pvr = max_compat_pvr(config.cpu, config.max_cpu_compat)
    dtb = to_dtb(build_pseries_tree(
        ram.size, model.name, model.pvr, ncpus=config.smp, cpu_version=compat_pvr or None,
        large_decrementer=has_large_decrementer(config.cpu, config.max_cpu_compat)))
    if len(dtb) > FDT_AREA:
        raise GuestImageError("device tree too large")
    ram.write(at, dtb)
    return image
