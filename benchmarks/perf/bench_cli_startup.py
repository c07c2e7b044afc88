"""Start-up time of the command-line tool and of ``import hyperphysics_strategy``.

    python benchmarks/perf/bench_cli_startup.py [--repeat 7]

Each command runs ``--repeat`` times in a fresh interpreter (this one, ``sys.executable``);
the table shows the best and the median wall time beside a bare ``python -c pass``, and
the difference to it: what the package adds to every ``hyperphysics --help``. The CLI
imports torch, pandas and freqtrade only inside the commands that need them, and
``hyperphysics_strategy`` resolves its public names on first use.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import hyperphysics_strategy": [sys.executable, "-c", "import hyperphysics_strategy"],
    "hyperphysics --help": [sys.executable, "-m", "hyperphysics_strategy.cli", "--help"],
    "hyperphysics train --help": [
        sys.executable,
        "-m",
        "hyperphysics_strategy.cli",
        "train",
        "--help",
    ],  # fmt: skip
    "import torch (for scale)": [sys.executable, "-c", "import torch"],
}


def wall_times(cmd: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=7, help="runs per command (default 7)")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n### CLI start-up, best and median of {args.repeat} runs\n")
    print(f"{platform.processor() or platform.machine()}, {cores} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print("| command | best s | median s | median minus python -c pass |")
    print("| --- | --- | --- | --- |")
    base = None
    for name, cmd in COMMANDS.items():
        times = wall_times(cmd, args.repeat)
        median = statistics.median(times)
        base = median if base is None else base
        print(f"| {name} | {min(times):.3f} | {median:.3f} | {median - base:+.3f} |")


if __name__ == "__main__":
    main()
