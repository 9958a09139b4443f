"""How long the command line takes to answer: each listing and planning command in fresh
interpreters, and what its imports cost.

For each command it prints the median (and fastest) wall seconds over ``--runs`` fresh
processes, as a user typing it waits, and from one more run under ``python -X importtime``
the packages whose import took longest (cumulative milliseconds at their first import, so a
package imported inside another counts in both). The machine's load average is printed
with them: on a loaded machine every number grows.

    python benchmarks/cli_startup.py [--runs 5] [--top 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the console script `xsweep` runs, from the repository root (where cluster.yaml is).
ENTRY = "import sys; from sweeper.cli import main; sys.argv[0] = 'xsweep'; main()"
COMMANDS = (
    ("--help",),
    ("--version",),
    ("tasks",),
    ("scales",),
    ("plan", "--scales", "base,large,xl"),
    ("launch", "--dry-run", "--scales", "base,large,xl"),
)
# The project's own packages and the interpreter's start-up: they wrap the imports worth naming.
NOT_SHOWN = {"sweeper", "tasks", "site", "encodings", "__editable___xsweep_0_1_0_finder"}


def run(args: tuple[str, ...], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *options, "-c", ENTRY, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def wall_seconds(args: tuple[str, ...], runs: int) -> list[float]:
    """Seconds of each run; none where the command fails (an older checkout without it)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run(args)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [""])[-1]
            print(f"xsweep {' '.join(args)} exited {result.returncode}: {last}")
            return []
    return times


def heaviest_imports(args: tuple[str, ...], top: int) -> list[tuple[str, float]]:
    """The ``top`` packages by cumulative import milliseconds (a package's longest import of
    one of its modules), from ``-X importtime``'s lines ``import time: <self µs> |
    <cumulative µs> | <indented module name>``."""
    packages: dict[str, float] = {}
    for line in run(args, "-X", "importtime").stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        if package in NOT_SHOWN or not cumulative.strip().isdigit():
            continue
        packages[package] = max(packages.get(package, 0.0), int(cumulative) / 1000)
    return sorted(packages.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Fresh processes per command.")
    parser.add_argument("--top", type=int, default=4, help="Heaviest imports shown per command.")
    args = parser.parse_args()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{sys.executable}: {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min); {args.runs} runs each")
    print(f"{'command':<50} {'median s':>9} {'min s':>7}  heaviest imports (cumulative ms)")
    for command in COMMANDS:
        times = wall_seconds(command, args.runs)
        if not times:
            continue
        imports = ", ".join(f"{name} {ms:.0f}" for name, ms in heaviest_imports(command, args.top))
        label = "xsweep " + " ".join(command)
        print(f"{label:<50} {statistics.median(times):>9.2f} {min(times):>7.2f}  {imports}")
    print(f"load average after: {', '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
