"""System instructions: moves to and from the CR, XER, SPRs and MSR (Book I 3.3.17,
Book III 4.4), system call and return (Book I 2.4.3, Book III 4.3), storage
synchronisation (Book II 4.4), wait, and the TLB instructions an LPAR may meet (Book III 5.9).

scv/rfscv, the other returns and the SLB, message-passing and TM instructions are in
supervisor.py; stop's power-saving states are not modelled.
"""

from .table import row

# Reserved bits QEMU ignores in mfcr/mtcrf (12:19 when bit 11 selects the whole-CR form).
_WHOLE_CR_RESERVED = 0x000F_F000
# tlbie/tlbiel's RIC, PRS and R (bits 12:15): ignored, the instructions never take effect.
_TLBI_SCOPE = 0x000F_0000

INSTRUCTIONS = [
    # Condition register and XER moves
    *row("mfcr", 31, "XFX", "RT", xo=19, fixed={"B11": 0}, ignore=_WHOLE_CR_RESERVED),
    *row("mfocrf", 31, "XFX", "RT,FXM", xo=19, fixed={"B11": 1}),
    *row("mtcrf", 31, "XFX", "FXM,RS", xo=144, fixed={"B11": 0}),
    *row("mtocrf", 31, "XFX", "FXM,RS", xo=144, fixed={"B11": 1}),
    *row("mcrxrx", 31, "X", "BF", xo=576, isa=300),
    # Special-purpose registers (access rules in ppcd/cpu/spr.py)
    *row("mfspr", 31, "XFX", "RT,SPR", xo=339),
    *row("mtspr", 31, "XFX", "SPR,RS", xo=467),
    *row("mftb", 31, "XFX", "RT,TBR", xo=371),
    # Machine state register
    *row("mfmsr", 31, "X", "RT", xo=83, priv=True),
    *row("mtmsr", 31, "X", "RS,L15", xo=146, priv=True),
    *row("mtmsrd", 31, "X", "RS,L15", xo=178, priv=True),
    # System call and return
    *row("sc", 17, "SC", "LEV", fixed={"AA": 1}),
    *row("rfid", 19, "XL", "", xo=18, priv=True),
    # Synchronisation
    *row("sync", 31, "X", "L9", xo=598),
    *row("isync", 19, "XL", "", xo=150),
    *row("eieio", 31, "X", "", xo=854),
    *row("wait", 31, "X", "", xo=30, isa=206),
    # Hypervisor-privileged in an LPAR without GTSE; tlbiel only acts on this thread.
    *row("tlbie", 31, "X", "RB,RS", xo=306, priv=True, ignore=_TLBI_SCOPE),
    *row("tlbiel", 31, "X", "RB,RS", xo=274, priv=True, ignore=_TLBI_SCOPE),
    *row("tlbsync", 31, "X", "", xo=566, priv=True),
    *row("stop", 19, "XL", "", xo=370, priv=True, isa=300),
]
