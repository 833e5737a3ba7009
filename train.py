"""Train every built-in corpus with every cell type into checkpoints/, or a text of your own.

    python train.py                                  # all 8 corpora x rnn, lstm, gru
    python train.py --corpus goethe --cell rnn       # one model
    python train.py --text-file poem.txt --name poem # your own text, any language (UTF-8)
    python train.py --text-file shakespeare.txt --name shakespeare --time-limit 600
                                                     # a long text: truncated BPTT, held-out bpc
    python train.py --text-file shakespeare.txt --name shakespeare --time-limit 1200 --resume
    torchrun --standalone --nproc_per_node=2 train.py --text-file big.txt --name big --max-steps 20000
                                                     # a long text on 2 processes (DDP; gloo, or NCCL with --device cuda)

A text of more than 10,000 characters (or any text with --long) is trained in long-text
mode (charmodels.longtext): mini-batches of truncated backpropagation through time, the
last --val-fraction held out and its bits per character reported, a checkpoint and a
training state every --checkpoint-every steps into runs/ (--resume continues exactly).
Started by torchrun, every process trains its share of the --batch-size streams (the
global batch: the same recipe on any number of processes); rank 0 prints and saves.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import queue
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from charmodels import distributed
from charmodels.corpora import CORPORA, Corpus, corpus_from_text
from charmodels.longtext import LONG_MODEL, LongTextConfig
from charmodels.model import CELLS, ModelConfig
from charmodels.training import TrainConfig

ROOT = Path(__file__).resolve().parent
PRINT_EVERY = 25  # steps between progress lines
PREDICTION_EVERY = 100  # steps between prediction strings, the seeds' "------ 10 ------"
# Above this many characters a text is trained in long-text mode: one whole-sequence step over
# it takes seconds, and a text that long is learned to generalise (validated on a held-out
# part), not to be recited. A shorter text can still be trained that way with --long.
LONG_FROM = 10_000
LONG_PRINT_SECONDS = 10.0  # seconds between long-text progress lines (and at every validation)
# long-text flags: (flag, type, metavar, help); their defaults are LongTextConfig's
LONG_FLAGS = [
    ("--seq-len", int, "N", "characters per window of truncated BPTT"),
    ("--batch-size", int, "N", "parallel streams, one window of each per step"),
    ("--val-fraction", float, "F", "the last share of the text held out for validation"),
    ("--time-limit", float, "SECONDS", "stop after this many seconds of training in all; 0 = no limit"),
    ("--checkpoint-every", int, "N", "steps between checkpoints + training state; 0 = only at the end"),
    ("--eval-every", int, "N", "steps between validation measurements; 0 = only at the end"),
    ("--optimizer", str, "NAME", "adam, rmsprop or sgd"),
    ("--weight-decay", float, "F", "adam: decoupled weight decay (AdamW, default 0.1); rmsprop, sgd: L2 added to the gradient (default 0)"),
    ("--decay-start", float, "F", "share of the run after which the learning rate falls linearly to 0; 1 = constant"),
    ("--dropout", float, "P", "while training: dropout between stacked layers and before the head"),
    ("--precision", str, "NAME", "fp32, or bf16: forward passes under bfloat16 autocast, weights kept in fp32; default: bf16 where the device computes it natively"),
    ("--device", str, "NAME", "cpu, or cuda / cuda:N when a GPU is present"),
]


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
    """Runs in a worker process: one thread, since two small models per core beat one shared.

    Progress goes to the main process as plain tuples: ("step", name, attempt, step, loss,
    tf_acc, min_p), ("prediction", name, total step, text) and ("done", name, steps, seconds, text).
    """
    import torch

    from charmodels.recipe import train_to_checkpoint

    torch.set_num_threads(1)

    def on_step(p) -> None:
        if p.step % PRINT_EVERY == 0 or p.step == 1:
            messages.put(("step", job.name, p.attempt, p.step, p.loss, p.tf_acc, p.min_p))
        if p.step % PREDICTION_EVERY == 0:
            messages.put(("prediction", job.name, p.total_steps, p.prediction))

    result = train_to_checkpoint(job.corpus, job.model_config, job.train_config, job.out, on_step)
    h = result.history
    messages.put(("done", job.name, h.steps, h.seconds, h.snapshots[-1][1]))
    return {
        "name": job.name,
        "corpus": job.corpus.name,
        "cell": job.model_config.cell,
        "parameters": result.model.num_parameters(),
        "steps": h.steps,
        "attempts": h.attempts,
        "best_attempt": h.best.get("attempt"),
        "seconds": h.seconds,
        "path": str(result.path),
        **result.metrics.to_dict(),
        "meets_bar": result.metrics.meets_bar,
    }


class Board:
    """The live view of several trainings: a rich progress bar per model on a terminal, the
    seed-style prediction lines ("------ 100 ------ ...") scrolling above them. Piped into a
    file or a CI log the bars are off and only the lines are printed."""

    def __init__(self, jobs: list[Job]):
        self.progress = Progress(
            TextColumn("{task.description:16s}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            disable=not sys.stderr.isatty(),
        )
        self.tasks = {job.name: self.progress.add_task(job.name, total=job.train_config.max_steps, info="waiting") for job in jobs}

    def __enter__(self) -> Board:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def show(self, message: tuple) -> None:
        kind, name, *rest = message
        task = self.tasks[name]
        if kind == "step":
            attempt, step, loss, tf_acc, min_p = rest
            info = f"try {attempt} loss {loss:.4f} tf_acc {tf_acc:6.1%} min_p {min_p:.3f}"
            self.progress.update(task, completed=step, info=info)
        elif kind == "prediction":
            total, text = rest
            self.progress.console.print(f"{name:16s} ------ {total} ------ {one_line(text)}", markup=False, highlight=False)
        elif kind == "done":
            steps, seconds, text = rest
            self.progress.update(task, completed=self.progress.tasks[task].total, info=f"done: {steps} steps in {seconds:.1f} s")
            self.progress.console.print(f"{name:16s} done: {steps} steps in {seconds:.1f} s -> {one_line(text)}", markup=False, highlight=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="a built-in corpus (repeatable; default: all)")
    parser.add_argument("--cell", action="append", choices=list(CELLS), help="a cell type (repeatable; default: all)")
    parser.add_argument("--text-file", type=Path, metavar="FILE", help="train on your own UTF-8 text file instead")
    parser.add_argument("--name", metavar="NAME", help="the name of your text's checkpoints (with --text-file)")
    parser.add_argument("--lines", action="store_true", help="your text is separate lines, each its own sequence")
    model, train, long_model, long_train = ModelConfig(), TrainConfig(), LONG_MODEL, LongTextConfig(max_steps=1)
    parser.add_argument("--hidden-size", type=int, metavar="N", help=f"units per layer; default {model.hidden_size} (long texts: {long_model.hidden_size})")
    parser.add_argument("--layers", type=int, metavar="N", help=f"stacked layers; default {model.layers} (long texts: {long_model.layers})")
    parser.add_argument("--embedding-dim", type=int, metavar="N", help="size of a learned input embedding; default 0 = one-hot input, as in the seeds")
    parser.add_argument("--lr", type=float, metavar="LR", help=f"learning rate; default {train.lr:g} (long texts: {long_train.lr:g})")
    parser.add_argument("--max-steps", type=int, metavar="N", help=f"steps per attempt; default {train.max_steps} (long texts: steps in all, no default)")
    parser.add_argument("--seed", type=int, metavar="N", help=f"seeds the initial weights; default {train.seed}")
    parser.add_argument("--out", type=Path, metavar="FOLDER", help="where checkpoints go; default checkpoints/ (long texts: runs/)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N", help="models trained at once; default %(default)s")
    long = parser.add_argument_group("long texts (more than 10,000 characters, or --long)")
    long.add_argument("--long", action="store_true", help="train --text-file in long-text mode whatever its length")
    for flag, kind, metavar, text in LONG_FLAGS:
        field = flag[2:].replace("-", "_")
        default = getattr(long_train, field)
        if LongTextConfig.__dataclass_fields__[field].default is None:  # resolved by optimizer or device: said in `text`
            shown = text
        else:
            shown = f"{text}; default {default:g}" if isinstance(default, float) else f"{text}; default {default}"
        long.add_argument(flag, type=kind, metavar=metavar, help=shown)
    long.add_argument("--resume", action="store_true", help="continue the run saved in --out for --name exactly")
    parser.add_argument(
        "--push-to-hub", metavar="OWNER/REPO",
        help="after a training that succeeds, write the model's Hugging Face folder (model.safetensors, config.json, "
        "README.md model card, loss.png) to hub/REPO and upload it to the model repo OWNER/REPO (needs `hf auth login`)",
    )
    args = parser.parse_args(argv)
    if args.push_to_hub is not None:
        from charmodels.hub import check_repo_id

        try:
            check_repo_id(args.push_to_hub)
        except ValueError as error:
            parser.error(f"--push-to-hub: {error}")
        one_text = args.text_file is not None or len(args.corpus or CORPORA) == 1
        if not one_text or not (args.long or len(args.cell or CELLS) == 1):
            parser.error("--push-to-hub uploads one model: give one --cell and one --corpus (or --text-file)")
    if args.text_file is not None and not args.name:
        parser.error("--text-file needs --name NAME for its checkpoints")
    if args.text_file is not None and args.corpus:
        parser.error("choose --corpus or --text-file, not both")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.text_file is None and (args.long or args.resume):
        parser.error("--long and --resume train on --text-file")
    return args


def long_flags_given(args: argparse.Namespace) -> list[str]:
    flags = [flag for flag, *_ in LONG_FLAGS if getattr(args, flag[2:].replace("-", "_")) is not None]
    return flags + (["--resume"] if args.resume else [])


def corpora_from(args: argparse.Namespace) -> list[Corpus]:
    if args.text_file is None:
        return [CORPORA[name] for name in (args.corpus or CORPORA)]
    try:
        text = args.text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"cannot read {args.text_file}: {error}") from error
    corpus = corpus_from_text(args.name, text, source=f"the file {args.text_file.name}")
    return [Corpus(corpus.name, corpus.text, corpus.source, args.lines)]


def given(value, default):
    return default if value is None else value


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
        corpora = corpora_from(args)
        if args.text_file is not None and (args.long or len(corpora[0].text) > LONG_FROM):
            why = "--long" if args.long else f"{len(corpora[0].text):,} characters > {LONG_FROM:,}, too long to train as one sequence"
            if distributed.launched_rank() == 0:
                print(f"long-text mode ({why}): truncated BPTT, validation on the last part of the text", flush=True)
            return push_trained(args, main_long(args, corpora[0]), long_checkpoint_path(args, corpora[0]))
        if distributed.launched():
            raise ValueError("under torchrun, train.py trains one long text on all processes: give --text-file FILE (and --long for a text of 10,000 characters or fewer)")
        if long_flags_given(args):
            raise ValueError(f"{', '.join(long_flags_given(args))} apply to long-text training: add --long")
        defaults_model, defaults_train = ModelConfig(), TrainConfig()
        model_config = ModelConfig(
            cell="lstm",
            hidden_size=given(args.hidden_size, defaults_model.hidden_size),
            layers=given(args.layers, defaults_model.layers),
            embedding_dim=given(args.embedding_dim, defaults_model.embedding_dim),
        )
        train_config = TrainConfig(
            lr=given(args.lr, defaults_train.lr),
            max_steps=given(args.max_steps, defaults_train.max_steps),
            seed=given(args.seed, defaults_train.seed),
        )
        args.out = given(args.out, ROOT / "checkpoints")
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
    with context.Manager() as manager, ProcessPoolExecutor(args.jobs, mp_context=context) as pool, Board(jobs) as board:
        messages = manager.Queue()
        futures = {pool.submit(run_job, job, messages): job for job in jobs}
        pending = set(futures)
        while pending:
            try:
                board.show(messages.get(timeout=0.2))
            except queue.Empty:
                pass
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                rows.append(future.result())
        while not messages.empty():
            board.show(messages.get())
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
    return push_trained(args, 0, Path(rows[0]["path"])) if args.push_to_hub else 0


def push_trained(args: argparse.Namespace, status: int, path: Path) -> int:
    """--push-to-hub OWNER/REPO: once training succeeded (`status` 0), the model's folder is
    written to hub/REPO (in the current folder), then uploaded; under torchrun by rank 0 alone.
    Offline, logged out or without network: a one-line error within seconds, saying where the
    folder is and the `hf upload` command that uploads it later."""
    if args.push_to_hub is None or os.environ.get("RANK", "0") != "0":
        return status
    if status != 0:
        print(f"--push-to-hub: nothing uploaded to {args.push_to_hub}, since the training did not succeed", file=sys.stderr)
        return status
    from charmodels.checkpoint import load_checkpoint
    from charmodels.errors import CharmodelsError
    from charmodels.hub import push_to_hub, staging_folder

    folder = staging_folder(args.push_to_hub)
    print(f"writing {folder} and uploading it to {args.push_to_hub}", flush=True)
    try:
        url = push_to_hub(load_checkpoint(path), args.push_to_hub, folder=folder)
    except CharmodelsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"uploaded to {url}", flush=True)
    return 0


def long_checkpoint_path(args: argparse.Namespace, corpus: Corpus) -> Path:
    """Where a long-text run saves its model: --out (default runs/) / <name>-<cell>.safetensors."""
    return given(args.out, ROOT / "runs") / f"{corpus.name}-{(args.cell or [LONG_MODEL.cell])[0]}.safetensors"


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def main_long(args: argparse.Namespace, corpus: Corpus) -> int:
    """One model on a long text: truncated BPTT, held-out bpc, checkpoints and --resume."""
    from charmodels.checkpoint import CheckpointError, read_train_state, state_path
    from charmodels.longtext import saved_config

    lead = distributed.launched_rank() == 0  # under torchrun only rank 0 prints; the others train quietly
    say = print if lead else (lambda *args, **kwargs: None)
    if args.cell and len(args.cell) > 1:
        raise ValueError("long-text training trains one model: give one --cell")
    if args.lines:
        raise ValueError("--lines is for short texts of separate lines; a long text is read as one stream")
    path = long_checkpoint_path(args, corpus)
    flags = {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag, *_ in LONG_FLAGS}
    flags.update(lr=args.lr, max_steps=args.max_steps, seed=args.seed)
    model_flags = {"cell": args.cell[0] if args.cell else None, "hidden_size": args.hidden_size, "layers": args.layers}
    model_flags["embedding_dim"] = args.embedding_dim
    if args.resume:  # the run's own recipe and model, unless a flag says otherwise (train_long refuses a changed recipe)
        try:
            _, state = read_train_state(state_path(path))
        except CheckpointError as error:
            raise ValueError(f"cannot resume: {error}") from error
        stored, stored_model = saved_config(state).to_dict(), state["model_config"]
        say(f"resuming {path} at step {state['step']:,} ({clock(state['elapsed'])} trained)", flush=True)
    else:
        state, stored, stored_model = None, {}, LONG_MODEL.to_dict()
        if args.time_limit is None and args.max_steps is None:
            raise ValueError("long-text training needs --time-limit SECONDS or --max-steps N (or both)")
        if path.exists() or state_path(path).exists():
            raise ValueError(f"{path} or its training state exists already: add --resume to continue it, or choose another --name/--out")
    config = LongTextConfig(**{**stored, **{k: v for k, v in flags.items() if v is not None}})
    model_config = ModelConfig(**{**stored_model, **{k: v for k, v in model_flags.items() if v is not None}})
    group = distributed.start(config.device)  # under torchrun: join the other processes (gloo, or NCCL on GPUs)
    try:
        return train_long_run(args, corpus, path, config, model_config, group, state, say)
    finally:
        distributed.stop()


def train_long_run(args, corpus: Corpus, path: Path, config, model_config: ModelConfig, group, state: dict | None, say) -> int:
    """main_long's training, in every process under torchrun (`say` prints on rank 0 only)."""
    from charmodels.checkpoint import CheckpointError, state_path
    from charmodels.longtext import train_long

    lead = group is None or group.lead
    if group is not None:
        share = distributed.share(config.batch_size, group)  # refuses a batch that does not split evenly
        say(
            f"{group.world_size} processes (torchrun, {group.backend}): each trains {share.stop - share.start} of the "
            f"{config.batch_size} streams; rank 0 prints and saves",
            flush=True,
        )
    saved_world, world = (state or {}).get("world_size", 1), group.world_size if group is not None else 1
    if state is not None and saved_world != world:
        say(
            f"this run trained on {saved_world} process(es) and continues on {world}: the weights, optimizer, data position, "
            "carried states and schedule continue exactly; the gradients are summed in another order and dropout draws "
            f"new masks, so the result will differ slightly from continuing on {saved_world}",
            flush=True,
        )
    say(
        f"{path.name}: {model_config.layers} x {model_config.hidden_size} {model_config.cell.upper()}, "
        f"{'one-hot' if not model_config.embedding_dim else f'embedding {model_config.embedding_dim}'}, "
        f"seq {config.seq_len}, batch {config.batch_size}, {config.optimizer} lr {config.lr:g} weight decay {config.weight_decay:g}"
        f"{'' if config.decay_start >= 1 else f' (linear to 0 after {config.decay_start:.0%})'}, dropout {config.dropout:g}, "
        f"last {config.val_fraction:.0%} of {len(corpus.text):,} characters held out, on {config.device}",
        flush=True,
    )

    stop = []  # Ctrl-C once: finish this step, save, end; twice: the usual KeyboardInterrupt

    def on_interrupt(signum, frame) -> None:
        if stop:
            raise KeyboardInterrupt
        stop.append(True)
        say("\nstopping after this step and saving (Ctrl-C again to abort without saving)", flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    last_print = [0.0]
    live = sys.stderr.isatty()  # a terminal gets a live bar; a log gets a line every LONG_PRINT_SECONDS
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        TextColumn("{task.fields[info]}"),
        disable=not live or not lead,
    )
    task = progress.add_task(path.name, total=config.max_steps or config.time_limit, info="starting")

    def on_step(p) -> bool:
        limit = f"/{p.max_steps:,}" if p.max_steps else ""
        val = f"val bpc {p.val_bpc:.4f}" if p.val_bpc is not None else "val bpc -"
        line = (
            f"step {p.step:,}{limit}  epoch {p.epoch:.2f}  loss {p.recent_loss:.4f} ({p.recent_loss / math.log(2):.3f} bpc)  "
            f"{val}  lr {p.lr:.2e}  {p.chars_per_s:,.0f} chars/s  {clock(p.elapsed)} elapsed  ETA {clock(p.eta)}"
        )
        progress.update(task, completed=p.step if config.max_steps else min(p.elapsed, config.time_limit), info=line)
        now = time.monotonic()
        if p.evaluated or p.saved or not live and (p.step == 1 or now - last_print[0] >= LONG_PRINT_SECONDS or p.step == p.max_steps):
            last_print[0] = now
            progress.console.print(line + ("  saved" if p.saved else ""), markup=False, highlight=False)
        return not stop

    progress.start()
    try:
        model, history = train_long(corpus, model_config, config, path, on_step, resume=args.resume)
    except CheckpointError as error:
        raise ValueError(str(error)) from error
    finally:
        progress.stop()
        signal.signal(signal.SIGINT, previous)
    say(
        f"\n{'stopped' if history.stopped else 'done'} ({history.reason}): {history.steps:,} steps, {history.epochs:.2f} epochs, "
        f"{clock(history.seconds)} of training, {history.chars_per_s:,.0f} chars/s",
        flush=True,
    )
    say(f"train loss      {history.train_loss:.4f} nats ({history.train_loss / math.log(2):.4f} bpc, mean of the last steps)")
    say(f"validation bpc  {history.val_bpc:.4f} (the last {config.val_fraction:.0%} of the text)")
    say(f"parameters      {model.num_parameters():,}")
    say(f"checkpoint      {path}\ntraining state  {state_path(path)} (continue with the same command and --resume)")
    if history.reason == "diverged":
        if lead:
            print(
                f"\nDIVERGED at step {history.diverged_at:,}: its loss or gradient was not finite. The checkpoint holds the "
                "last finite weights; try a smaller --lr or --clip.",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    distributed.end(main())  # sys.exit, or under torchrun os._exit (why: distributed.end)
