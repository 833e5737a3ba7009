"""Train the app's classroom models, the ones beside the 24 that recite: models that are unsure.

    python scripts/train_classroom.py             # all nine into checkpoints/ (about 10 minutes, one core)
    python scripts/train_classroom.py --only goethe_lines --out /tmp/x
    python scripts/train_classroom.py --seeds 4   # goethe_lines' recipe over seeds 0-3: which cell reads the far word

Each model is made by `train.py` with fixed flags, a fixed number of steps and one thread,
so the same command with the same torch on the same kind of CPU gives the same tensors:

- **shakespeare-{rnn,lstm,gru}**: Tiny Shakespeare (../shared/data/tinyshakespeare.txt,
  never copied into the project: 1.1 MB is over the 100,000 characters a checkpoint
  carries, so the checkpoints hold only its SHA-256), 2 x 128 units, train.py's long-text
  recipe for the same number of steps. They generalise, and are unsure: the bars and the
  temperature mean something.
- **lecture_ko-{rnn,lstm,gru}**: the Korean prose of the course notes (../shared/seeds/,
  extracted by `lecture_text` below: lines with Hangul outside code, markup removed),
  1 x 256 units, one-hot input, dropout 0.5; the text is small and travels in the checkpoint.
- **goethe_lines-{rnn,lstm,gru}**: the Goethe quotation one sentence a line, each read from
  a fresh state, so counting sentences cannot tell `apply` from `do`: only the first word
  can. Cells of matched size (about 22,000 parameters) trained with the same recipe
  and budget as the 24 standard models (short-text mode, at most 8 attempts x 300 steps).

Validation bpc (long texts) and the quality bar (goethe_lines) are printed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHAKESPEARE_TEXT = SHARED / "data" / "tinyshakespeare.txt"
SEEDS = SHARED / "seeds"
CELLS = ("rnn", "lstm", "gru")

LONG = ["--long", "--eval-every", "0", "--checkpoint-every", "0", "--seed", "0"]
# train.py's long-text recipe at a size that trains in minutes on one core
SHAKESPEARE = ["--hidden-size", "128", "--layers", "2", "--max-steps", "6000"]
# 12,000 characters, 501 distinct, one-hot as in the seeds (and readable by the course's code): more dropout
LECTURE = ["--hidden-size", "256", "--layers", "1", "--dropout", "0.5", "--max-steps", "800"]
# matched in parameters (22,294 / 22,714 / 22,342 with goethe's 21 characters and the newline)
GOETHE_LINES_SIZES = {"rnn": 128, "lstm": 62, "gru": 72}
MODELS = ("goethe_lines", "lecture_ko", "shakespeare")


def lecture_text(seeds: Path = SEEDS) -> str:
    """The Korean prose of the course notes, in the seeds' order: every line with Hangul that
    is not code (fenced or indented) or front matter, with Markdown and HTML markup removed,
    a line that repeats the one before it kept once."""
    lines = []
    for path in sorted(seeds.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)  # front matter
        text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # fenced code
        for line in text.split("\n"):
            if line[:1] in (" ", "\t") or not re.search("[가-힣]", line):
                continue  # indented code (a notebook's), or no Korean
            line = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", line)  # images
            line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # links: their text
            line = re.sub(r"<[^>]+>", "", line)  # HTML tags
            line = re.sub(r"\$[^$]*\\[^$]*\$", "", line)  # inline maths with commands
            line = line.replace("$", "").replace("**", "").replace("`", "").replace("\\_", "_")
            line = re.sub(r"^#+\s*", "", line)  # headings: their words
            line = re.sub(r"\s+", " ", line).strip()
            if re.search("[가-힣]", line) and (not lines or lines[-1] != line):  # a slide's repeated heading once
                lines.append(line)
    return "\n".join(lines) + "\n"


def goethe_lines_text() -> str:
    """The Goethe quotation of seed 000, one sentence a line (each read from a fresh state)."""
    from charmodels.corpora import CORPORA

    first, second = CORPORA["goethe"].text.split(" Willing", 1)
    return f"{first}\nWilling{second}\n"


def train(flags: list[str], log: Path) -> None:
    """One train.py run on one thread (the same bits on any machine with the same torch and CPU
    kernels; other work on the cores is left a core), its output kept in `log`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "train.py"), *flags, "--jobs", "1"]
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode not in (0, 1):  # 1: a short text below the quality bar, reported below
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=MODELS, action="append", help="one text's models (repeatable; default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "checkpoints", help="where the checkpoints go; default checkpoints/")
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="only measure: goethe_lines' three cells trained with seeds 0..N-1, nothing saved")
    args = parser.parse_args(argv)
    if args.seeds:
        return measure_seeds(args.seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    import charmodels as cm

    with tempfile.TemporaryDirectory(prefix="charmodels-classroom-") as scratch:
        work = Path(scratch)
        for name in args.only or MODELS:
            for cell in CELLS:
                run = work / f"{name}-{cell}"
                run.mkdir()
                if name == "goethe_lines":
                    text = work / "goethe_lines.txt"
                    text.write_text(goethe_lines_text(), encoding="utf-8")
                    flags = ["--text-file", str(text), "--name", name, "--lines", "--cell", cell,
                             "--hidden-size", str(GOETHE_LINES_SIZES[cell]), "--seed", "0", "--out", str(run)]
                elif name == "lecture_ko":
                    text = work / "lecture_ko.txt"
                    text.write_text(lecture_text(), encoding="utf-8")
                    flags = ["--text-file", str(text), "--name", name, "--cell", cell, *LONG, *LECTURE, "--out", str(run)]
                else:
                    if not SHAKESPEARE_TEXT.exists():
                        raise SystemExit(f"{SHAKESPEARE_TEXT} not found: the Tiny Shakespeare text is not part of the project")
                    flags = ["--text-file", str(SHAKESPEARE_TEXT), "--name", name, "--cell", cell, *LONG, *SHAKESPEARE,
                             "--out", str(run)]
                print(f"{name}-{cell}: python train.py {' '.join(flags)}", flush=True)
                train(flags, run / "train.log")
                made = run / f"{name}-{cell}.safetensors"
                shutil.copyfile(made, args.out / made.name)
                model = cm.load_checkpoint(args.out / made.name)
                print(f"  {summary(model)}", flush=True)
    return 0


def measure_seeds(seeds: int) -> int:
    """goethe_lines' recipe over several seeds: does each cell reach the bar, and does its answer
    after `we must ` follow the first word (the far-word probe of the app's comparison tab)?"""
    import charmodels as cm

    swapped = {"Willing is not enough; we must ": "d", "Knowing is not enough; we must ": "a"}
    print(f"{'cell':5s} {'seed':>4s} {'steps':>6s} {'attempts':>8s}  bar    p(d | Willing)  p(a | Knowing)")
    with tempfile.TemporaryDirectory(prefix="charmodels-seeds-") as scratch:
        text = Path(scratch) / "goethe_lines.txt"
        text.write_text(goethe_lines_text(), encoding="utf-8")
        for cell in CELLS:
            for seed in range(seeds):
                run = Path(scratch) / f"{cell}-{seed}"
                run.mkdir()
                train(["--text-file", str(text), "--name", "goethe_lines", "--lines", "--cell", cell,
                       "--hidden-size", str(GOETHE_LINES_SIZES[cell]), "--seed", str(seed), "--out", str(run)], run / "train.log")
                model = cm.load_checkpoint(run / f"goethe_lines-{cell}.safetensors")
                p = [dict(cm.next_char_probs(model, prompt))[answer] for prompt, answer in swapped.items()]
                m, h = model.info["metrics"], model.info["history"]
                bar = "yes" if m["tf_acc"] == 1 and m["recon"] == 1 and m["min_p"] >= 0.9 else "no "
                print(f"{cell:5s} {seed:4d} {h['steps']:6d} {h['attempts']:8d}  {bar}    {p[0]:14.2f}  {p[1]:14.2f}", flush=True)
    return 0


def summary(model) -> str:
    """One line: size, and validation bpc (long texts) or the quality bar (short ones)."""
    info = model.info
    size = f"{info['parameters']:,} parameters"
    if "validation" in info:
        return f"{size}, validation bpc {info['validation']['bpc']:.3f} ({info['history']['steps']:,} steps)"
    m, h = info["metrics"], info["history"]
    bar = "meets the bar" if m["tf_acc"] == 1 and m["recon"] == 1 and m["min_p"] >= 0.9 else "BELOW the bar"
    return f"{size}, {bar}: tf_acc {m['tf_acc']:.1%}, min_p {m['min_p']:.3f} ({h['steps']} steps, {h['attempts']} attempts)"


if __name__ == "__main__":
    raise SystemExit(main())
