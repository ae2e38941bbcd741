"""Instruction table rows: system."""

from .table import row  # noqa: F401

INSTRUCTIONS = []
