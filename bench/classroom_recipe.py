"""A class's texts trained in the library alone: the recipes side by side, then 40 texts through the queue.

1. Side by side, alternating in one process, one thread: the recipe a visitor's training
   used before (`training.train` with ``attempts=1``: the whole text per step, Adam at
   0.03) and `memorize` (windows over streams), each within the same budget of `STEPS`
   readings of the text, on the same texts and cells. CPU seconds are counted per run
   (`time.process_time`), so other work on a shared machine stretches them less than wall
   time; the load average is recorded beside them.
2. A class: `CLASS_SIZE` texts (English and Korean, mixed cells, hidden size 64) handed to
   one `FairQueue` (as many workers as cores, at the queue's default niceness, each
   training in a child process: the app's queue, charmodels.jobs.training_queue) at
   evenly spread moments over `SUBMIT_WINDOW` seconds; wall time until the last one
   finished, how many reached the quality bar, and how often the bound each ticket was
   shown on joining (`end_at_most`) held.

Texts (read at run time, never copied into the project): English paragraphs of Tiny
Shakespeare (../shared/data/tinyshakespeare.txt; without it, the prose of this project's
README), Korean prose of the course notes (the lecture_ko checkpoint's text: its lines of
at least 40 characters that occur once, i.e. sentences, not slide titles), cut at line ends
into 1,000-2,000 characters.
"""

from __future__ import annotations

import collections
import os
import random
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench import row

