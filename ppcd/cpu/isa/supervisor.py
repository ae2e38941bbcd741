"""Instruction table rows: system call vectored and the other returns (Book III 4.3), event-based
branch return (Book II 6), SLB management (Book III 5.9.3), message passing (Book III 4.4
"Processor Control"), and transactional memory (Book II 5).

What a POWER9 pseries guest (an LPAR: MSR[HV]=0) gets, as QEMU 7.2 TCG gives it: the
hypervisor-privileged instructions (hrfid, msgsnd, msgclr, msgsync) raise the privileged
instruction program interrupt; urfid, for an ultravisor ppcd does not have, is illegal; the
transactional memory instructions raise Facility Unavailable, since the machine runs with
MSR[TM]=0 (QEMU's pseries default cap-htm=off under TCG).
"""

from .table import Insn, row


def _record_only(*args, **kwargs) -> Insn:
    """The TM and slbfee. instructions have only their Rc=1 form."""
    return row(*args, rc=True, **kwargs)[1]


INSTRUCTIONS = [
    # Book III 4.3 system call vectored and returns from interrupt
    *row("scv", 17, "SC", "LEV", fixed={"LK": 1}, isa=300),
    *row("rfscv", 19, "XL", "", xo=82, priv=True, isa=300),
    *row("hrfid", 19, "XL", "", xo=274, priv=True),
    *row("urfid", 19, "XL", "", xo=306, priv=True, isa=300),
    # Book II 6.2 event-based branch return
    *row("rfebb", 19, "XL", "S20", xo=146, isa=207),
    # Book III 5.9.3.3 SLB management
    *row("slbie", 31, "X", "RB", xo=434, priv=True),
    *row("slbieg", 31, "X", "RS,RB", xo=466, priv=True, isa=300),
    *row("slbia", 31, "X", "IH", xo=498, priv=True),
    *row("slbmte", 31, "X", "RS,RB", xo=402, priv=True),
    *row("slbmfev", 31, "X", "RT,RB", xo=851, priv=True),
    *row("slbmfee", 31, "X", "RT,RB", xo=915, priv=True),
    _record_only("slbfee", 31, "X", "RT,RB", xo=979, priv=True),
    *row("slbsync", 31, "X", "", xo=338, priv=True, isa=300),
    # Book III 4.4 message passing: the privileged (doorbell) and hypervisor forms
    *row("msgsndp", 31, "X", "RB", xo=142, priv=True, isa=207),
    *row("msgclrp", 31, "X", "RB", xo=174, priv=True, isa=207),
    *row("msgsnd", 31, "X", "RB", xo=206, priv=True, isa=207),
    *row("msgclr", 31, "X", "RB", xo=238, priv=True, isa=207),
    *row("msgsync", 31, "X", "", xo=886, priv=True, isa=300),
    # Book II 5.5 transactional memory
    _record_only("tbegin", 31, "X", "R10", xo=654, isa=207),
    _record_only("tend", 31, "X", "A6", xo=686, isa=207),
    _record_only("tabort", 31, "X", "RA", xo=910, isa=207),
    _record_only("tabortwc", 31, "X", "TO,RA,RB", xo=782, isa=207),
    _record_only("tabortwci", 31, "X", "TO,RA,SI5", xo=846, isa=207),
    _record_only("tabortdc", 31, "X", "TO,RA,RB", xo=814, isa=207),
    _record_only("tabortdci", 31, "X", "TO,RA,SI5", xo=878, isa=207),
    _record_only("tsr", 31, "X", "L", xo=750, isa=207),
    *row("tcheck", 31, "X", "BF", xo=718, isa=207),
    _record_only("trechkpt", 31, "X", "", xo=1006, priv=True, isa=207),
    _record_only("treclaim", 31, "X", "RA", xo=942, priv=True, isa=207),
]
