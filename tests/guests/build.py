"""Build the guest programs of this folder.

Each program is a freestanding ELF for QEMU's pseries machine (and ppcd), built with Debian's
cross compilers for big-endian (ELFv1) or little-endian (ELFv2) POWER9, linked by guest.ld to
run at 0x400000.  The plain-C programs also build for the host, where they print the same text.

Builds are cached under build/ (or a given folder), keyed by a hash of the compiler, the flags
and every input file, so repeated test runs only pay for what changed.

    python tests/guests/build.py [--endian be|le|both] [--host] [NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

GUEST_DIR = pathlib.Path(__file__).resolve().parent
DEFAULT_BUILD_DIR = GUEST_DIR / "build"

# Programs in plain C: their output on the host must equal their output in the guest.
PLAIN_C_PROGRAMS = (
    "sorting",
    "crc32",
    "sieve",
    "recursion",
    "fnptr",
    "switch",
    "mul128",
    "bswap",
    "packed",
    "sdiv",
    "stringops",
)
GUEST_PROGRAMS = ("hello", "demo", "hcalls", *PLAIN_C_PROGRAMS, "interrupts", "fparith", "fpround",
                  "cas", "smp")

# Sources beyond NAME.c, and the runtime every guest links.
EXTRA_SOURCES = {"interrupts": ("vectors.S",), "smp": ("smp_entry.S",)}
RUNTIME_SOURCES = ("crt0.S", "runtime.c")
LINKER_SCRIPT = "guest.ld"

CROSS_COMPILERS = {"be": "powerpc64-linux-gnu-gcc", "le": "powerpc64le-linux-gnu-gcc"}
HOST_COMPILER = "gcc"

GUEST_FLAGS = (
    "-O2",
    "-mcpu=power9",
    "-mno-altivec",
    "-mno-vsx",
    "-ffreestanding",
    "-fno-builtin",
    "-nostdlib",
    "-static",
    "-fno-pie",
    "-no-pie",
    "-fno-stack-protector",
    "-mno-pointers-to-nested-functions",
    # GCC may otherwise turn memset's own loop into a call to memset.
    "-fno-tree-loop-distribute-patterns",
    "-fno-asynchronous-unwind-tables",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Wl,--build-id=none",
)
HOST_FLAGS = (
    "-O2",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    # POWER's char is unsigned; make the host's match so both run the same C semantics.
    "-funsigned-char",
    "-DGUEST_HOST",
)


class BuildError(RuntimeError):
    """A guest program failed to compile or link."""


class CompilerMissing(BuildError):
    """The compiler a build needs is not installed."""


def guest_compiler(endian: str) -> str:
    """Return the cross compiler's path for "be" or "le"; raise CompilerMissing if absent."""
    if endian not in CROSS_COMPILERS:
        raise ValueError(f"endian must be 'be' or 'le', not {endian!r}")
    return _find_compiler(CROSS_COMPILERS[endian])


def build_guest(name: str, endian: str, build_dir: pathlib.Path | None = None) -> pathlib.Path:
    """Build guest program `name` for `endian` ("be" or "le") and return the ELF's path."""
    if name not in GUEST_PROGRAMS:
        raise ValueError(f"unknown guest program {name!r}; known: {', '.join(GUEST_PROGRAMS)}")
    compiler = guest_compiler(endian)
    sources = [*RUNTIME_SOURCES, f"{name}.c", *EXTRA_SOURCES.get(name, ())]
    args = [*GUEST_FLAGS, "-T", str(GUEST_DIR / LINKER_SCRIPT)]
    out = (build_dir or DEFAULT_BUILD_DIR) / endian / f"{name}.elf"
    return _build(compiler, args, sources, [LINKER_SCRIPT], out)


def build_host(name: str, build_dir: pathlib.Path | None = None) -> pathlib.Path:
    """Build plain-C program `name` for the host and return the executable's path."""
    if name not in PLAIN_C_PROGRAMS:
        raise ValueError(f"{name!r} is not a plain-C program; known: {', '.join(PLAIN_C_PROGRAMS)}")
    compiler = _find_compiler(HOST_COMPILER)
    out = (build_dir or DEFAULT_BUILD_DIR) / "host" / name
    return _build(compiler, list(HOST_FLAGS), [f"{name}.c"], [], out)


def _find_compiler(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise CompilerMissing(
            f"{program} not found: install it (Debian: apt-get install "
            f"gcc-powerpc64-linux-gnu gcc-powerpc64le-linux-gnu gcc)"
        )
    return path


def _build(
    compiler: str,
    args: list[str],
    sources: list[str],
    other_inputs: list[str],
    out: pathlib.Path,
) -> pathlib.Path:
    # Every header may be included by any source, so all of them are part of the key.
    inputs = sorted({*sources, *other_inputs, *(p.name for p in GUEST_DIR.glob("*.h"))})
    key = hashlib.sha256()
    compiler_stat = os.stat(os.path.realpath(compiler))
    key.update(f"{compiler}\0{compiler_stat.st_mtime_ns}\0{args}\0".encode())
    for filename in inputs:
        key.update(filename.encode() + b"\0" + (GUEST_DIR / filename).read_bytes() + b"\0")
    digest = key.hexdigest()

    stamp = out.with_name(out.name + ".key")
    if out.exists() and stamp.exists() and stamp.read_text() == digest:
        return out

    out.parent.mkdir(parents=True, exist_ok=True)
    # Build under a temporary name and rename: concurrent builders never see half a file.
    fd, tmp_name = tempfile.mkstemp(prefix=out.name + ".", dir=out.parent)
    os.close(fd)
    cmd = [
        compiler,
        *args,
        "-I",
        str(GUEST_DIR),
        "-o",
        tmp_name,
        *(str(GUEST_DIR / s) for s in sources),
    ]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BuildError(
                f"building {out.name} failed (exit {result.returncode}):\n"
                f"$ {' '.join(cmd)}\n{result.stdout}{result.stderr}"
            )
        os.replace(tmp_name, out)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    stamp.write_text(digest)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the ppcd guest programs.")
    parser.add_argument("names", nargs="*", help="programs (default: all)")
    parser.add_argument("--endian", choices=("be", "le", "both"), default="both")
    parser.add_argument("--host", action="store_true", help="build the host variants instead")
    parser.add_argument("--build-dir", type=pathlib.Path, default=None)
    opts = parser.parse_args(argv)
    try:
        if opts.host:
            for name in opts.names or PLAIN_C_PROGRAMS:
                print(build_host(name, opts.build_dir))
        else:
            endians = ("be", "le") if opts.endian == "both" else (opts.endian,)
            for name in opts.names or GUEST_PROGRAMS:
                for endian in endians:
                    print(build_guest(name, endian, opts.build_dir))
    except (BuildError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