ROOT = Path(__file__).resolve().parent.parent
SHAKESPEARE = Path(os.environ.get("CHARMODELS_SHAKESPEARE", ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"))
CELL_ORDER = ("lstm", "gru", "rnn")
HIDDEN = 64  # the app's default hidden size
STEPS = 1000  # readings of the text each training may take (the app's slider allows 3000)
LENGTHS = (1000, 2000)
SIDE_BY_SIDE, QUICK_SIDE_BY_SIDE = 12, 3  # texts trained by both recipes
CLASS_SIZE, QUICK_CLASS_SIZE = 40, 6
SUBMIT_WINDOW, QUICK_SUBMIT_WINDOW = 60.0, 10.0  # seconds over which the class submits
TARGET_WALL = 180.0  # seconds from the first submission until the last training finished


# ---- the texts -------------------------------------------------------------------------


def english_source() -> str:
    if SHAKESPEARE.is_file():
        return SHAKESPEARE.read_text(encoding="utf-8")
    text = (ROOT / "README.md").read_text(encoding="utf-8")  # prose lines of the README, without code
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if len(line) >= 40 and not line.startswith(("|", "#", "    "))) + "\n"


def korean_source() -> str:
    """The course notes' Korean sentences: the lecture_ko text's lines of 40+ characters that occur once."""
    from charmodels.checkpoint import corpus_of, load_checkpoint

    lines = corpus_of(load_checkpoint("lecture_ko-lstm")).text.split("\n")
    seen = collections.Counter(lines)
    return "\n".join(line for line in lines if len(line) >= 40 and seen[line] == 1) + "\n"


def paragraph(source: str, rng: random.Random, low: int, high: int) -> str:
    """A slice of `source` from a line start to a line end, low to high characters long."""
    starts = [0] + [m.end() for m in re.finditer("\n", source[: len(source) - low])]
    while True:
        start = rng.choice(starts)
        piece = source[start : start + rng.randint(low, high)]
        end = piece.rfind("\n")
        if end + 1 >= low:
            return piece[: end + 1]


def class_texts(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """n (language, cell, text): English and Korean in turn, the cells in turn."""
    rng = random.Random(seed)
    sources = {"en": english_source(), "ko": korean_source()}
    texts = []
    for i in range(n):
        language = ("en", "ko")[i % 2]
        texts.append((language, CELL_ORDER[(i // 2) % 3], paragraph(sources[language], rng, *LENGTHS)))
    return texts


# ---- 1. the recipes side by side -----------------------------------------------------------


def measure(recipe: str, text: str, cell: str) -> dict:
    import charmodels as cm
    from charmodels.memorize import MemorizeConfig, memorize

    started, cpu = time.perf_counter(), time.process_time()
    if recipe == "memorize":
        model, history = memorize(text, cm.ModelConfig(cell, HIDDEN), MemorizeConfig(max_passes=STEPS))
    else:  # charmodels.jobs.TrainingJob's recipe: one attempt of whole-text steps, no plateau restarts
        model, history = cm.train(text, cm.ModelConfig(cell, HIDDEN), cm.TrainConfig(max_steps=STEPS, attempts=1, patience=STEPS))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    metrics = cm.evaluate(model, text)
    return {"bar": metrics.meets_bar, "steps": history.steps, "cpu": cpu, "wall": seconds}


def side_by_side(texts: list[tuple[str, str, str]]) -> list[dict]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results = {"train": [], "memorize": []}
    load = [os.getloadavg()[0]]
    try:
        for i, (language, cell, text) in enumerate(texts):
            order = ("train", "memorize") if i % 2 == 0 else ("memorize", "train")
            for recipe in order:
                results[recipe].append({"language": language, "cell": cell, **measure(recipe, text, cell)})
            load.append(os.getloadavg()[0])
    finally:
        torch.set_num_threads(threads)
    old, new = results["train"], results["memorize"]
    reached = {k: sum(r["bar"] for r in v) for k, v in results.items()}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in results.items()}
    total = {k: sum(r["cpu"] for r in v) for k, v in results.items()}
    both = [(o, m) for o, m in zip(old, new) if o["bar"] and m["bar"]]
    per_lang = {lang: f"{sum(r['bar'] for r in new if r['language'] == lang)}/{sum(r['language'] == lang for r in new)}"
                for lang in ("en", "ko")}
    where = (f"{len(texts)} texts of {LENGTHS[0]}-{LENGTHS[1]} characters (English/Korean, cells in turn), hidden {HIDDEN}, "
             f"at most {STEPS} readings each, one thread; load average {min(load):.1f}-{max(load):.1f}")
    each = ", ".join(f"{o['language']}-{o['cell']} {o['cpu']:.1f}{'' if o['bar'] else 'x'}/{m['cpu']:.1f}{'' if m['bar'] else 'x'}"
                     for o, m in zip(old, new))
    rows = [
        row("classroom_recipe.reached_bar", reached["memorize"], "texts", baseline=reached["train"], target=f"{len(texts)}",
            meets_target=reached["memorize"] == len(texts),
            notes=f"memorize() vs train(attempts=1) reaching tf_acc=recon=1, min_p>=0.9 (memorize: en {per_lang['en']}, "
                  f"ko {per_lang['ko']}); {where}"),
        row("classroom_recipe.median_cpu_s", round(cpu["memorize"], 2), "s", baseline=round(cpu["train"], 2),
            ratio=round(cpu["memorize"] / cpu["train"], 2),
            notes=f"median CPU seconds per text, a text out of budget counted with all it spent; per text train()/memorize() "
                  f"(x: below the bar): {each}"),
        row("classroom_recipe.total_cpu_s", round(total["memorize"], 1), "s", baseline=round(total["train"], 1),
            ratio=round(total["memorize"] / total["train"], 2), notes="CPU seconds for all the texts"),
    ]
    if both:
        speedup = statistics.median(o["cpu"] / m["cpu"] for o, m in both)
        rows.append(row("classroom_recipe.speedup_both_reached", round(speedup, 2), "x",
                        notes=f"median CPU-time ratio train()/memorize() over the {len(both)} texts both recipes brought to the bar"))
    return rows


# ---- 2. a class through the queue ------------------------------------------------------------


def class_run(texts: list[tuple[str, str, str]], window: float) -> list[dict]:
    import torch

    from charmodels.fairqueue import FairQueue
    from charmodels.jobs import TextTraining, queue_nice, queue_processes, queue_workers

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the app runs: one core per worker
    workers, nice, processes = queue_workers(), queue_nice(), queue_processes()
    load_start = os.getloadavg()[0]
    folder = tempfile.mkdtemp(prefix="charmodels-bench-class-")
    queue = FairQueue(workers=workers, nice=nice, folder=folder, processes=processes)  # as the app's queue
    tickets, bounds, ended = [], [], {}

    def watch() -> None:  # from the first submission on: an early training's end is seen when it ends
        while len(ended) < len(texts):
            for i, ticket in enumerate(list(tickets)):
                if i not in ended and ticket.status().finished:
                    ended[i] = time.monotonic()
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        started = time.monotonic()
        for i, (language, cell, text) in enumerate(texts):
            time.sleep(max(0.0, started + i * window / len(texts) - time.monotonic()))
            ticket = queue.submit(f"student{i}", TextTraining.checked(text, cell, HIDDEN, STEPS, name=f"s{i}"))
            status = ticket.status()
            bounds.append(time.monotonic() + status.end_at_most)
            tickets.append(ticket)
            if i == 0:
                watcher.start()
        watcher.join()
        wall = max(ended.values()) - started
        statuses = [t.status() for t in tickets]
    finally:
        queue.close()
        torch.set_num_threads(threads)
    results = [s.result for s in statuses]
    at_bar = sum(1 for r in results if r is not None and r.metrics.meets_bar)
    failed = sum(1 for s in statuses if s.state != "done")
    honest = sum(1 for i in ended if ended[i] <= bounds[i] + 0.5)
    late = ", ".join(f"text {i} by {ended[i] - bounds[i]:.1f} s" for i in sorted(ended) if ended[i] > bounds[i] + 0.5)
    reasons = collections.Counter(r.reason for r in results if r is not None)
    by_lang = {lang: f"{sum(1 for (l, _, _), r in zip(texts, results) if l == lang and r and r.metrics.meets_bar)}/"
                     f"{sum(1 for l, _, _ in texts if l == lang)}" for lang in ("en", "ko")}
    where = (f"{len(texts)} texts submitted over {window:g} s to FairQueue(workers={workers}, nice={nice}, "
             f"processes={processes}) as the app's; load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    return [
        row("classroom_recipe.class.last_finished_s", round(wall, 1), "s", target=f"<= {TARGET_WALL:g} s",
            meets_target=wall <= TARGET_WALL, notes=f"first submission to the last training saved; {where}"),
        row("classroom_recipe.class.at_bar", at_bar, "texts", target=f"{len(texts)}", meets_target=at_bar == len(texts),
            notes=f"trained to tf_acc=recon=1, min_p>=0.9 (en {by_lang['en']}, ko {by_lang['ko']}); endings {dict(reasons)}; "
                  f"{failed} failed"),
        row("classroom_recipe.class.bound_held", honest, "texts", target=f"{len(texts)}", meets_target=honest == len(texts),
            notes="trainings that ended before the 'at most' time their ticket showed on joining the line"
                  + (f"; late: {late}" if late else "")),
    ]


def run(quick: bool) -> list[dict]:
    n = QUICK_SIDE_BY_SIDE if quick else SIDE_BY_SIDE
    rows = side_by_side(class_texts(n, seed=1))
    size = QUICK_CLASS_SIZE if quick else CLASS_SIZE
    rows += class_run(class_texts(size, seed=2), QUICK_SUBMIT_WINDOW if quick else SUBMIT_WINDOW)
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
