"""Differential testing of ppcd against QEMU: random instruction sequences over the whole
instruction table, run in one guest under both emulators (see harness.py).

The harness imports the guest build helpers as the test suite does, from tests/.
"""

import pathlib
import sys

_TESTS = str(pathlib.Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
