"""Fixed-point facility (Power ISA 3.0 Book I chapter 3): arithmetic, compare, trap,
logical, rotate and shift, and the other fixed-point computational instructions.
Loads and stores are in loadstore.py.
"""

from .table import row

INSTRUCTIONS = [
    *row("addi", 14, "D", "RT,RA,SI"),
    *row("addis", 15, "D", "RT,RA,SI"),
    *row("add", 31, "XO", "RT,RA,RB", xo=266, oe=True, rc=True),
]
