"""Instruction table rows: branch."""

from .table import row  # noqa: F401

INSTRUCTIONS = []
