"""gdbstub"""
