"""The gradient flow on the Memory lab's task, computed once and shipped beside the lab's results.

For each gap L, one model per cell is trained at the lab's sizes as `lab.run_point` trains it
(seed 0, 600 steps), and `gradflow.lab_flow` measures, averaged over 64 held-out lines, the L2
norm of the gradient of the answer's log-probability with respect to every earlier input and
hidden state. Training the nine models takes about a minute, too long for a page to wait for,
so the figures ship in `data/lab_flows.json`, made by:

    python -m charmodels.labflow

and tests/test_labflow.py retrains one gap and compares.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch loads only when flows are read or computed: the app imports GAPS at once
    from .gradflow import GradientFlow

GAPS = (5, 10, 20, 30)  # the gaps whose flow ships: near, where every cell answers, and far
SEED, STEPS, LINES = 0, 600, 64
LAB_FLOWS = Path(__file__).resolve().parent / "data" / "lab_flows.json"

__all__ = ["GAPS", "LAB_FLOWS", "compute", "from_dict", "shipped"]


def from_dict(record: dict) -> GradientFlow:
    """A GradientFlow back from `GradientFlow.to_dict()`."""
    from .gradflow import GradientFlow

    arrays = {key: None if record[key] is None else np.asarray(record[key], dtype=float)
              for key in ("input_norms", "hidden_norms", "cell_norms")}
    return GradientFlow(**{**record, **arrays, "distance": np.asarray(record["distance"], dtype=int)})


def compute(gap: int) -> dict[str, GradientFlow]:
    """The three cells' flow at `gap`, from models trained now (deterministic: one thread, seed 0)."""
    from .gradflow import lab_flow, lab_models

    return lab_flow(lab_models(gap, seed=SEED, steps=STEPS), gap, lines=LINES)


@functools.cache
def shipped() -> dict[int, dict[str, GradientFlow]]:
    """gap -> cell -> GradientFlow, as `python -m charmodels.labflow` wrote them (read once)."""
    data = json.loads(LAB_FLOWS.read_text(encoding="utf-8"))
    return {int(gap): {cell: from_dict(flow) for cell, flow in flows.items()} for gap, flows in data["flows"].items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compute the Memory lab's gradient flows and write them.")
    parser.add_argument("--out", type=Path, default=LAB_FLOWS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # the same numbers on any machine of this kind
    flows = {str(gap): {cell: flow.to_dict() for cell, flow in compute(gap).items()} for gap in GAPS}
    record = {"seed": SEED, "steps": STEPS, "lines": LINES, "torch": torch.__version__, "flows": flows}
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
