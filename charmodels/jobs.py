"""Training a user's own text in the app: a bounded job in a background thread.

The app starts a `TrainingJob`, iterates `job.updates()` to draw a live loss curve and
prediction string, and ends with `job.result`: a normal `.safetensors` checkpoint (the
same metadata as `recipe.train_to_checkpoint`, plus a ``job`` record) that
`load_checkpoint` and the app's upload accept.

Bounds, so one visitor's training cannot starve everyone else on a small CPU machine:
the text (`MAX_TEXT` characters), the steps (`MAX_STEPS`), the hidden size
(`MIN_HIDDEN`..`MAX_HIDDEN`), the wall-clock time (`TIME_LIMIT` seconds of training) and
the number of trainings at once (`MAX_CONCURRENT_TRAININGS`). A request beyond the
concurrency bound is refused at once with `TrainingBusyError` (a `ValueError`) instead
of waiting in line: a queued request would hold its page in a spinner for up to
`TIME_LIMIT` seconds per job ahead of it, with no way to tell it apart from a hang.

Generation requests never wait for a training: nothing here takes the model service's
lock, and a job's own lock is held only to copy a few numbers. They do share the CPU
with it: at most `MAX_CONCURRENT_TRAININGS` trainings, each for at most `TIME_LIMIT`
seconds plus its last step, measuring and saving.
"""

from __future__ import annotations

import atexit
import dataclasses
import math
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import SUFFIX, load_checkpoint, save_checkpoint
from .corpora import corpus_from_text
from .metrics import Metrics, evaluate
from .model import CELLS, CharModel, ModelConfig
from .checkpoint import checkpoint_name, corpus_record
from .training import History, Progress, TrainConfig, Thinning, train
from .vocab import describe_char

# Characters a user's text may have. Not the 20,000 first planned: evaluate()'s free-run
# reconstruction generates the whole text after its first character in one generate()
# call, which writes at most sampling.MAX_LENGTH = 10,000 characters, so a longer text
# (not split in lines) could not be measured or saved. It also keeps one full-text
# training step near a second at hidden size 256, so stop() and the time limit bite soon.
MAX_TEXT = 10_000
MAX_STEPS = 3000  # training steps a user may ask for (in all: one attempt, see TrainingJob)
MIN_HIDDEN, MAX_HIDDEN = 8, 256  # hidden sizes a user may choose
TIME_LIMIT = 120.0  # seconds of training, at most; the model reached by then is saved
MAX_CONCURRENT_TRAININGS = 1  # trainings at once in this process; one more is refused
CURVE_POINTS = 300  # loss-curve points in an update, at most
MAX_FILE_BYTES = 4 * MAX_TEXT + 3  # a UTF-8 file of MAX_TEXT characters (4 bytes each, a BOM) is no larger

RUNNING, DONE, STOPPED, TIMED_OUT, FAILED = "running", "done", "stopped", "timed out", "failed"

_slots = threading.BoundedSemaphore(MAX_CONCURRENT_TRAININGS)
_jobs: weakref.WeakSet[TrainingJob] = weakref.WeakSet()  # every job started, until it is garbage
EXIT_WAIT = 60.0  # seconds the interpreter waits at exit for running jobs to end their step (about 1 s unloaded)


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop every job and let its thread leave torch before the interpreter ends.

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


class TrainingBusyError(ValueError):
    """Every training slot is taken; try again when a training ends."""


@dataclass(frozen=True)
class Snapshot:
    """The job as one immutable picture, safe to hand to another thread."""

    state: str  # "running", "done", "stopped", "timed out" or "failed"
    message: str  # one sentence for the page: what is happening, or how it ended
    step: int  # training steps taken
    max_steps: int  # steps the user asked for
    attempt: int  # always 1 for a user job (no restarts)
    loss: tuple[tuple[int, float], ...]  # (step, loss), thinned to at most CURVE_POINTS, last step included
    prediction: str  # the argmax at every position under teacher forcing, as the seeds print it
    tf_acc: float  # teacher-forced accuracy at the latest step
    min_p: float  # smallest probability of a right next character at the latest step
    elapsed: float  # seconds since the job started
    path: str | None = None  # the saved checkpoint, once the job has ended with one
    metrics: Metrics | None = None  # evaluate() of the saved model, once the job has ended with one

    @property
    def finished(self) -> bool:
        return self.state != RUNNING


