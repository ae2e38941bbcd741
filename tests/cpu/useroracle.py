"""QEMU user mode (qemu-ppc64 -cpu power9) as an oracle for single problem-state instructions.

A static program reads records (GPRs, FPRs, CR, XER, FPSCR, the instruction word, a
256-byte storage area), runs the word with those registers loaded and writes the registers,
the area and any signal (number and si_code) back. r1, r2 and r13 are the program's own and
are neither loaded nor compared; GPRs whose bit is set in `reloc` get the storage area's
address added (and subtracted again afterwards), so storage instructions can aim at it.
A signal (SIGILL for an illegal instruction, SIGBUS for alignment, SIGSEGV for a data storage
interrupt) skips the instruction.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

ORACLE_C = r"""
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <ucontext.h>
struct rec {
    unsigned long gpr[32], fpr[32], cr, xer, fpscr, word, reloc, sig, code, base;
    unsigned char mem[256];
};
__thread struct rec st;
unsigned char area[256] __attribute__((aligned(256)));
extern unsigned int slot[];
#define L(n) "ld " #n "," #n "*8(12)\n"
#define S(n) "std " #n "," #n "*8(12)\n"
#define LF(n) "lfd " #n ",256+" #n "*8(12)\n"
#define SF(n) "stfd " #n ",256+" #n "*8(12)\n"
#define BASE "addis 12,13,st@tprel@ha\n addi 12,12,st@tprel@l\n"
__asm__(".section .stubtext,\"awx\",@progbits\n.globl stub\nstub:\n" BASE
        "lfd 0,528(12)\n mtfsf 0xff,0,1,0\n ld 0,512(12)\n mtcrf 0xff,0\n"
        "ld 0,520(12)\n mtxer 0\n"
        LF(0) LF(1) LF(2) LF(3) LF(4) LF(5) LF(6) LF(7) LF(8) LF(9) LF(10) LF(11) LF(12)
        LF(13) LF(14) LF(15) LF(16) LF(17) LF(18) LF(19) LF(20) LF(21) LF(22) LF(23)
        LF(24) LF(25) LF(26) LF(27) LF(28) LF(29) LF(30) LF(31)
        L(0) L(3) L(4) L(5) L(6) L(7) L(8) L(9) L(10) L(11) L(14) L(15) L(16) L(17)
        L(18) L(19) L(20) L(21) L(22) L(23) L(24) L(25) L(26) L(27) L(28) L(29) L(30)
        L(31) "ld 12,96(12)\n"
        ".globl slot\nslot:\n nop\n"
        "mtspr 815,12\n" BASE
        S(0) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11) S(14) S(15) S(16) S(17)
        S(18) S(19) S(20) S(21) S(22) S(23) S(24) S(25) S(26) S(27) S(28) S(29) S(30)
        S(31)
        SF(0) SF(1) SF(2) SF(3) SF(4) SF(5) SF(6) SF(7) SF(8) SF(9) SF(10) SF(11) SF(12)
        SF(13) SF(14) SF(15) SF(16) SF(17) SF(18) SF(19) SF(20) SF(21) SF(22) SF(23)
        SF(24) SF(25) SF(26) SF(27) SF(28) SF(29) SF(30) SF(31)
        "mfspr 0,815\n std 0,96(12)\n mfcr 0\n std 0,512(12)\n mfxer 0\n std 0,520(12)\n"
        "mffs 0\n stfd 0,528(12)\n"
        "blr\n.text\n");
static void on_signal(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    st.sig = sig;
    st.code = info->si_code;
    uc->uc_mcontext.gp_regs[32] += 4;
}
static int readall(char *p, long n) {
    while (n > 0) { long r = read(0, p, n); if (r <= 0) return 0; p += r; n -= r; }
    return 1;
}
int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGILL, &sa, 0);
    sigaction(SIGBUS, &sa, 0);
    sigaction(SIGSEGV, &sa, 0);
    sigaction(SIGFPE, &sa, 0);
    sigaction(SIGTRAP, &sa, 0);
    while (readall((char *)&st, sizeof st)) {
        int i;
        unsigned long base = (unsigned long)area;
        for (i = 0; i < 32; i++)
            if (st.reloc >> i & 1) st.gpr[i] += base;
        memcpy(area, st.mem, 256);
        slot[0] = (unsigned int)st.word;
        __builtin___clear_cache((char *)slot, (char *)slot + 4);
        st.sig = st.code = 0;
        st.base = base;
        __asm__ volatile("bl stub\n nop" ::: "r0", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
                         "r10", "r11", "r12", "r14", "r15", "r16", "r17", "r18", "r19", "r20",
                         "r21", "r22", "r23", "r24", "r25", "r26", "r27", "r28", "r29",
                         "r30", "r31", "lr", "ctr", "cr0", "cr1", "cr2", "cr3", "cr4", "cr5",
                         "cr6", "cr7", "fr0", "fr1", "fr2", "fr3", "fr4", "fr5", "fr6",
                         "fr7", "fr8", "fr9", "fr10", "fr11", "fr12", "fr13", "fr14", "fr15",
                         "fr16", "fr17", "fr18", "fr19", "fr20", "fr21", "fr22", "fr23",
                         "fr24", "fr25", "fr26", "fr27", "fr28", "fr29", "fr30", "fr31",
                         "xer", "memory");
        memcpy(st.mem, area, 256);
        for (i = 0; i < 32; i++)
            if (st.reloc >> i & 1) st.gpr[i] -= base;
        if (write(1, &st, sizeof st) != sizeof st) return 1;
    }
    return 0;
}
"""
_RECORD = struct.Struct(">72Q256s")
UNTOUCHED_GPRS = (1, 2, 13)     # the program's own: not loaded, not compared


@dataclass
class Record:
    gpr: List[int]
    fpr: List[int]
    word: int
    cr: int = 0
    xer: int = 0
    fpscr: int = 0
    reloc: int = 0
    mem: bytes = bytes(256)
    sig: int = 0
    code: int = 0
    base: int = 0
    extra: dict = field(default_factory=dict)

    def pack(self) -> bytes:
        return _RECORD.pack(*self.gpr, *self.fpr, self.cr, self.xer, self.fpscr, self.word,
                            self.reloc, 0, 0, 0, self.mem)


def _unpack(data: bytes, offset: int) -> Record:
    v = _RECORD.unpack_from(data, offset)
    return Record(gpr=list(v[0:32]), fpr=list(v[32:64]), cr=v[64], xer=v[65], fpscr=v[66],
                  word=v[67], reloc=v[68], sig=v[69], code=v[70], base=v[71], mem=v[72])


def build(workdir: Path) -> Optional[Callable[[List[Record]], List[Record]]]:
    """Compile the oracle; None without powerpc64-linux-gnu-gcc or qemu-ppc64."""
    gcc, qemu = shutil.which("powerpc64-linux-gnu-gcc"), shutil.which("qemu-ppc64")
    if not (gcc and qemu):
        return None
    (workdir / "oracle.c").write_text(ORACLE_C)
    subprocess.run([gcc, "-mcpu=power9", "-O1", "-static", "-no-pie",
                    "-Wl,--no-warn-rwx-segments", "-o", str(workdir / "oracle"),
                    str(workdir / "oracle.c")], check=True, capture_output=True)

    def execute(records: List[Record]) -> List[Record]:
        data = b"".join(r.pack() for r in records)
        out = subprocess.run([qemu, "-cpu", "power9", str(workdir / "oracle")], input=data,
                             capture_output=True, check=True, timeout=120).stdout
        return [_unpack(out, i * _RECORD.size) for i in range(len(records))]
    return execute
