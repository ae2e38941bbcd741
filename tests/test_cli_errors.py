"""Bad input to `ppcd run` gets one clear line and a non-zero exit, never a traceback."""

import subprocess
import sys

import pytest


def ppcd(*args, input=None):
    return subprocess.run([sys.executable, "-m", "ppcd.cli", *args], capture_output=True,
                          text=True, timeout=60, input=input)


@pytest.mark.parametrize("kernel, message", [
    ("/nonexistent/guest.elf", "cannot open kernel"),
    ("/etc/hostname", "is not an ELF file"),
    (sys.executable, "ppcd runs 64-bit PowerPC"),
])
def test_bad_kernel(kernel, message):
    result = ppcd("run", "--kernel", kernel)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_truncated_elf(tmp_path):
    bad = tmp_path / "truncated.elf"
    bad.write_bytes(b"\x7fELF\x02\x02\x01" + bytes(20))
    result = ppcd("run", "--kernel", str(bad))
    assert result.returncode == 1
    assert "not a valid ELF" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("size", ["12Q", "lots", "1K", "0", "100T"])
def test_bad_memory_size(size):
    result = ppcd("run", "--memory", size)
    assert result.returncode == 2
    assert "--memory" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_serial_backend():
    result = ppcd("run", "--serial", "carrier-pigeon")
    assert result.returncode == 1
    assert "unknown serial backend" in result.stderr


def test_version():
    result = ppcd("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("ppcd ")


def test_segment_outside_ram(tmp_path):
    from elfmaker import elf64
    big = tmp_path / "big.elf"
    # Loaded at 0x400000 with 20 MiB of BSS: more than 16 MiB of RAM holds.
    big.write_bytes(elf64([(0, b"\x48\x00\x00\x00", 20 << 20)]))
    result = ppcd("run", "--kernel", str(big), "--memory", "16M")
    assert result.returncode == 1
    assert "does not fit" in result.stderr or "past the device tree" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_architecture_elf(tmp_path):
    from elfmaker import elf64
    arm = tmp_path / "arm.elf"
    arm.write_bytes(elf64([(0, b"\0" * 4, 4)], machine=183))   # EM_AARCH64
    result = ppcd("run", "--kernel", str(arm))
    assert result.returncode == 1
    assert "EM_AARCH64" in result.stderr


def test_relocatable_object_is_refused(tmp_path):
    from elfmaker import elf64
    obj = tmp_path / "guest.o"
    obj.write_bytes(elf64([(0, b"\0" * 4, 4)], etype=1))
    result = ppcd("run", "--kernel", str(obj))
    assert result.returncode == 1
    assert "not an executable" in result.stderr


def test_worker_interpreter_that_cannot_start():
    result = ppcd("run", "--worker-python", "/nonexistent/python3")
    assert result.returncode == 1
    assert "cannot start the vCPU worker" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
