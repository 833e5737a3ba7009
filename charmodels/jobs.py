"""Training a user's own text in the app: a bounded job in a background thread.

The app starts a `TrainingJob`, iterates `job.updates()` to draw a live loss curve and
prediction string, and ends with `job.result`: a normal `.safetensors` checkpoint (the
same metadata as `recipe.train_to_checkpoint`, plus a ``job`` record) that
`load_checkpoint` and the app's upload accept.

Nothing here is worded for a page: a `Snapshot` carries a state and a reason code with
numbers, a refused request is a `CharmodelsError` (code and parameters), and the app
says both in the reader's language.

Bounds, so one visitor's training cannot starve everyone else on a small CPU machine:
the text (`MAX_TEXT` characters), the steps (`MAX_STEPS`), the hidden size
(`MIN_HIDDEN`..`MAX_HIDDEN`), the wall-clock time (`TIME_LIMIT` seconds of training) and
the number of trainings at once (`MAX_CONCURRENT_TRAININGS`). A request beyond the
concurrency bound is refused at once with `TrainingBusyError` instead of waiting in
line: a queued request would hold its page in a spinner for up to `TIME_LIMIT` seconds
per job ahead of it, with no way to tell it apart from a hang.

Files: without `out_dir`, a job saves into a temporary folder of its own, removed by
`discard()`, when the job object is garbage, or when the interpreter exits. Pass
`out_dir` to keep the checkpoint.

Generation requests never wait for a training: nothing here takes the model registry's
lock, and a job's own lock is held only to copy a few numbers. They do share the CPU
with it: at most `MAX_CONCURRENT_TRAININGS` trainings, each for at most `TIME_LIMIT`
seconds plus its last step, measuring and saving.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .checkpoint import (
    SUFFIX,
    checkpoint_name,
    corpus_record,
    load_checkpoint,
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
from .model import CELLS, CharModel, ModelConfig
from .training import History, Progress, Thinning, TrainConfig, train
from .vocab import describe_char

log = logging.getLogger(__name__)

# Characters a user's text may have. evaluate() reads the text once, teacher-forced, so the
# text's length is bounded by the time a full-text training step takes (a few seconds at
# hidden size 256 on one core: stop() and the time limit bite after the step under way).
MAX_TEXT = 50_000
MAX_STEPS = 3000  # training steps a user may ask for (in all: one attempt, see TrainingJob)
MIN_HIDDEN, MAX_HIDDEN = 8, 256  # hidden sizes a user may choose
TIME_LIMIT = 120.0  # seconds of training, at most; the model reached by then is saved
MAX_CONCURRENT_TRAININGS = 1  # trainings at once in this process; one more is refused
CURVE_POINTS = 300  # loss-curve points in an update, at most
MAX_FILE_BYTES = 4 * MAX_TEXT + 3  # a UTF-8 file of MAX_TEXT characters (4 bytes each, a BOM) is no larger

# A job's state ...
RUNNING, DONE, STOPPED, TIMED_OUT, FAILED = "running", "done", "stopped", "timed_out", "failed"
STATES = (RUNNING, DONE, STOPPED, TIMED_OUT, FAILED)
# ... and its reason: what a running job is doing, or why an ended one ended
STARTING, TRAINING, SAVING = "starting", "training", "saving"  # while RUNNING
LEARNED, ALL_STEPS = "learned", "all_steps"  # DONE: it recites the text, or it used every step
BY_REQUEST, TIME_UP = "by_request", "time_up"  # STOPPED by stop(), TIMED_OUT by the time limit
SHUTDOWN, DISCARDED, ERROR = "shutdown", "discarded", "error"  # FAILED: unsaved (the error, if any, in `error`)
REASONS = (STARTING, TRAINING, SAVING, LEARNED, ALL_STEPS, BY_REQUEST, TIME_UP, SHUTDOWN, DISCARDED, ERROR)

_slots = threading.BoundedSemaphore(MAX_CONCURRENT_TRAININGS)
_jobs: weakref.WeakSet[TrainingJob] = weakref.WeakSet()  # every job started, until it is garbage
EXIT_WAIT = 60.0  # seconds the interpreter waits at exit for running jobs to end their step (about 1 s unloaded)


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop every job, let its thread leave torch, then remove the folders the jobs made.

    The threads are daemons, so a running training never keeps the app from quitting;
    but a daemon thread still inside torch when the interpreter finalises aborts the
    process ("terminate called without an active exception"). atexit handlers run
    before that, so the jobs stop here, unsaved (nobody is left to download them),
    within one training step.
    """
    jobs = list(_jobs)
    for job in jobs:
        job._abandon.set()
        job.stop()
    deadline = time.monotonic() + EXIT_WAIT
    for job in jobs:
        job._thread.join(max(0.0, deadline - time.monotonic()))
    for job in jobs:
        job._remove_folder()  # after the joins: no thread is writing there any more


