"""Instruction table rows: floatingpoint."""

from .table import row  # noqa: F401

INSTRUCTIONS = []
