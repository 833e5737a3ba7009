"""Visitors' trainings in the app, as work for one fair line (charmodels.fairqueue).

`TextTraining` (a visitor's own text, learned by heart with charmodels.memorize) and
`LabPoint` (one point of the long-term-dependency lab) are the queue's `Work`: checked
when made (a `CharmodelsError` naming the problem, before anything waits), immutable,
each with a key (equal keys give equal results, so equal requests share one run) and an
estimate of its running time. `training_queue()` is the process's one queue; a visitor's
ticket shows `TextProgress` / `LabProgress` while the work runs and `Trained` /
`lab.PointResult` after. A trained text ends as a normal `.safetensors` checkpoint (the
metadata of `recipe.train_to_checkpoint`, plus a ``job`` record) in the work's own folder,
which the queue removes with the work.

Nothing here is worded for a page: progress and results are data with state and reason
codes, and the app says them in the reader's language.

Bounds, so one visitor's training cannot starve the class on a small CPU machine: the
text (`MAX_TEXT` characters), the passes (`MAX_STEPS`), the hidden size
(`MIN_HIDDEN`..`MAX_HIDDEN`), the seconds of training (`QUEUE_TIME_LIMIT`, at most
`TIME_LIMIT`), and for the lab `LAB_MAX_GAP`, `LAB_MAX_STEPS`, `LAB_TIME_LIMIT`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .checkpoint import (
    SUFFIX,
    checkpoint_name,
    corpus_record,
    save_checkpoint,
)
from .checks import choice, number, whole
from .checks import text as checked_text
from .corpora import Corpus, corpus_from_text
from .errors import CharmodelsError
from .fairqueue import NICE, FairQueue
from .lab import LabConfig, PointResult, run_point
from .memorize import MemorizeConfig, memorize
from .metrics import Metrics, evaluate
from .model import CELLS, ModelConfig
from .training import History, Progress, Thinning
from .vocab import describe_char

log = logging.getLogger(__name__)

# Characters a user's text may have. evaluate() reads the text once, teacher-forced, so the
# text's length is bounded by the time a full-text training step takes (a few seconds at
# hidden size 256 on one core: stop() and the time limit bite after the step under way).
MAX_TEXT = 50_000
MAX_STEPS = 3000  # passes over the text a user may ask for
MIN_HIDDEN, MAX_HIDDEN = 8, 256  # hidden sizes a user may choose
TIME_LIMIT = 120.0  # seconds of training a request may ask for, at most; the model reached by then is saved
CURVE_POINTS = 300  # loss-curve points in an update, at most
MAX_FILE_BYTES = 4 * MAX_TEXT + 3  # a UTF-8 file of MAX_TEXT characters (4 bytes each, a BOM) is no larger

# How a text training ended (Trained.state) ...
DONE, STOPPED, TIMED_OUT = "done", "stopped", "timed_out"
# ... and why (Trained.reason)
LEARNED, ALL_STEPS = "learned", "all_steps"  # DONE: it recites the text, or it used every pass without
BY_REQUEST, TIME_UP = "by_request", "time_up"  # STOPPED by its holder, TIMED_OUT by the time limit


def read_text_file(path: str | Path) -> str:
    """An uploaded text file as a string: UTF-8 (a BOM is dropped), Windows line ends
    turned into ``\\n``. CharmodelsError "file_too_large", "file_not_utf8" or "file_binary"."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CharmodelsError("file_too_large", size=size, limit=MAX_TEXT)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CharmodelsError("file_not_utf8", at=error.start) from None
    if "\x00" in text:
        raise CharmodelsError("file_binary")
    return text.replace("\r\n", "\n")