class TrainingBusyError(CharmodelsError):
    """Every training slot is taken; try again when a training ends (code "training_busy")."""

    def __init__(self) -> None:
        super().__init__("training_busy", limit=MAX_CONCURRENT_TRAININGS, seconds=TIME_LIMIT)


@dataclass(frozen=True)
class Snapshot:
    """The job as one immutable picture, safe to hand to another thread; data, not sentences."""

    state: str  # one of STATES
    reason: str  # one of REASONS: what a running job does, or why it ended
    step: int  # training steps taken
    max_steps: int  # steps the user asked for
    time_limit: float  # seconds of training allowed
    attempt: int  # always 1 for a user job (no restarts)
    loss: tuple[tuple[int, float], ...]  # (step, loss), thinned to at most CURVE_POINTS, last step included
    prediction: str  # the argmax at every position under teacher forcing, as the seeds print it
    tf_acc: float  # teacher-forced accuracy at the latest step
    min_p: float  # smallest probability of a right next character at the latest step
    elapsed: float  # seconds since the job started
    seconds: float = 0.0  # training time of the saved model (History.seconds), once saved
    path: str | None = None  # the saved checkpoint, once the job has ended with one
    metrics: Metrics | None = None  # evaluate() of the saved model, once the job has ended with one
    error: str | None = None  # FAILED with ERROR: the CharmodelsError code, or the exception's type name
    error_params: dict = field(default_factory=dict)  # that error's parameters (a CharmodelsError's), read-only

    @property
    def finished(self) -> bool:
        return self.state != RUNNING


@dataclass(frozen=True)
class JobResult:
    path: Path  # the .safetensors checkpoint
    model: CharModel  # loaded back from `path` with load_checkpoint: proof the file is valid
    metrics: Metrics  # tf_acc, recon, bpc, min_p of the saved model on the text
    history: History  # the training history (stopped=True for a stopped or timed-out job)
    state: str  # DONE, STOPPED or TIMED_OUT


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


