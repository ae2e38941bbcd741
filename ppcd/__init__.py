"""ppcd: an IBM POWER virtual machine daemon (64-bit Power ISA, PAPR pseries guests)."""

__version__ = "0.2.0"
