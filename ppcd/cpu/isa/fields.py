"""Instruction fields of the Power ISA (Book I, 1.6 "Instruction fields").

Bit numbers follow the ISA: bit 0 is the most significant bit of the 32-bit word.
Each field knows how to pull its value out of a word and how to put it back, so the
decoder, the assembler used by the tests and the disassembler all derive from here.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple


def _mask(first: int, last: int) -> int:
    width = last - first + 1
    return ((1 << width) - 1) << (31 - last)


class Field:
    """A named operand field: `decode(word) -> int`, `encode(value) -> bits`, `bits` it covers."""

    __slots__ = ("name", "decode", "encode", "bits", "signed")

    def __init__(self, name: str, decode: Callable[[int], int], encode: Callable[[int], int],
                 bits: int, signed: bool = False) -> None:
        self.name = name
        self.decode = decode
        self.encode = encode
        self.bits = bits
        self.signed = signed


def _plain(name: str, first: int, last: int, signed: bool = False, shift: int = 0) -> Field:
    """A contiguous field, optionally sign-extended and scaled by 2**shift (DS, BD, LI)."""
    width = last - first + 1
    low = 31 - last
    wmask = (1 << width) - 1
    sign = 1 << (width - 1)

    if signed:
        def decode(word: int) -> int:
            v = (word >> low) & wmask
            return ((v ^ sign) - sign) << shift
    else:
        def decode(word: int) -> int:
            return ((word >> low) & wmask) << shift

    def encode(value: int) -> int:
        if value & ((1 << shift) - 1):
            raise ValueError(f"{name}={value} is not a multiple of {1 << shift}")
        v = value >> shift
        lo, hi = (-sign, sign - 1) if signed else (0, wmask)
        if not lo <= v <= hi:
            raise ValueError(f"{name}={value} does not fit in {width} bits")
        return (v & wmask) << low

    return Field(name, decode, encode, _mask(first, last), signed)


def _split(name: str, parts: Tuple[Tuple[int, int], ...], signed: bool = False) -> Field:
    """A field whose value is the concatenation of several bit ranges, most significant first.

    Used for SPR/TBR (two swapped 5-bit halves), the 6-bit MD/XS shift and mask fields
    and the DX-form displacement of addpcis.
    """
    widths = [last - first + 1 for first, last in parts]
    total = sum(widths)
    sign = 1 << (total - 1)

    def decode(word: int) -> int:
        v = 0
        for (_first, last), width in zip(parts, widths):
            v = (v << width) | ((word >> (31 - last)) & ((1 << width) - 1))
        return ((v ^ sign) - sign) if signed else v

    def encode(value: int) -> int:
        lo, hi = (-sign, sign - 1) if signed else (0, (1 << total) - 1)
        if not lo <= value <= hi:
            raise ValueError(f"{name}={value} does not fit in {total} bits")
        value &= (1 << total) - 1
        bits = 0
        remaining = total
        for (_first, last), width in zip(parts, widths):
            remaining -= width
            bits |= ((value >> remaining) & ((1 << width) - 1)) << (31 - last)
        return bits

    mask = 0
    for first, last in parts:
        mask |= _mask(first, last)
    return Field(name, decode, encode, mask, signed)


FIELDS: Dict[str, Field] = {}


def _add(field: Field) -> None:
    FIELDS[field.name] = field


for _name in ("RT", "RS", "FRT", "FRS", "BO", "TO", "BT"):
    _add(_plain(_name, 6, 10))
for _name in ("RA", "FRA", "BI", "BA"):
    _add(_plain(_name, 11, 15))
for _name in ("RB", "FRB", "NB", "BB"):
    _add(_plain(_name, 16, 20))
_add(_plain("SH", 16, 20))
_add(_plain("RC", 21, 25))      # VA-form third source register (maddhd)
_add(_plain("FRC", 21, 25))
_add(_plain("BC", 21, 25))      # isel's CR bit
_add(_plain("MB", 21, 25))      # M-form
_add(_plain("ME", 26, 30))
_add(_plain("BF", 6, 8))
_add(_plain("BFA", 11, 13))
_add(_plain("L", 10, 10))       # cmp/cmpl/cmpi/cmpli, cmprb
_add(_plain("L15", 15, 15))     # mtmsrd
_add(_plain("L9", 9, 10))       # sync
_add(_plain("L14", 14, 15))     # darn
_add(_plain("SI", 16, 31, signed=True))
_add(_plain("UI", 16, 31))
_add(_plain("D", 16, 31, signed=True))
_add(_plain("DS", 16, 29, signed=True, shift=2))
_add(_plain("BD", 16, 29, signed=True, shift=2))
_add(_plain("LI", 6, 29, signed=True, shift=2))
_add(_plain("AA", 30, 30))
_add(_plain("LK", 31, 31))
_add(_plain("BH", 19, 20))
_add(_plain("FXM", 12, 19))
_add(_plain("LEV", 20, 26))
_add(_plain("TH", 6, 10))
_add(_plain("U", 16, 19))       # mtfsfi
_add(_plain("W", 15, 15))       # mtfsf/mtfsfi
_add(_plain("FLM", 7, 14))
_add(_plain("FL1", 6, 6))       # mtfsf L bit
_add(_plain("RMC", 21, 22))
_add(_plain("IH", 8, 10))       # slbia
_add(_plain("EH", 31, 31))      # larx exclusive-access hint
_add(_split("SPR", ((16, 20), (11, 15))))
_add(_split("TBR", ((16, 20), (11, 15))))
_add(_split("SH6", ((30, 30), (16, 20))))           # MD/XS-form 6-bit shift
_add(_split("MB6", ((26, 26), (21, 25))))           # MD-form mb
_add(_split("ME6", ((26, 26), (21, 25))))           # MD-form me (same bits as mb)
_add(_split("DX", ((16, 25), (11, 15), (31, 31)), signed=True))  # addpcis
_add(_plain("CY", 21, 22))      # addex carry select (Z23-form)
_add(_plain("CT", 7, 10))       # icbt cache level
_add(_plain("B11", 11, 11))     # mfocrf/mtocrf: 1 selects the one-field form
# Floating-point control (Book I 4.6.10) and the vector facilities (Books I 6-7).
_add(_plain("DRM", 18, 20))     # mffscdrni decimal rounding mode
_add(_plain("RM", 19, 20))      # mffscrni binary rounding mode
_add(_plain("VRT", 6, 10))      # VMX register of lxsd/lxssp
_add(_plain("VRS", 6, 10))      # VMX register of stxsd/stxssp
_add(_split("XT", ((31, 31), (6, 10))))            # XX1-form VSX target: TX || T
_add(_split("XS", ((31, 31), (6, 10))))            # XX1-form VSX source: SX || S
_add(_split("XTQ", ((28, 28), (6, 10))))           # DQ-form VSX target: TX || T (lxv)
_add(_split("XSQ", ((28, 28), (6, 10))))           # DQ-form VSX source: SX || S (stxv)
_add(_plain("DQ", 16, 27, signed=True, shift=4))
# Even-odd register pairs (lq/stq, lqarx/stqcx., lfdp/stfdp, the DFP quad forms): the field
# is the register number's high four bits, so its low bit is a fixed 0 and an odd register,
# an invalid form, decodes as illegal (as QEMU 7.2 decodes it).
for _name in ("RTp", "RSp", "FRTp", "FRSp"):
    _add(_plain(_name, 6, 9, shift=1))
_add(_plain("FRAp", 11, 14, shift=1))
_add(_plain("FRBp", 16, 19, shift=1))
# Decimal floating point (Book I 5.6): Z22/Z23-form immediates.
_add(_plain("TE", 11, 15, signed=True))     # dquai target exponent
_add(_plain("R", 15, 15))                   # drintx/drintn rounding-mode set
_add(_plain("DCM", 16, 21))                 # dtstdc data class mask
_add(_plain("DGM", 16, 21))                 # dtstdg data group mask
_add(_plain("SHD", 16, 21))                 # dscli/dscri shift count (Z22-form SH)
_add(_plain("SP", 11, 12))                  # ddedpd sign control
_add(_plain("S", 11, 11))                   # denbcd signed
_add(_plain("UIM", 10, 15))                 # dtstsfi reference significance
# Book II 4.5 atomic memory operations, Book II 5 transactional memory, Book III.
_add(_plain("FC", 16, 20))                  # lwat/ldat/stwat/stdat function code
_add(_plain("S20", 20, 20))                 # rfebb: the new BESCR[GE]
_add(_plain("A6", 6, 6))                    # tend.: end all transactions
_add(_plain("R10", 10, 10))                 # tbegin.: rollback-only
_add(_plain("SI5", 16, 20, signed=True))    # tabortwci./tabortdci. immediate
