"""Train the tiny models, small enough that every weight fits on a screen.

    python scripts/train_tiny.py                      # all 18 into checkpoints/ (a few minutes, one core)
    python scripts/train_tiny.py --only hihello --out /tmp/tiny

hihello and seoul (seed 001's own example is ``nn.RNN(input_size=4, hidden_size=2)``), RNN,
LSTM and GRU, hidden 2, 4 and 8: each made by `train.py` with the standard short-text recipe
(one-hot input, at most 8 attempts x 300 steps, seed 0) on one thread, so the same command
with the same torch on the same kind of CPU gives the same tensors. Saved as
``<text>-<cell>-h<size>`` (hihello-rnn-h2, ...), beside the 24 standard models. A model too
small to recite its text is kept as it is: its checkpoint records that it did not reach the
bar (history "reached" false, its metrics below the bar), and the app shows it honestly.

The table printed at the end says, per text and cell, the smallest size that recites.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ("hihello", "seoul")
CELLS = ("rnn", "lstm", "gru")
SIZES = (2, 4, 8)


def tiny_name(text: str, cell: str, size: int) -> str:
    """The name a tiny model is shipped and served under: hihello-rnn-h2."""
    return f"{text}-{cell}-h{size}"


def train(flags: list[str], log: Path) -> None:
    """One train.py run on one thread, its output kept in `log`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "train.py"), *flags, "--jobs", "1"]
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode not in (0, 1):  # 1: below the quality bar, which a tiny model may honestly be
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=TEXTS, action="append", help="one text's models (repeatable; default: both)")
    parser.add_argument("--size", type=int, choices=SIZES, action="append", help="one size (repeatable; default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "checkpoints", help="where the checkpoints go; default checkpoints/")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import charmodels as cm

    reached: dict[tuple[str, str], list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="charmodels-tiny-") as scratch:
        for text in args.only or TEXTS:
            for cell in CELLS:
                for size in args.size or SIZES:
                    run = Path(scratch) / tiny_name(text, cell, size)
                    run.mkdir()
                    flags = ["--corpus", text, "--cell", cell, "--hidden-size", str(size), "--seed", "0", "--out", str(run)]
                    train(flags, run / "train.log")
                    target = args.out / f"{tiny_name(text, cell, size)}.safetensors"
                    shutil.copyfile(run / f"{text}-{cell}.safetensors", target)
                    model = cm.load_checkpoint(target)
                    m = model.info["metrics"]
                    ok = bool(model.info["history"]["reached"])
                    if ok:
                        reached.setdefault((text, cell), []).append(size)
                    print(f"{target.stem:18s} {model.num_parameters():5d} parameters  tf_acc {m['tf_acc']:6.1%}  "
                          f"recon {m['recon']:6.1%}  min_p {m['min_p']:.3f}  {'reaches the bar' if ok else 'below the bar'}",
                          flush=True)
    print("\nsmallest size that recites:")
    for text in args.only or TEXTS:
        for cell in CELLS:
            sizes = reached.get((text, cell))
            print(f"  {text:8s} {cell:5s} {'h' + str(min(sizes)) if sizes else 'none of ' + str(list(args.size or SIZES))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
