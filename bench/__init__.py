"""Benchmarks that print ratios measured side by side in one run.

Run from the repository root:

    python -m bench                      # every benchmark, full size (about 25 minutes)
    python -m bench generation --quick   # one benchmark, fewer repeats

Each benchmark is a module here listed in BENCHMARKS, exposing ``run(quick: bool) ->
list[dict]``: one dict per result, made with `row()`. A new benchmark (the app's
latency, training-step speed per cell, ...) is one more module and one more name below.

Absolute timings depend on the machine; what carries over is the ratio to a baseline
measured in the same run. `meets_target` is reported, never turned into a failure.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from typing import Any

BENCHMARKS = ("generation", "train_step", "train_all", "cold_start", "app_latency", "shakespeare", "distributed", "classroom_recipe", "classroom", "through_time", "inside")  # module names in bench/, in the order they run


def row(
    name: str,
    value: Any,
    unit: str,
    *,
    baseline: Any = None,  # the same quantity for the reference measured in this run, if any
    ratio: float | None = None,  # value / baseline, or value / target when there is no baseline
    target: str | None = None,  # what "good" means, as a reader would say it: "ratio >= 8", "< 40 s"
    meets_target: bool | None = None,
    notes: str = "",
) -> dict:
    """One result, with the same keys in every benchmark."""
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "meets_target": meets_target,
        "notes": notes,
    }


def machine_info() -> dict:
    import torch

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.machine(),
    }
