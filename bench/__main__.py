"""python -m bench [names...] [--quick] [--out PATH]: run benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

from bench import BENCHMARKS, machine_info

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
COLUMNS = ("name", "value", "unit", "baseline", "ratio", "target", "meets_target", "notes")


def show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def print_table(rows: list[dict]) -> None:
    cells = [[show(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(COLUMNS[:-1])]
    header = "  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)) + "  notes"
    print(header)
    print("-" * len(header))
    for line in cells:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)) + "  " + line[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and shorter training runs (a few minutes in all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write the JSON (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from: {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)

    load_start = os.getloadavg()  # other work on the machine skews timings: recorded beside them
    rows, seconds = [], {}
    for name in names:
        print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows += importlib.import_module(f"bench.{name}").run(args.quick)
        seconds[name] = round(time.perf_counter() - started, 1)

    print()
    print_table(rows)
    met = [r["meets_target"] for r in rows if r["meets_target"] is not None]
    load = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]}
    print(f"\n{sum(met)} of {len(met)} targets met; benchmarks took {seconds} s; load average (1, 5, 15 min) {load}")

    result = {**machine_info(), "load_average": load, "quick": args.quick, "benchmarks": names, "seconds": seconds}
    result["rows"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
