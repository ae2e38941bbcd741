"""Entry point of the vCPU worker process: `python -m ppcd.machine.worker CONFIG`.

CONFIG is JSON written by the control process: the inherited memfds of guest RAM, the dirty
map and the attention flag, the control channel's socket, the CPU model, the entry state and
the console descriptors. The worker imports only the standard library and ppcd's CPU and
machine code so it can run under PyPy (Python 3.9).

The worker starts stopped and obeys requests on the control channel (ppcd/control.py). While
the vCPU runs it executes slices of SLICE instructions and looks at the attention flag between
slices; while it is stopped it blocks on the channel.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

from ppcd import control
from ppcd.cpu.interpreter import IDLE, Interpreter, MachineStop
from ppcd.cpu.spr import SPRS
from ppcd.migration import snapshot

from .console import Console
from .debug import STEP, Debugger
from .pseries import Machine
from .ram import GuestRAM
from .rtas import REBOOT_STATUS
from .scheduler import STOPPED

# Instructions between two looks at the attention flag: about 10 ms under CPython's
# interpreter, well under a millisecond under PyPy; a stop is answered within one slice.
SLICE = 10_000

# Plain integer registers, by their CPUState attribute (xer and dec are composed properties).
SCALAR_REGISTERS = ("pc", "msr", "cr", "xer", "lr", "ctr", "tar", "fpscr", "cfar", "dec",
                    "icount", "tb_offset", "pvr", "pir", "dabr", "dabrx")
VECTOR_REGISTERS = ("gpr", "fpr")


class _Quit(Exception):
    pass


def get_registers(cpu) -> Dict[str, Any]:
    """All architected state: GPRs, FPRs, the scalar registers and every SPR by number."""
    registers: Dict[str, Any] = {name: getattr(cpu, name) for name in SCALAR_REGISTERS}
    for name in VECTOR_REGISTERS:
        registers[name] = list(getattr(cpu, name))
    registers["spr"] = {str(n): spr.read(cpu) & spr.mask for n, spr in SPRS.items()}
    registers["reserve"] = cpu.reserve
    registers["compat_pvr"] = cpu.compat_pvr    # read-only: the hypervisor sets the mode
    registers["halted"] = cpu.halted            # read-only: ceded or stopped (RTAS)
    return registers


def set_registers(cpu, registers: Dict[str, Any]) -> None:
    """Change the registers named (same names as get_registers); lists may be {index: value}."""
    for name, value in registers.items():
        if name in SCALAR_REGISTERS:
            setattr(cpu, name, int(value))
        elif name in VECTOR_REGISTERS:
            target = getattr(cpu, name)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for index, item in items:
                target[int(index)] = int(item)
        elif name == "spr":
            for number, item in value.items():
                spr = SPRS.get(int(number))
                if spr is None or spr.write is None:
                    raise ValueError(f"SPR {number} cannot be written")
                spr.write(cpu, int(item) & spr.mask)
        else:
            raise ValueError(f"unknown register {name!r}")


class Worker:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.ram = GuestRAM(config["ram_size"], config["ram_fd"], config["dirty_fd"])
        self.console = Console(config.get("console_out_fd"), config.get("console_in_fd"))
        self.reported_dropped = 0   # console output bytes the control process knows were lost
        self.channel = control.BlockingChannel(
            socket.socket(fileno=config["channel_fd"]))
        self.attention = control.Attention(config["attention_fd"])
        # Both count the guest's instructions since its reset, migrated ones included
        # (cpu.icount travels in the stream): a destination stops where the source would have.
        self.limit: Optional[int] = config.get("max_instructions")
        self.break_icount: Optional[int] = None     # QMP replay-break
        self.parent = os.getppid()
        self.running = False
        self.stuck_reported = False
        self.throttle = 0           # percent of time the vCPU sleeps (migration auto-converge)
        self.debugger = Debugger()
        self.machine = self._new_machine()
        self.handlers: Dict[str, Callable[[Dict[str, Any]], Any]] = {
            control.OP_CONT: self.cont,
            control.OP_STOP: self.stop,
            control.OP_STEP: self.step,
            control.OP_GET_REGISTERS: lambda args: get_registers(self._cpu(args)),
            control.OP_SET_REGISTERS: self.set_registers,
            control.OP_RESET: self.reset,
            control.OP_QUIT: self.quit,
            control.OP_SAVE_STATE: lambda args: snapshot.capture(self.machine),
            control.OP_LOAD_STATE: self.load_state,
            control.OP_THROTTLE: self.set_throttle,
            control.OP_BREAK_AT: self.break_at,
            control.OP_CLOCK: lambda args: {"icount": self.machine.scheduler.now()},
            control.OP_INSERT_BREAKPOINT: self.insert_breakpoint,
            control.OP_REMOVE_BREAKPOINT: self.remove_breakpoint,
            control.OP_CLEAR_BREAKPOINTS: lambda args: self.debugger.clear(),
            control.OP_DEBUG_STEP: self.debug_step,
            control.OP_INVALIDATE: self.invalidate,
        }

    def _new_machine(self) -> Machine:
        engine = self.config.get("engine")
        options = {"engine": engine} if engine else {}
        machine = Machine(self.ram, self.config["cpu"], self.console,
                          max_compat=self.config.get("max_cpu_compat"),
                          compat_enforce=self.config.get("compat_enforce", True),
                          smp=int(self.config.get("smp", 1)), **options)
        machine.reset_cpu(self.config["fdt_address"])
        # The debugger steps each vCPU with that vCPU's reference interpreter.
        self.interpreters = [engine if isinstance(engine, Interpreter)
                             else getattr(engine, "interp", None) or Interpreter(cpu)
                             for cpu, engine in zip(machine.cpus, machine.engines)]
        # Breakpoints outlive a reset, as QEMU's do.
        self.debugger.attach(machine.cpu)
        return machine

    def _cpu(self, args: Dict[str, Any]):
        """The vCPU a request names by index ("cpu"; vCPU 0 when it names none)."""
        index = int(args.get("cpu", 0))
        cpus = self.machine.cpus
        if not 0 <= index < len(cpus):
            raise ValueError(f"no vCPU {index}: the machine has {len(cpus)}")
        return cpus[index]

    # --- requests ----------------------------------------------------------------------
    def cont(self, args: Dict[str, Any]) -> Dict[str, Any]:
        self.running = True
        return {}

    def stop(self, args: Dict[str, Any]) -> Dict[str, Any]:
        self.running = False
        cpu = self.machine.cpu
        return {"pc": cpu.pc, "icount": self.machine.scheduler.now(),
                "cpu": self.machine.scheduler.current}

    def step(self, args: Dict[str, Any]) -> Dict[str, Any]:
        self.running = False
        self._execute(int(args.get("count", 1)))
        return self.stop(args)

    def set_registers(self, args: Dict[str, Any]) -> Dict[str, Any]:
        set_registers(self._cpu(args), args["registers"])
        return {}

    def insert_breakpoint(self, args: Dict[str, Any]) -> Dict[str, Any]:
        self.debugger.insert(args["kind"], int(args["address"]), int(args["length"]))
        return {}

    def remove_breakpoint(self, args: Dict[str, Any]) -> Dict[str, Any]:
        return {"removed": self.debugger.remove(args["kind"], int(args["address"]),
                                                int(args["length"]))}

    def debug_step(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """One instruction of one vCPU (the others stay where they are)."""
        self.running = False
        cpu = self._cpu(args)
        index = self.machine.cpus.index(cpu)
        scheduler = self.machine.scheduler
        if scheduler.current != index:
            cpu.reserve = None      # as when the scheduler switches vCPUs
            scheduler.current = index
        stop = self._execute(1, step=True)
        return {"reason": STEP, "cpu": index} if stop is None else stop

    def invalidate(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Drop translations of RAM the control process rewrote (the debugger's writes)."""
        mem = self.machine.cpu.mem
        if mem.code_written is not None:
            mem.code_written(int(args["address"]), int(args["length"]))
        return {}

    def reset(self, args: Dict[str, Any]) -> Dict[str, Any]:
        self.running = False
        self.stuck_reported = False
        self.machine = self._new_machine()
        return {}

    def quit(self, args: Dict[str, Any]) -> Dict[str, Any]:
        raise _Quit()

    def load_state(self, args: Dict[str, Any]) -> Dict[str, Any]:
        # A fresh machine: nothing translated from the RAM the stream has just replaced.
        self.running = False
        self.stuck_reported = False
        self.machine = self._new_machine()
        snapshot.restore(self.machine, args["state"])
        return {}

    def set_throttle(self, args: Dict[str, Any]) -> Dict[str, Any]:
        percent = int(args["percent"])
        if not 0 <= percent < 100:
            raise ValueError(f"throttle of {percent}% is outside 0..99")
        self.throttle = percent
        return {}

    def break_at(self, args: Dict[str, Any]) -> Dict[str, Any]:
        icount = args.get("icount")
        if icount is not None and int(icount) < self.machine.scheduler.now():
            return {"past": True}
        self.break_icount = None if icount is None else int(icount)
        return {"past": False}

    def handle(self, messages: List[Dict[str, Any]]) -> None:
        for message in messages:
            handler = self.handlers.get(message.get("op", ""))
            try:
                if handler is None:
                    raise ValueError(f"unknown request {message.get('op')!r}")
                reply = {"id": message.get("id"), "return": handler(message.get("args") or {})}
            except _Quit:
                self.channel.send({"id": message.get("id"), "return": {}})
                raise
            except (KeyError, ValueError, TypeError) as e:
                reply = {"id": message.get("id"), "error": f"{type(e).__name__}: {e}"}
            self.channel.send(reply)

    # --- execution -----------------------------------------------------------------------
    def _event(self, name: str, **data: Any) -> None:
        self.running = False
        self.channel.send({"event": name, "data": data})

    def _execute(self, budget: int, step: bool = False) -> Optional[Dict[str, Any]]:
        """Run up to `budget` instructions; a guest stop or an engine failure stops the vCPU.

        Returns the debugger's stop (a breakpoint, a watchpoint or the end of a step), which
        is also sent as an event unless this is a step, whose reply carries it.
        """
        machine = self.machine
        scheduler = machine.scheduler
        stops: List[Dict[str, Any]] = []

        def debug_run(index: int, budget: int) -> Optional[str]:
            # Breakpoints are the machine's; the debugger follows the vCPU whose turn it is.
            self.debugger.attach(machine.cpus[index], self.interpreters[index])
            outcome, stop = self.debugger.run(budget, step)
            if stop is None:
                return outcome
            stop["cpu"] = index
            stops.append(stop)
            return STOPPED

        try:
            if step:
                outcome = debug_run(scheduler.current, 1)
            elif self.debugger.active:
                outcome = scheduler.run(budget, debug_run)
            else:
                outcome = scheduler.run(budget)
        except MachineStop as end:
            self._event(control.EV_RESET_REQUEST if end.status == REBOOT_STATUS
                        else control.EV_SHUTDOWN)
            return None
        except Exception as e:   # an emulator bug: report it, keep the state for inspection
            traceback.print_exc()
            cpu = machine.cpus[scheduler.current]
            self._event(control.EV_ERROR, reason=f"{type(e).__name__}: {e} at pc {cpu.pc:#x}"
                        + (f" on vCPU {scheduler.current}" if len(machine.cpus) > 1 else ""))
            return None
        stop = stops[0] if stops else None
        if stop is not None and not step:
            self._event(control.EV_DEBUG_STOP, **stop)
        elif outcome == IDLE and self.running:
            self._idle()
        return stop

    def _idle(self) -> None:
        """Every vCPU is idle with no timer armed: wait for console input or a request."""
        console = self.console
        if console.pending and self.machine.wake_ceded():
            return
        if console.in_fd is None and not self.stuck_reported:
            self.stuck_reported = True
            pc = self.machine.cpu.pc
            self.channel.send({"event": control.EV_STUCK, "data": {"reason": (
                f"guest is idle at pc {pc:#x} with no timer armed and no console input: "
                "it can never wake")}})
        waits = [self.channel.sock] + ([console.in_fd] if console.in_fd is not None else [])
        readable = select.select(waits, [], [])[0]
        if console.in_fd is not None and console.in_fd in readable:
            console.fill()
            if console.pending:
                self.machine.wake_ceded()
        if self.channel.sock in readable:
            self.attention.clear()
            self.handle(self.channel.drain())

    def _run_slice(self) -> None:
        # A slice advances every running vCPU by this much: with N of them it runs N times
        # as many instructions, so the time between two looks at the flag stays the same.
        budget = max(1, SLICE // max(1, len(self.machine.scheduler.runnable())))
        now = self.machine.scheduler.now()
        if self.break_icount is not None:
            icount = now
            if icount >= self.break_icount:
                self.break_icount = None
                self._event(control.EV_BREAK, icount=icount)
                return
            budget = min(budget, self.break_icount - icount)
        if self.limit is not None:
            budget = min(budget, self.limit - now)
            if budget <= 0:
                self._event(control.EV_LIMIT, reason=(
                    f"instruction limit of {self.limit} reached at pc {self.machine.cpu.pc:#x}"))
                return
        self._execute(budget)
        if self.console.dropped != self.reported_dropped:
            lost = self.console.dropped - self.reported_dropped
            self.reported_dropped = self.console.dropped
            self.channel.send({"event": control.EV_CONSOLE_DROPPED, "data": {"bytes": lost}})

    def serve(self) -> None:
        attention = self.attention
        while True:
            if not self.running:
                self.handle(self.channel.receive())
                continue
            if attention.is_set():
                # Clear before draining: a request sent after this sets the flag again.
                attention.clear()
                self.handle(self.channel.drain())
            elif os.getppid() != self.parent:
                return   # the control process died without closing the channel
            elif self.throttle:
                started = time.monotonic()
                self._run_slice()
                # QEMU's cpu_throttle: sleep P/(100-P) of the time run, woken by a request.
                pause = (time.monotonic() - started) * self.throttle / (100 - self.throttle)
                select.select([self.channel.sock], [], [], pause)
            else:
                self._run_slice()


def main(argv: List[str]) -> int:
    # The control process decides what Ctrl-C or a service stop means, and ends the worker;
    # both get the signal when it goes to the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker = Worker(json.loads(argv[1]))
    try:
        worker.serve()
    except (_Quit, control.ChannelError, BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
