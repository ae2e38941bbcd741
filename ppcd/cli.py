"""The `ppcd` command line."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from typing import List, Optional

from . import __version__, client, config, journal
from .cpu.compat import COMPAT_MODES
from .daemon import ConfigError, RunOptions, run_guest
from .machine.boot import BootConfig
from .machine.elfload import GuestImageError
from .machine.pseries import CPU_MODELS, MAX_CPUS, Machine
from .machine.ram import parse_size
from .migration.machine import (
    COMPAT_RULES,
    DEFAULT_MACHINE,
    MACHINE_TYPES,
    dump_vmstate,
    machine_type,
)


def _memory(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _count(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _vcpus(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= MAX_CPUS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_CPUS}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppcd", description="An IBM POWER (pseries) virtual machine in Python.")
    parser.add_argument("--version", action="version", version=f"ppcd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a guest",
        description="Run a 64-bit POWER guest ELF on a pseries machine (the demo guest "
                    "when --kernel is not given). Exits with status 0 when the guest "
                    "powers off through RTAS.")
    run.add_argument("--config", metavar="FILE",
                     help="TOML file with any of these options as keys (memory = \"1G\", "
                          "qmp = [...], start-paused = true); the command line wins")
    run.add_argument("--kernel", metavar="ELF", help="guest ELF (big or little endian)")
    run.add_argument("--cpu", choices=sorted(CPU_MODELS), default="power9",
                     help="CPU model (default power9)")
    run.add_argument("--max-cpu-compat", choices=[m.name for m in COMPAT_MODES],
                     metavar="MODE",
                     help="newest compatibility mode the guest may run in and the mode at "
                          "reset: power7, power8, power9 (QEMU's max-cpu-compat)")
    run.add_argument("--cpu-compat-enforce", choices=("on", "off"), default="on",
                     help="refuse instructions newer than the compatibility mode as the PCR "
                          "says (on, default), or run them as QEMU's TCG does (off)")
    run.add_argument("--cpu-compat-subsection", choices=COMPAT_RULES, metavar="RULE",
                     help="when migration sends cpu/compat: nonzero (QEMU's rule), differs "
                          "(when not the max-cpu-compat mode) or never; default: the "
                          "machine type's")
    run.add_argument("--smp", type=_vcpus, default=1, metavar="N",
                     help=f"number of vCPUs, 1 to {MAX_CPUS} (default 1); vCPU 0 boots, the "
                          "guest starts the others with RTAS start-cpu, as on QEMU's pseries")
    run.add_argument("--memory", "-m", type=_memory, default=256 << 20, metavar="SIZE",
                     help="guest RAM, e.g. 256M or 1G (default 256M)")
    run.add_argument("--serial", default="stdio", metavar="BACKEND",
                     help="console backend: stdio (default), file:PATH, null, pty, "
                          "tcp:HOST:PORT,server, unix:PATH,server or serial:DEVICE|URL"
                          "[,baud=N] (any pyserial device or URL)")
    run.add_argument("--max-instructions", type=_count, metavar="N",
                     help="stop the guest (exit status 2) after N instructions")
    run.add_argument("--worker-python", default=sys.executable, metavar="INTERPRETER",
                     help="Python interpreter for the vCPU worker, e.g. pypy3")
    if "engine" in inspect.signature(Machine).parameters:
        run.add_argument("--engine", choices=("interp", "translate", "lockstep"),
                         help="execution engine of the vCPU")
    run.add_argument("--qmp", action="append", default=[], metavar="ADDRESS",
                     help="serve QMP on unix:PATH or tcp:HOST:PORT (repeatable)")
    run.add_argument("--gdb", metavar="ADDRESS",
                     help="serve gdb's remote protocol on tcp:HOST:PORT or unix:PATH")
    run.add_argument("-S", dest="start_paused", action="store_true",
                     help="do not start the vCPU: wait for the QMP command cont")
    run.add_argument("--name", help="the VM's name, as query-name reports it")
    run.add_argument("--machine", "-M", default=DEFAULT_MACHINE, metavar="TYPE",
                     help="machine type: pseries (the newest) or pseries-VERSION; "
                          "'help' lists them")
    run.add_argument("--incoming", metavar="URI",
                     help="wait for a migration on tcp:HOST:PORT, unix:PATH, file:PATH, "
                          "exec:COMMAND or defer (QMP migrate-incoming)")
    run.add_argument("--allow-exec-migration", action="store_true",
                     help="allow exec:COMMAND migration URIs (they run a shell command)")
    dump = commands.add_parser(
        "dump-vmstate", help="write the migration schema of a machine type as JSON",
        description="Write every section, field and subsection a machine type's migration "
                    "streams may carry, as JSON (the shape of QEMU's -dump-vmstate).")
    dump.add_argument("file", metavar="FILE", help="output file, - for stdout")
    dump.add_argument("--machine", "-M", default=DEFAULT_MACHINE, metavar="TYPE")
    client.add_parsers(commands)
    commands.add_parser("bench", add_help=False, help="run the engine benchmarks")
    return parser


def _bench(argv: List[str]) -> int:
    try:
        bench = importlib.import_module(".bench", __package__)
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.bench":
            raise
        sys.stderr.write("ppcd: the bench subcommand is not available in this build\n")
        return 1
    return bench.main(argv)


def _dump_vmstate(path: str, schema: dict) -> int:
    text = json.dumps(schema, indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return 0
    try:
        with open(path, "w") as out:
            out.write(text)
    except OSError as e:
        sys.stderr.write(f"ppcd: cannot write {path!r}: {e.strerror}\n")
        return 1
    return 0


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in client.SUBCOMMANDS:
        return client.run(args)
    if args.command == "run":
        journal.install()
        if args.config is not None:
            try:
                config.apply(_subparser(parser, "run"), args, argv[1:], args.config)
            except config.ConfigFileError as e:
                journal.report(str(e))
                return 1
    if args.command not in ("run", "dump-vmstate"):
        parser.print_help()
        return 1
    if args.machine == "help":
        for machine in MACHINE_TYPES:
            print(f"{machine.name:<20} {machine.description}")
        return 0
    try:
        machine = machine_type(args.machine)
    except ValueError as e:
        sys.stderr.write(f"ppcd: {e}\n")
        return 1
    if args.command == "dump-vmstate":
        return _dump_vmstate(args.file, dump_vmstate(machine))
    options = RunOptions(
        boot=BootConfig(kernel=args.kernel, cpu=args.cpu, memory=args.memory, smp=args.smp,
                        max_cpu_compat=args.max_cpu_compat,
                        compat_enforce=args.cpu_compat_enforce == "on",
                        compat_subsection=args.cpu_compat_subsection),
        serial=args.serial, max_instructions=args.max_instructions,
        worker_python=args.worker_python, engine=getattr(args, "engine", None),
        qmp=args.qmp, start_paused=args.start_paused, name=args.name, machine=machine.name,
        gdb=args.gdb,
        incoming=args.incoming, allow_exec_migration=args.allow_exec_migration)
    try:
        return run_guest(options)
    except BaseException as e:   # noqa: B036 - re-raised unless it is a person's error
        message = _person_error(e)
        if message is None:
            raise
        journal.report(message)
        return 1


def _person_error(exc: BaseException) -> Optional[str]:
    """The one line for a bad option or guest image, also when trio raised it from a task
    (as an exception group with that single error inside)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, (GuestImageError, ConfigError)):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