class TrainingJob:
    """One user's training, running in a background thread from construction on.

    Everything is checked before anything starts (a `CharmodelsError` naming the
    problem); then a training slot is taken (`TrainingBusyError` at once if none is
    free) and the thread starts.

    Training uses `TrainConfig`'s defaults except the step budget: `TrainConfig.max_steps`
    counts per attempt and a default run may retry up to 8 attempts, so a user job runs
    ``attempts=1, max_steps=<the user's steps>`` and takes at most the steps the user
    chose. With no retry to fall back on, the plateau rule is switched off
    (``patience=max_steps``): a stall is often followed by a break-through, and the user
    asked for that many steps. Training ends early when the model recites the text
    confidently (the quality bar), when `stop()` is called, or after `time_limit`
    seconds (checked after every step, so a step under way is finished first; measuring
    and saving follow). The model of a stopped or timed-out run is saved too, its history
    marked ``stopped``.
    """

    def __init__(
        self,
        text: str,
        cell: str,
        hidden_size: int,
        max_steps: int,
        name: str = "mytext",
        lines: bool = False,
        time_limit: float = TIME_LIMIT,
        out_dir: str | Path | None = None,
    ):
        text = check_text(text)
        cell = choice("cell", cell.strip().lower() if isinstance(cell, str) else cell, CELLS)
        hidden_size = whole("hidden size", hidden_size, MIN_HIDDEN, MAX_HIDDEN)
        max_steps = whole("steps", max_steps, 1, MAX_STEPS)
        time_limit = number("time limit", time_limit, 0, TIME_LIMIT, above_low=True)
        corpus = dataclasses.replace(corpus_from_text(name, text, "user text"), lines=bool(lines))

        self.corpus = corpus
        self.model_config = ModelConfig(cell, hidden_size)
        self.train_config = TrainConfig(max_steps=max_steps, attempts=1, patience=max_steps)
        self.time_limit = time_limit
        self.out_dir = Path(out_dir) if out_dir is not None else None

        self._lock = threading.Lock()  # guards the fields below, written by the thread
        self._curve = Thinning(CURVE_POINTS // 2)  # keeps < CURVE_POINTS points, plus the last
        self._progress: Progress | None = None
        self._state, self._reason = RUNNING, STARTING
        self._error: tuple[str | None, dict] = (None, {})
        self._ending = STOPPED  # what a training that was told to stop ends as
        self._ended_at: float | None = None
        self._result: JobResult | None = None
        self._folder: Path | None = None  # the temporary folder this job made, if it made one
        self._folder_finalizer: weakref.finalize | None = None
        self._stop = threading.Event()
        self._abandon = threading.Event()  # the interpreter is exiting or the job was discarded: end unsaved
        self._discarded = threading.Event()
        self._finished = threading.Event()  # set after the final state is published

        if not _slots.acquire(blocking=False):
            raise TrainingBusyError()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"charmodels-training-{corpus.name}", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            _slots.release()
            raise
        _jobs.add(self)

    # ---- what the app calls ----

    def stop(self) -> None:
        """Ask the training to end after its current step; the model so far is saved."""
        self._stop.set()

    def discard(self) -> None:
        """Done with this job: a running one ends unsaved, and the temporary folder it made
        (never an `out_dir` given to it) is removed with its checkpoint."""
        self._discarded.set()
        self._abandon.set()
        self.stop()
        if self._finished.is_set():
            self._remove_folder()
        # else the thread removes it as it ends (it checks _discarded after setting _finished)

    def wait(self, timeout: float | None = None) -> Snapshot:
        """Block until the job has ended (or `timeout` seconds passed); the latest snapshot."""
        if self._finished.wait(timeout):
            self._thread.join()  # it has only to return: then no torch work of it is left
        return self.snapshot()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def folder(self) -> Path | None:
        """The temporary folder this job saved into (None with `out_dir`, or before saving)."""
        return self._folder

    @property
    def result(self) -> JobResult | None:
        """The saved checkpoint, loaded back, and its metrics; None until the job has
        ended, and None for a failed job (its snapshot says why)."""
        with self._lock:
            return self._result

    def snapshot(self) -> Snapshot:
        with self._lock:
            progress, result = self._progress, self._result
            end = self._ended_at if self._ended_at is not None else time.monotonic()
            error, error_params = self._error
            return Snapshot(
                state=self._state,
                reason=self._reason,
                step=progress.total_steps if progress else 0,
                max_steps=self.train_config.max_steps,
                time_limit=self.time_limit,
                attempt=progress.attempt if progress else 0,
                loss=tuple(self._curve.result()) if progress else (),
                prediction=progress.prediction if progress else "",
                tf_acc=progress.tf_acc if progress else 0.0,
                min_p=progress.min_p if progress else 0.0,
                elapsed=end - self._started,
                seconds=result.history.seconds if result else 0.0,
                path=str(result.path) if result else None,
                metrics=result.metrics if result else None,
                error=error,
                error_params=dict(error_params),
            )

    def updates(self, interval: float = 0.25) -> Iterator[Snapshot]:
        """Snapshots for a live view: one at once, then at most one every `interval`
        seconds while something changed, and always the final one.

        Leaving the loop early (closing the generator, as Gradio does when an event is
        cancelled) stops the job.
        """
        interval = number("interval", interval, 0, 60, above_low=True)
        return self._updates(interval)

    def _updates(self, interval: float) -> Iterator[Snapshot]:
        seen = None
        try:
            while True:
                if self._finished.is_set():
                    self._thread.join()  # it has only to return: then no torch work of it is left
                snap = self.snapshot()
                key = (snap.state, snap.reason, snap.step)
                if key != seen:
                    seen = key
                    yield snap
                if snap.finished:
                    return
                self._finished.wait(interval)
        finally:
            if not self._finished.is_set():
                self.stop()

    # ---- the background thread ----

    def _on_step(self, progress: Progress) -> bool | None:
        with self._lock:
            self._curve.add(progress.total_steps, round(progress.loss, 5))
            self._progress = progress
            self._reason = TRAINING
            if self._stop.is_set():
                self._ending = STOPPED
                return False
            if time.monotonic() - self._started >= self.time_limit:
                self._ending = TIMED_OUT
                return False
        return None

    def _run(self) -> None:
        state, reason, result, error = FAILED, ERROR, None, (None, {})
        try:
            model, history = train(self.corpus, self.model_config, self.train_config, self._on_step)
            if self._abandon.is_set():
                reason = DISCARDED if self._discarded.is_set() else SHUTDOWN
                return
            with self._lock:
                self._reason = SAVING
            state = self._ending if history.stopped else DONE
            result = self._save(model, history, state)
            reason = {STOPPED: BY_REQUEST, TIMED_OUT: TIME_UP}.get(state, LEARNED if history.reached else ALL_STEPS)
        except Exception as error_raised:  # any failure ends the job with its code, never a dead thread
            state, reason, result = FAILED, ERROR, None
            if isinstance(error_raised, CharmodelsError):
                error = (error_raised.code, dict(error_raised.params))
            else:
                error = (type(error_raised).__name__, {})
                log.exception("training job %s failed", self.corpus.name)
        finally:
            _slots.release()  # before the final state: whoever sees the end may start another
            with self._lock:
                self._state, self._reason, self._result, self._error = state, reason, result, error
                self._ended_at = time.monotonic()
            self._finished.set()
            if self._discarded.is_set():
                self._remove_folder()

    def _save(self, model: CharModel, history: History, state: str) -> JobResult:
        metrics = evaluate(model, self.corpus)
        out_dir = self.out_dir or self._make_folder()
        path = out_dir / f"{checkpoint_name(self.corpus, self.model_config)}{SUFFIX}"
        save_checkpoint(  # the metadata of recipe.train_to_checkpoint, plus how the job ended
            model,
            path,
            corpus=corpus_record(self.corpus),
            train_config=self.train_config,
            metrics=metrics,
            parameters=model.num_parameters(),
            history=history,
            job={"state": state, "requested_steps": self.train_config.max_steps, "time_limit": self.time_limit},
        )
        return JobResult(path, load_checkpoint(path), metrics, history, state)

    def _make_folder(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="charmodels-job-"))
        # removed when the job is garbage; at exit _stop_all_at_exit removes it after the threads end
        finalizer = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        finalizer.atexit = False
        self._folder, self._folder_finalizer = folder, finalizer
        return folder

    def _remove_folder(self) -> None:
        if self._folder_finalizer is not None:
            self._folder_finalizer()  # runs rmtree once; later calls do nothing