def check_text(text: object) -> str:
    """The text as it will be trained on; CharmodelsError "not_text", "text_empty",
    "text_too_long" or "text_one_char" saying what is wrong with it."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise CharmodelsError("text_empty")
    text = checked_text("text", text)
    if len(text) > MAX_TEXT:
        raise CharmodelsError("text_too_long", n=len(text), limit=MAX_TEXT, over=len(text) - MAX_TEXT)
    if len(set(text)) < 2:
        raise CharmodelsError("text_one_char", char=describe_char(text[0]))
    return text


# ---- the trainings of many visitors, through one fair queue (charmodels.fairqueue) ----------
#
# `TextTraining` and `LabPoint` are the queue's `Work`: checked when made, immutable, each
# with a key (equal keys give equal results, so equal requests share one run) and an
# estimate of its running time. The queue runs them on its workers; a visitor's ticket
# shows `TextProgress` / `LabProgress` while they run and `Trained` / `PointResult` after.

QUEUE_TIME_LIMIT = 30.0  # seconds one text training may hold a worker: the class behind it waits too
SAVE_SECONDS = 2.0  # measuring and saving a trained model, at most (bound added to a training's time)
LAB_MAX_GAP = 80  # a live lab point's gap, at most
LAB_MAX_STEPS = 2000  # ... and steps
LAB_TIME_LIMIT = 60.0  # ... and seconds; the model reached then is measured
# Seconds of work on one core of this kind of machine (2 vCPUs, shared; measured with
# bench/classroom_recipe.py and single lab points), for the first estimates: the queue corrects
# them by how long finished runs really took.
PASS_SECONDS_PER_MFLOP = 3e-5  # a memorize() pass: 14 ms for 390 MFLOP (English, LSTM 64), 28 ms for 1,060 (Korean)
TYPICAL_PASSES = 400  # passes a 1,000-2,000 character text typically takes to the bar at hidden size 64
LAB_STEP_SECONDS = (0.005, 0.0004)  # a lab step: a fixed part, and a part per character of a line (gap + 1)
LAB_EVAL_SECONDS = 0.5  # measuring the point on its held-out lines


def _digest(record: dict) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TextProgress:
    """A text training as it runs: its latest pass, shown live."""

    step: int  # passes done
    max_steps: int  # passes allowed
    loss: tuple[tuple[int, float], ...]  # (pass, loss), thinned to at most CURVE_POINTS
    prediction: str  # the argmax at every position, as the seeds print it
    tf_acc: float
    min_p: float
    elapsed: float  # seconds of training so far


@dataclass(frozen=True)
class Trained:
    """How a text training ended: a saved checkpoint and how it measures.

    `state`: DONE (it reached the bar, reason LEARNED, or used every pass without, ALL_STEPS),
    STOPPED (BY_REQUEST) or TIMED_OUT (TIME_UP). The checkpoint is saved either way; the
    metrics say how far from the bar it is (`metrics.meets_bar`).
    """

    path: Path
    metrics: Metrics
    history: History  # read-only
    state: str
    reason: str


@dataclass(frozen=True)
class TextTraining:
    """A visitor's text to learn by heart (charmodels.memorize), as work for the queue."""

    corpus: Corpus
    model_config: ModelConfig
    config: MemorizeConfig
    time_limit: float = QUEUE_TIME_LIMIT

    kind: ClassVar[str] = "text"
    private: ClassVar[bool] = True

    @classmethod
    def checked(cls, text: object, cell: object, hidden_size: object, steps: object, name: str = "mytext",
                lines: bool = False, seed: object = 0, time_limit: float = QUEUE_TIME_LIMIT) -> TextTraining:
        """Everything checked before it waits in line (a CharmodelsError naming the problem);
        `steps` counts passes over the text, at most MAX_STEPS."""
        text = check_text(text)
        cell = choice("cell", cell.strip().lower() if isinstance(cell, str) else cell, CELLS)
        hidden_size = whole("hidden size", hidden_size, MIN_HIDDEN, MAX_HIDDEN)
        steps = whole("steps", steps, 1, MAX_STEPS)
        seed = whole("seed", seed, 0, 2**31 - 1)
        time_limit = number("time limit", time_limit, 0, TIME_LIMIT, above_low=True)
        name = checked_text("name", name).strip() or "mytext"
        corpus = dataclasses.replace(corpus_from_text(name, text, "user text"), lines=bool(lines))
        return cls(corpus, ModelConfig(cell, hidden_size), MemorizeConfig(max_passes=steps, seed=seed), time_limit)

    @property
    def key(self) -> str:
        return _digest({"work": self.kind, "recipe": self.config.to_dict(), "model": self.model_config.to_dict(),
                        "name": self.corpus.name, "text": self.corpus.text, "lines": self.corpus.lines})

    def estimate(self) -> tuple[float, float]:
        n = len(self.corpus.text)
        vocab = len(set(self.corpus.text)) + 1
        h = self.model_config.hidden_size
        gates = {"rnn": 1, "gru": 3, "lstm": 4}[self.model_config.cell]
        mflop = 6 * n * (gates * h * (vocab + h) + h * vocab) / 1e6  # forward and backward, per pass
        expected = mflop * PASS_SECONDS_PER_MFLOP * min(self.config.max_passes, TYPICAL_PASSES)
        return min(expected, self.time_limit) + 0.2, self.time_limit + SAVE_SECONDS

    def reusable(self, result: Trained) -> bool:
        return result.state == DONE  # a stopped or timed-out run depends on when it stopped

    def run(self, context) -> Trained | None:
        started = time.monotonic()
        curve = Thinning(CURVE_POINTS // 2)
        ending = [DONE]

        def on_step(progress: Progress) -> bool | None:
            curve.add(progress.total_steps, round(progress.loss, 5))
            elapsed = time.monotonic() - started
            context.report(TextProgress(progress.total_steps, self.config.max_passes, tuple(curve.result()),
                                        progress.prediction, progress.tf_acc, progress.min_p, elapsed))
            if context.should_stop():
                ending[0] = STOPPED
                return False
            if elapsed >= self.time_limit:
                ending[0] = TIMED_OUT
                return False
            return None

        model, history = memorize(self.corpus, self.model_config, self.config, on_step)
        if context.abandoned():
            return None  # nobody is left to see it: the queue removes the folder
        state = ending[0] if history.stopped else DONE
        reason = {STOPPED: BY_REQUEST, TIMED_OUT: TIME_UP}.get(state, LEARNED if history.reached else ALL_STEPS)
        metrics = evaluate(model, self.corpus)
        path = context.folder() / f"{checkpoint_name(self.corpus, self.model_config)}{SUFFIX}"
        save_checkpoint(model, path, corpus=corpus_record(self.corpus), train_config=self.config, metrics=metrics,
                        parameters=model.num_parameters(), history=history,
                        job={"state": state, "requested_steps": self.config.max_passes, "time_limit": self.time_limit})
        return Trained(path, metrics, history, state, reason)


@dataclass(frozen=True)
class LabProgress:
    """A live lab point as it runs."""

    step: int
    max_steps: int
    loss: tuple[tuple[int, float], ...]  # (step, loss), thinned
    elapsed: float


@dataclass(frozen=True)
class LabPoint:
    """One point of the long-term-dependency lab (charmodels.lab), as work for the queue.
    Not private (no visitor's data): a finished point is served to everyone who asks for it."""

    config: LabConfig
    time_limit: float = LAB_TIME_LIMIT

    kind: ClassVar[str] = "lab"
    private: ClassVar[bool] = False

    @classmethod
    def checked(cls, cell: object, gap: object, steps: object, seed: object, forget_bias: bool = False,
                curriculum: bool = False) -> LabPoint:
        cell = choice("cell", cell, CELLS)
        gap = whole("gap", gap, 1, LAB_MAX_GAP)
        steps = whole("steps", steps, 1, LAB_MAX_STEPS)
        seed = whole("seed", seed, 0, 2**31 - 1)
        return cls(LabConfig(cell=cell, gap=gap, steps=steps, seed=seed,
                             forget_bias=1.0 if forget_bias and cell == "lstm" else None, curriculum=bool(curriculum)))

    @property
    def key(self) -> str:
        return _digest({"work": self.kind, "config": self.config.to_dict()})

    def estimate(self) -> tuple[float, float]:
        c = self.config
        fixed, per_char = LAB_STEP_SECONDS
        expected = c.steps * (fixed + per_char * (c.gap + 1)) + LAB_EVAL_SECONDS
        return min(expected, self.time_limit), self.time_limit + SAVE_SECONDS

    def reusable(self, result: PointResult) -> bool:
        return not result.stopped

    def run(self, context) -> PointResult:
        started = time.monotonic()
        curve = Thinning(CURVE_POINTS // 2)

        def on_step(step: int, loss: float) -> bool:
            curve.add(step, round(loss, 5))
            if step % 10 == 0 or step == self.config.steps:
                context.report(LabProgress(step, self.config.steps, tuple(curve.result()), time.monotonic() - started))
            return not context.should_stop() and time.monotonic() - started < self.time_limit

        return run_point(self.config, on_step)


_default_queue: FairQueue | None = None
_default_lock = threading.Lock()


def training_queue() -> FairQueue:
    """The process's one queue for visitors' trainings, made on first use: `queue_workers()`
    workers, each training in a child process at niceness fairqueue.NICE, below the app's request threads
    (CHARMODELS_TRAINING_NICE overrides: 0 on a machine shared with other busy processes, where
    a lowered worker yields to all of them, not only to the app)."""
    global _default_queue
    with _default_lock:
        if _default_queue is None:
            _default_queue = FairQueue(workers=queue_workers(), nice=queue_nice(), processes=queue_processes())
        return _default_queue


def queue_workers() -> int:
    """Training workers: one per core (CHARMODELS_TRAINING_WORKERS overrides)."""
    return int(os.environ.get("CHARMODELS_TRAINING_WORKERS", "0")) or max(1, os.cpu_count() or 1)


def queue_nice() -> int:
    return int(os.environ.get("CHARMODELS_TRAINING_NICE", str(NICE)))


def queue_processes() -> bool:
    """Each worker trains in a child process (charmodels.worker_process): the app's own
    process keeps its GIL for the visitors' requests (CHARMODELS_TRAINING_PROCESSES=0: threads)."""
    return os.environ.get("CHARMODELS_TRAINING_PROCESSES", "1") != "0"
