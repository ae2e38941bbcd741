"""Run the differential test: `python -m tests.differential.run --seed 1 --instructions 1000000`.

Cases are generated from the seed, split into chunks of --chunk instructions (one guest boot
each, both byte orders alternating), and every chunk runs under QEMU and ppcd in parallel
(--jobs). Prints how often each QEMU rule applied, every disagreement located to its first
differing instruction, and exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
from collections import Counter
from typing import List, Optional

from .generator import generate
from .harness import Report, run_chunk


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--instructions", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=50_000, help="instructions per boot")
    parser.add_argument("--length", type=int, default=48, help="instructions per sequence")
    parser.add_argument("--jobs", type=int, default=1, help="chunks run at once")
    parser.add_argument("--engine", default="interp", help="ppcd's execution engine")
    parser.add_argument("--worker-python", help="ppcd's vCPU worker interpreter, e.g. pypy3")
    parser.add_argument("--no-ppcd", action="store_true", help="compare QEMU with the model only")
    opts = parser.parse_args(argv)

    started = time.monotonic()
    chunks = []
    for index, first in enumerate(range(0, opts.instructions, opts.chunk)):
        size = min(opts.chunk, opts.instructions - first)
        chunks.append((generate(opts.seed * 100_003 + index, size, opts.length),
                       "be" if index % 2 == 0 else "le"))
    total = Report()
    with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        futures = [pool.submit(run_chunk, cases, endian, engine=opts.engine,
                               worker_python=opts.worker_python, ppcd=not opts.no_ppcd)
                   for cases, endian in chunks]
        for (_, endian), future in zip(chunks, futures):
            report = future.result()
            total.cases += report.cases
            total.instructions += report.instructions
            total.unmodelled += report.unmodelled
            for name, count in report.quirk_counts.items():
                total.quirk_counts[name] = total.quirk_counts.get(name, 0) + count
            for d in report.disagreements:
                print(f"[{endian}] {d.describe()}")
            total.disagreements += report.disagreements
    print(f"{total.instructions} instructions in {total.cases} sequences, "
          f"{time.monotonic() - started:.0f} s; {total.unmodelled} sequences not compared "
          "from an unmodelled QEMU result on (quirks.py)")
    print("QEMU rules applied: " + ", ".join(
        f"{name} {count}" for name, count in sorted(total.quirk_counts.items())))
    by_insn = Counter((d.emulator, d.mnemonic) for d in total.disagreements)
    print(f"{len(total.disagreements)} disagreements"
          + (": " + ", ".join(f"{e} {m} x{n}" for (e, m), n in by_insn.most_common())
             if by_insn else ""))
    return 1 if total.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
