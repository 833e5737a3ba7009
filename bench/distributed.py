"""Long-text training on several processes (torchrun + DDP) beside the single-process trainer, in one run.

    python -m bench distributed --out /tmp/distributed.json            # 3 rounds of 4 runs x 20 s (+ the GPU's)
    python -m bench distributed --quick --out /tmp/distributed.json    # 1 round of 4 runs x 10 s

Each run is train.py on Tiny Shakespeare with its long-text defaults (2 x 256 LSTM, seq 50,
the global batch of 16 streams, precision by device) for the same wall-clock budget, one
after the other:

- `single`: `python train.py` on one thread (OMP_NUM_THREADS=1), the baseline;
- `ddp1`: `torchrun --nproc_per_node=1` (gloo) on one thread: the same work through the DDP
  engine (its ratio to the baseline is what the engine costs a step);
- `ddp2`: `torchrun --nproc_per_node=2` (gloo), 8 of the 16 streams each, one thread each
  (as torchrun sets it): 2.0 would be perfect scaling on two free cores;
- `single_all_cores`: `python train.py` with torch on every core, the usual way to use the
  whole CPU in one process.

Each round runs them in turn (the order reversed every other round) and each figure is the
median over the rounds. The figures come from the checkpoints: steps and seconds of
training (the final validation excluded), characters per second. Other work on the cores
skews them, a run on several threads most of all (a thread descheduled holds up the
others): the load average is recorded beside each run. Where a GPU is present,
`train.py --device cuda` and torchrun with NCCL on every GPU run once each too.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench import row
from bench.shakespeare import CORPUS
from charmodels.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SECONDS, QUICK_SECONDS = 20.0, 10.0
ROUNDS, QUICK_ROUNDS = 3, 1
START_SECONDS = 180  # a run's start (Python, torch, DDP) and end beyond its budget, at most
FLAGS = ["--name", "bench", "--long", "--eval-every", "0", "--checkpoint-every", "0", "--val-fraction", "0.01"]


def command(processes: int | None, text: Path, out: Path, seconds: float, device: str) -> list[str]:
    """train.py alone (processes None), or under torchrun with `processes` processes."""
    launcher = [sys.executable] if processes is None else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return [*launcher, "train.py", "--text-file", str(text), *FLAGS, "--time-limit", str(seconds), "--device", device, "--out", str(out)]


def measure(name: str, processes: int | None, text: Path, seconds: float, device: str = "cpu", threads: int | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CHARMODELS_CHECKPOINTS", "RANK", "WORLD_SIZE", "LOCAL_RANK", "OMP_NUM_THREADS")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            command(processes, text, Path(folder), seconds, device),
            check=False, cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=seconds + START_SECONDS,
        )  # fmt: skip
        if result.returncode != 0:
            raise SystemExit(f"bench distributed: the {name} run failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
        info = load_checkpoint(Path(folder) / "bench-lstm.safetensors").info
    history = info["history"]
    return {
        "steps": history["steps"],
        "seconds": history["seconds"],
        "steps_per_s": history["steps"] / history["seconds"],
        "chars_per_s": history["chars_per_s"],
        "val_bpc": history["val_bpc"],
        "processes": info["distributed"]["world_size"],
        "backend": info["distributed"]["backend"],
        "precision": info["train_config"]["precision"],
        "load": {"start": [round(x, 2) for x in load_before], "end": [round(x, 2) for x in os.getloadavg()]},
    }


def run(quick: bool) -> list[dict]:
    if not CORPUS.is_file():
        raise SystemExit(f"Tiny Shakespeare not found at {CORPUS} (set CHARMODELS_SHAKESPEARE to its path)")
    seconds, rounds = (QUICK_SECONDS, QUICK_ROUNDS) if quick else (SECONDS, ROUNDS)
    cores = os.cpu_count() or 1
    runs = {  # name: (description, processes under torchrun or None, device, OMP_NUM_THREADS or None)
        "single": ("python train.py on one thread: the single-process trainer", None, "cpu", 1),
        "ddp1": ("torchrun --nproc_per_node=1 (gloo), one thread: DDP around one process", 1, "cpu", 1),
        "ddp2": ("torchrun --nproc_per_node=2 (gloo): 8 of the 16 streams each, one thread each", 2, "cpu", 1),
        "single_all_cores": (f"python train.py, torch on every core ({cores})", None, "cpu", None),
    }
    measured: dict[str, list[dict]] = {name: [] for name in runs}
    for round_ in range(rounds):
        for name in list(runs)[:: 1 if round_ % 2 == 0 else -1]:
            _, processes, device, threads = runs[name]
            measured[name].append(measure(name, processes, CORPUS, seconds, device, threads))
    if torch.cuda.is_available():
        gpus = torch.cuda.device_count()
        for name, description, processes in (
            ("gpu", f"python train.py --device cuda ({torch.cuda.get_device_name(0)})", None),
            (f"gpu_ddp{gpus}", f"torchrun --nproc_per_node={gpus} --device cuda (NCCL, one GPU each)", gpus),
        ):
            runs[name] = (description, processes, "cuda", None)
            measured[name] = [measure(name, processes, CORPUS, seconds, "cuda")]
    results = {name: {key: statistics.median(r[key] for r in rs) for key in ("steps_per_s", "chars_per_s")} for name, rs in measured.items()}
    base = results["single"]
    rows = []
    for name, (description, *_) in runs.items():
        r, first = results[name], measured[name][0]
        baseline = name != "single"
        each = "; ".join(f"{m['steps']:,} steps in {m['seconds']:.1f} s, load {m['load']['start'][0]:.1f}-{m['load']['end'][0]:.1f}" for m in measured[name])
        notes = (
            f"{description}; median of {len(measured[name])} run(s) of {seconds:.0f} s ({each}); {first['processes']} process(es), "
            f"{first['backend'] or 'no process group'}, {first['precision']}"
        )
        rows.append(
            row(
                f"distributed.{name}.steps_per_s",
                round(r["steps_per_s"], 2),
                "steps/s",
                baseline=round(base["steps_per_s"], 2) if baseline else None,
                ratio=round(r["steps_per_s"] / base["steps_per_s"], 3) if baseline else None,
                notes=notes,
            )
        )
        rows.append(
            row(
                f"distributed.{name}.chars_per_s",
                round(r["chars_per_s"]),
                "chars/s",
                baseline=round(base["chars_per_s"]) if baseline else None,
                ratio=round(r["chars_per_s"] / base["chars_per_s"], 3) if baseline else None,
                notes="the global batch: 16 streams x 50 characters a step",
            )
        )
    return rows