# ---- the trainings of many visitors, through one fair queue (charmodels.fairqueue) ----------
#
# `TextTraining` and `LabPoint` are the queue's `Work`: checked when made, immutable, each
# with a key (equal keys give equal results, so equal requests share one run) and an
# estimate of its running time. The queue runs them on its workers; a visitor's ticket
# shows `TextProgress` / `LabProgress` while they run and `Trained` / `PointResult` after.
# `TrainingJob` above (one training in a thread of its own, refused when busy) stays for
# the app until it switches to the queue.

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
    """The process's one queue for visitors' trainings, made on first use: one worker per
    core (CHARMODELS_TRAINING_WORKERS overrides), each at niceness fairqueue.NICE, below the
    app's request threads (CHARMODELS_TRAINING_NICE overrides: 0 on a machine shared with other
    busy processes, where a lowered worker yields to all of them, not only to the app)."""
    global _default_queue
    with _default_lock:
        if _default_queue is None:
            _default_queue = FairQueue(workers=queue_workers(), nice=queue_nice())
        return _default_queue


def queue_workers() -> int:
    return int(os.environ.get("CHARMODELS_TRAINING_WORKERS", "0")) or max(1, os.cpu_count() or 1)


def queue_nice() -> int:
    return int(os.environ.get("CHARMODELS_TRAINING_NICE", str(NICE)))
