"""Console backends in the control process (QEMU's chardevs): where the guest console goes.

The vCPU worker writes console output to a pipe and reads input from another; the control
process moves the bytes between those pipes and the backend the person chose (spec.py), through
a bounded buffer that drops rather than waits, so the guest never blocks on its console.
"""