@dataclass(frozen=True)
class JobResult:
    path: Path  # the .safetensors checkpoint
    model: CharModel  # loaded back from `path` with load_checkpoint: proof the file is valid
    metrics: Metrics  # tf_acc, recon, bpc, min_p of the saved model on the text
    history: History  # the training history (stopped=True for a stopped or timed-out job)
    state: str  # "done", "stopped" or "timed out"


def read_text_file(path: str | Path) -> str:
    """An uploaded text file as a string: UTF-8 (a BOM is dropped), Windows line ends
    turned into ``\\n``; a clear ValueError for a file too large or not text."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"the file is {size:,} bytes: too large for a text of at most {MAX_TEXT:,} characters")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"the file is not UTF-8 text (byte {error.start:,} cannot be read): save it as UTF-8") from None
    if "\x00" in text:
        raise ValueError("the file holds NUL bytes: it looks like a binary file, not text")
    return text.replace("\r\n", "\n")


def _whole(name: str, value: object, low: int, high: int) -> int:
    """A whole number from low to high; a UI's 128.0 counts as 128."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value == int(value)
    if not ok or not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, got {value!r}")
    return int(value)


def check_text(text: object) -> str:
    """The text as it will be trained on, or a ValueError saying what is wrong with it."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise ValueError("the text is empty: paste or upload a text to train on")
    if not isinstance(text, str):
        raise ValueError(f"the text must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ValueError(
            f"the text is {len(text):,} characters long; the limit is {MAX_TEXT:,}: "
            f"shorten it by {len(text) - MAX_TEXT:,} characters"
        )
    if len(set(text)) < 2:
        raise ValueError(
            f"the text uses only one character ({describe_char(text[0])}): "
            "a model needs at least two different characters to choose between"
        )
    return text


class TrainingJob:
    """One user's training, running in a background thread from construction on.

    Everything is checked before anything starts, with a ValueError a student
    understands; then a training slot is taken (`TrainingBusyError` at once if none is
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
        cell = cell.strip().lower() if isinstance(cell, str) else cell
        if cell not in CELLS:
            raise ValueError(f"unknown cell type {cell!r}; choose one of: {', '.join(CELLS)}")
        hidden_size = _whole("hidden size", hidden_size, MIN_HIDDEN, MAX_HIDDEN)
        max_steps = _whole("steps", max_steps, 1, MAX_STEPS)
        if (
            isinstance(time_limit, bool)
            or not isinstance(time_limit, (int, float))
            or not 0 < time_limit <= TIME_LIMIT
        ):
            raise ValueError(f"the time limit must be above 0 and at most {TIME_LIMIT:g} seconds, got {time_limit!r}")
        corpus = dataclasses.replace(corpus_from_text(name, text, "user text"), lines=bool(lines))

        self.corpus = corpus
        self.model_config = ModelConfig(cell, hidden_size)
        self.train_config = TrainConfig(max_steps=max_steps, attempts=1, patience=max_steps)
        self.time_limit = float(time_limit)
        self.out_dir = Path(out_dir) if out_dir is not None else None

        self._lock = threading.Lock()  # guards the fields below, written by the thread
        self._curve = Thinning(CURVE_POINTS // 2)  # keeps < CURVE_POINTS points, plus the last
        self._progress: Progress | None = None
        self._state, self._message = RUNNING, "starting"
        self._ending = STOPPED  # what a training that was told to stop ends as
        self._ended_at: float | None = None
        self._result: JobResult | None = None
        self._stop = threading.Event()
        self._abandon = threading.Event()  # the interpreter is exiting: end without saving
        self._finished = threading.Event()  # set after the final state is published

        if not _slots.acquire(blocking=False):
            raise TrainingBusyError(
                "another training is running; try again when it ends "
                f"(at most {MAX_CONCURRENT_TRAININGS} at a time, each at most {TIME_LIMIT:g} s)"
            )
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

    def wait(self, timeout: float | None = None) -> Snapshot:
        """Block until the job has ended (or `timeout` seconds passed); the latest snapshot."""
        if self._finished.wait(timeout):
            self._thread.join()  # it has only to return: then no torch work of it is left
        return self.snapshot()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

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
            return Snapshot(
                state=self._state,
                message=self._message,
                step=progress.total_steps if progress else 0,
                max_steps=self.train_config.max_steps,
                attempt=progress.attempt if progress else 0,
                loss=tuple(self._curve.result()) if progress else (),
                prediction=progress.prediction if progress else "",
                tf_acc=progress.tf_acc if progress else 0.0,
                min_p=progress.min_p if progress else 0.0,
                elapsed=end - self._started,
                path=str(result.path) if result else None,
                metrics=result.metrics if result else None,
            )

    def updates(self, interval: float = 0.25) -> Iterator[Snapshot]:
        """Snapshots for a live view: one at once, then at most one every `interval`
        seconds while something changed, and always the final one.

        Leaving the loop early (closing the generator, as Gradio does when an event is
        cancelled) stops the job.
        """
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval <= 60:
            raise ValueError(f"interval must be above 0 and at most 60 seconds, got {interval!r}")
        return self._updates(float(interval))

    def _updates(self, interval: float) -> Iterator[Snapshot]:
        seen = None
        try:
            while True:
                if self._finished.is_set():
                    self._thread.join()  # it has only to return: then no torch work of it is left
                snap = self.snapshot()
                key = (snap.state, snap.step, snap.message)
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
            self._message = f"training: step {progress.total_steps:,} of {self.train_config.max_steps:,}"
            if self._stop.is_set():
                self._ending = STOPPED
                return False
            if time.monotonic() - self._started >= self.time_limit:
                self._ending = TIMED_OUT
                return False
        return None

    def _run(self) -> None:
        state, message, result = FAILED, "training was interrupted", None
        try:
            model, history = train(self.corpus, self.model_config, self.train_config, self._on_step)
            if self._abandon.is_set():
                message = "the program was shutting down: training ended unsaved"
                return
            with self._lock:
                self._message = "measuring and saving the model"
            result = self._save(model, history, self._ending if history.stopped else DONE)
            state, message = result.state, self._summary(result)
        except Exception as error:  # any failure ends the job with its message, never a dead thread
            message = f"training failed: {type(error).__name__}: {error}"
        finally:
            _slots.release()  # before the final state: whoever sees the end may start another
            with self._lock:
                self._state, self._message, self._result = state, message, result
                self._ended_at = time.monotonic()
            self._finished.set()

    def _save(self, model: CharModel, history: History, state: str) -> JobResult:
        metrics = evaluate(model, self.corpus)
        out_dir = self.out_dir or Path(tempfile.mkdtemp(prefix="charmodels-job-"))
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

    def _summary(self, result: JobResult) -> str:
        h, m = result.history, result.metrics
        scores = f"tf_acc {m.tf_acc:.1%}, recon {m.recon:.1%}, min_p {m.min_p:.2f}"
        if result.state == STOPPED:
            return f"stopped at step {h.steps:,}; the model so far is saved ({scores})"
        if result.state == TIMED_OUT:
            return f"time limit of {self.time_limit:g} s reached at step {h.steps:,}; the model so far is saved ({scores})"
        if h.reached:
            return f"learned the text in {h.steps:,} steps ({h.seconds:.1f} s): {scores}"
        return f"used all {h.steps:,} steps without reciting the text confidently yet: {scores}"
