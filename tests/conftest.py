"""Shared test setup: make tests/cpu helpers importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "cpu"))
sys.path.insert(0, str(Path(__file__).parent))
