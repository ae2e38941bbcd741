"""The worker's console: input without waiting, and end of input ends the waiting."""

import os

from ppcd.machine.console import Console


def test_input_arrives_and_end_of_input_stops_the_waiting():
    read_end, write_end = os.pipe()
    console = Console(None, read_end)
    assert console.read(16) == b""
    os.write(write_end, b"hello")
    assert console.wait_for_input()
    assert console.read(3) == b"hel"
    assert console.read(16) == b"lo"
    os.close(write_end)
    # A readable end-of-file must not count as input, or an idle guest would spin on it.
    assert not console.wait_for_input()
    assert console.in_fd is None
    os.close(read_end)


def test_output_to_a_closed_reader_is_dropped_and_counted():
    read_end, write_end = os.pipe()
    os.close(read_end)
    console = Console(write_end)
    console.write(b"lost")
    console.write(b"too")
    assert console.dropped == 7
    os.close(write_end)
