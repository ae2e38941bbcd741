"""Semantics: floatingpoint."""

from __future__ import annotations

from . import implements  # noqa: F401
