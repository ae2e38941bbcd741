"""Entry point of the vCPU worker process: `python -m ppcd.machine.worker CONFIG`.

CONFIG is JSON written by the control process: the inherited memfds of guest RAM and the
dirty map, the CPU model, the entry state and the console descriptors. The worker imports
only the standard library and ppcd's CPU and machine code so it can run under PyPy.

Exit status: 0 guest powered off, 2 guest stopped for good (reason on stderr, one line),
3 guest asked for a reboot.
"""

from __future__ import annotations

import json
import sys

from ppcd.cpu.interpreter import MachineStop

from .console import Console
from .pseries import Machine
from .ram import GuestRAM

EXIT_GUEST_STOPPED = 2


def main(argv: list) -> int:
    config = json.loads(argv[1])
    ram = GuestRAM(config["ram_size"], config["ram_fd"], config["dirty_fd"])
    console = Console(config.get("console_out_fd"), config.get("console_in_fd"))
    machine = Machine(ram, config["cpu"], console)
    machine.reset_cpu(config["fdt_address"])
    limit = config.get("max_instructions")
    try:
        outcome = machine.run(limit)
    except MachineStop as stop:
        return stop.status
    cpu = machine.cpu
    if outcome == "limit":
        reason = f"instruction limit of {limit} reached at pc {cpu.pc:#x}"
    else:
        reason = (f"guest is idle at pc {cpu.pc:#x} with no timer armed and no console input: "
                  "it can never wake")
    sys.stderr.write(f"ppcd: guest stopped: {reason}\n")
    return EXIT_GUEST_STOPPED


if __name__ == "__main__":
    sys.exit(main(sys.argv))
