"""Guest programs for the pseries machine, built from source at test time (see build.py)."""
