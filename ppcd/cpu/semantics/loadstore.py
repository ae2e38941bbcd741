"""Semantics: loadstore."""

from __future__ import annotations

from . import implements  # noqa: F401
