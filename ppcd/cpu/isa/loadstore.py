"""Instruction table rows: loadstore."""

from .table import row  # noqa: F401

INSTRUCTIONS = []
