"""Benchmark: how long `stk` takes to start, for `stk --version`, `stk --help` and `stk validate`
on the example repository (issue 12.11: target under 0.15 s for the first two).

Prints the minimum wall time of N runs of the real console script (the minimum, since on a shared
machine every other sample only adds other processes' noise). `--stk` points at another install,
e.g. the main checkout's, to compare before and after. Not a test: it asserts nothing, it reports.

    python bench/startup_bench.py [--runs 15] [--stk PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sysconfig
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "example"
CASES = {
    "stk --version": ["--version"],
    "stk --help": ["--help"],
    "stk validate": ["validate", "--dir", str(EXAMPLE)],
}


def min_seconds(command: list[str], runs: int) -> float:
    """The fastest of ``runs`` runs of ``command``, which must succeed."""
    env = {**os.environ, "NO_COLOR": "1"}
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--stk", default=str(Path(sysconfig.get_path("scripts")) / "stk"))
    args = parser.parse_args()
    python = Path(args.stk).with_name("python")
    print(f"{args.stk}, min of {args.runs} runs")
    print(f"  {'python -c pass':<16} {min_seconds([str(python), '-c', 'pass'], args.runs):.3f} s")
    for name, argv in CASES.items():
        print(f"  {name:<16} {min_seconds([args.stk, *argv], args.runs):.3f} s")


if __name__ == "__main__":
    main()
