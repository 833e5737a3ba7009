"""Train every built-in corpus with every cell type into checkpoints/, or a text of your own.

    python train.py                                  # all 8 corpora x rnn, lstm, gru
    python train.py --corpus goethe --cell rnn       # one model
    python train.py --text-file poem.txt --name poem # your own text, any language (UTF-8)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from charmodels.corpora import CORPORA, Corpus, corpus_from_text
from charmodels.model import CELLS, ModelConfig
from charmodels.training import TrainConfig

PRINT_EVERY = 25  # steps between progress lines
PREDICTION_EVERY = 100  # steps between prediction strings, the seeds' "------ 10 ------"
BAR_WIDTH = 20


@dataclass(frozen=True)
class Job:
    corpus: Corpus
    model_config: ModelConfig
    train_config: TrainConfig
    out: Path

    @property
    def name(self) -> str:
        return f"{self.corpus.name}-{self.model_config.cell}"

    @property
    def expected_cost(self) -> float:
        # the tanh RNN and the GRU have no fused CPU kernel: start the long ones first
        return len(self.corpus.text) * {"lstm": 1, "rnn": 3, "gru": 6}[self.model_config.cell]


def one_line(text: str, width: int = 100) -> str:
    shown = text.replace("\n", "⏎")
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def run_job(job: Job, messages) -> dict:
    """Runs in a worker process: one thread, since two small models per core beat one shared."""
    import torch

    from charmodels.recipe import train_to_checkpoint

    torch.set_num_threads(1)
    max_steps = job.train_config.max_steps

    def on_step(p) -> None:
        if p.step % PRINT_EVERY == 0 or p.step == 1:
            done = int(BAR_WIDTH * p.step / max_steps)
            bar = "█" * done + "░" * (BAR_WIDTH - done)
            messages.put(
                f"{job.name:16s} try {p.attempt} {bar} step {p.step:4d}/{max_steps} "
                f"loss {p.loss:.4f} tf_acc {p.tf_acc:6.1%} min_p {p.min_p:.3f}"
            )
        if p.step % PREDICTION_EVERY == 0:
            messages.put(f"{job.name:16s} ------ {p.total_steps} ------ {one_line(p.prediction)}")

    result = train_to_checkpoint(job.corpus, job.model_config, job.train_config, job.out, on_step)
    h = result.history
    messages.put(f"{job.name:16s} done: {h.steps} steps in {h.seconds:.1f} s -> {one_line(h.snapshots[-1][1])}")
    return {
        "name": job.name,
        "corpus": job.corpus.name,
        "cell": job.model_config.cell,
        "parameters": result.model.num_parameters(),
        "steps": h.steps,
        "attempts": h.attempts,
        "seconds": h.seconds,
        "path": str(result.path),
        **result.metrics.to_dict(),
        "meets_bar": result.metrics.meets_bar,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults_model, defaults_train = ModelConfig(), TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="a built-in corpus (repeatable; default: all)")
    parser.add_argument("--cell", action="append", choices=list(CELLS), help="a cell type (repeatable; default: all)")
    parser.add_argument("--text-file", type=Path, help="train on your own UTF-8 text file instead")
    parser.add_argument("--name", help="the name of your text's checkpoints (with --text-file)")
    parser.add_argument("--lines", action="store_true", help="your text is separate lines, each its own sequence")
    parser.add_argument("--hidden-size", type=int, default=defaults_model.hidden_size)
    parser.add_argument("--layers", type=int, default=defaults_model.layers)
    parser.add_argument("--embedding-dim", type=int, default=defaults_model.embedding_dim, help="0 = one-hot input, as in the seeds")
    parser.add_argument("--lr", type=float, default=defaults_train.lr)
    parser.add_argument("--max-steps", type=int, default=defaults_train.max_steps, help="steps per attempt")
    parser.add_argument("--seed", type=int, default=defaults_train.seed)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "checkpoints")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="models trained at once")
    args = parser.parse_args(argv)
    if args.text_file is not None and not args.name:
        parser.error("--text-file needs --name NAME for its checkpoints")
    if args.text_file is not None and args.corpus:
        parser.error("choose --corpus or --text-file, not both")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def corpora_from(args: argparse.Namespace) -> list[Corpus]:
    if args.text_file is None:
        return [CORPORA[name] for name in (args.corpus or CORPORA)]
    try:
        text = args.text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"cannot read {args.text_file}: {error}") from error
    corpus = corpus_from_text(args.name, text, source=f"the file {args.text_file.name}")
    return [Corpus(corpus.name, corpus.text, corpus.source, args.lines)]


def print_table(rows: list[dict]) -> None:
    header = f"{'corpus':10s} {'cell':5s} {'params':>8s} {'steps':>6s} {'seconds':>8s} {'tf_acc':>7s} {'recon':>7s} {'bpc':>7s} {'min_p':>6s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        flag = "" if r["meets_bar"] else "  <- below the bar"
        print(
            f"{r['corpus']:10s} {r['cell']:5s} {r['parameters']:8,d} {r['steps']:6d} {r['seconds']:8.1f} "
            f"{r['tf_acc']:7.1%} {r['recon']:7.1%} {r['bpc']:7.4f} {r['min_p']:6.3f}{flag}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        model_config = ModelConfig(
            cell="lstm", hidden_size=args.hidden_size, layers=args.layers, embedding_dim=args.embedding_dim
        )
        train_config = TrainConfig(lr=args.lr, max_steps=args.max_steps, seed=args.seed)
        corpora = corpora_from(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cells = args.cell or list(CELLS)
    jobs = [
        Job(corpus, ModelConfig(cell, model_config.hidden_size, model_config.layers, model_config.embedding_dim), train_config, args.out)
        for corpus in corpora
        for cell in cells
    ]
    jobs.sort(key=lambda job: -job.expected_cost)
    print(f"training {len(jobs)} model(s) on {args.jobs} process(es) into {args.out}", flush=True)
    started = time.perf_counter()
    rows = []
    context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no forked torch threads
    with context.Manager() as manager, ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
        messages = manager.Queue()
        futures = {pool.submit(run_job, job, messages): job for job in jobs}
        pending = set(futures)
        while pending:
            try:
                print(messages.get(timeout=0.2), flush=True)
            except queue.Empty:
                pass
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                rows.append(future.result())
        while not messages.empty():
            print(messages.get(), flush=True)
    wall = time.perf_counter() - started
    corpus_order = [c.name for c in corpora]
    rows.sort(key=lambda r: (corpus_order.index(r["corpus"]), cells.index(r["cell"])))
    print()
    print_table(rows)
    print(f"\n{len(rows)} model(s) in {wall:.1f} s wall on {args.jobs} process(es)")
    failed = [r for r in rows if not r["meets_bar"]]
    if failed:
        print(
            "\nBELOW THE QUALITY BAR (tf_acc = 100%, recon = 100%, min_p >= 0.9): "
            + ", ".join(r["name"] for r in failed)
            + f"\nEach ran out of attempts ({train_config.attempts} x {train_config.max_steps} steps) before the criterion held; "
            "try another --seed, a larger --hidden-size or more --max-steps.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
