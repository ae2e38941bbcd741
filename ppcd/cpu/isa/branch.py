"""Branch facility (Power ISA 3.0 Book I chapter 2): branches and the condition register
logical instructions. AA (absolute) and LK (link) are fixed per mnemonic, so each of the
four spellings of a branch is its own row sharing one semantic function.
"""

from .table import row

# (suffix, AA, LK) for the I- and B-form branches.
_AA_LK = (("", 0, 0), ("a", 1, 0), ("l", 0, 1), ("la", 1, 1))
# Reserved bits QEMU ignores: 16:18 of bclr/bcctr (not bctar), 9:10 and 14:20 of mcrf.
_BCLR_RESERVED = 0x0000_E000
_MCRF_RESERVED = 0x0063_F800

INSTRUCTIONS = [
    *[insn for suffix, aa, lk in _AA_LK
      for insn in row("b" + suffix, 18, "I", "LI", impl="b", fixed={"AA": aa, "LK": lk})],
    *[insn for suffix, aa, lk in _AA_LK
      for insn in row("bc" + suffix, 16, "B", "BO,BI,BD", impl="bc",
                      fixed={"AA": aa, "LK": lk})],
    *[insn for name, xo, ignore, isa in (("bclr", 16, _BCLR_RESERVED, 0),
                                         ("bcctr", 528, _BCLR_RESERVED, 0),
                                         ("bctar", 560, 0, 207))
      for lk in (0, 1)
      for insn in row(name + ("l" if lk else ""), 19, "XL", "BO,BI,BH", xo=xo, impl=name,
                      fixed={"LK": lk}, ignore=ignore, isa=isa)],
    # Condition register logical instructions (2.5.1)
    *row("crand", 19, "XL", "BT,BA,BB", xo=257),
    *row("cror", 19, "XL", "BT,BA,BB", xo=449),
    *row("crxor", 19, "XL", "BT,BA,BB", xo=193),
    *row("crnand", 19, "XL", "BT,BA,BB", xo=225),
    *row("crnor", 19, "XL", "BT,BA,BB", xo=33),
    *row("creqv", 19, "XL", "BT,BA,BB", xo=289),
    *row("crandc", 19, "XL", "BT,BA,BB", xo=129),
    *row("crorc", 19, "XL", "BT,BA,BB", xo=417),
    *row("mcrf", 19, "XL", "BF,BFA", xo=0, ignore=_MCRF_RESERVED),
]
