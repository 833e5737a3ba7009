"""One fair line for the trainings an app runs for its visitors: never a refusal.

Every training a visitor asks for (their own text, a live lab point, ...) is `Work`
handed to one `FairQueue`; the visitor gets a `Ticket`. Tickets wait in one first-come
first-served line and a few worker threads take them in order. While it waits, a
ticket knows its place in line and when it should start and end (`Status`: an
expected time from the estimates of the work ahead, corrected by how long finished work
really took, and a bound that holds); its holder can leave the line at any time.

- **One request per visitor and kind.** A visitor (`owner`, the app's session id) holds
  at most one ticket of each kind of work. Asking again for the same work returns the
  same ticket (a double click); asking for other work replaces the earlier ticket, which
  leaves; while that one was still waiting, the new one takes its place in line.
- **Deterministic work is done once.** Work with a `key` (the same text, settings and
  seed; the same lab point and seed) that is waiting, running or finished with a result
  is shared: a second ticket for it joins the first, so a whole class clicking the same
  lab point costs one run. Work that was stopped early (a Stop button, its time limit)
  is never reused: it depends on when it stopped.
- **Private by construction.** Ticket ids are 128-bit random tokens and a ticket is
  found only together with its owner (`ticket(owner, id)`): another session gets
  "request_unknown", exactly as for an id that never existed. Nothing lists other
  owners' tickets. Private work (a visitor's text) lives only while a ticket holds it:
  its folder (the trained checkpoint) is removed when the last holder leaves, when the
  owner's session ends (`end_session`) and, at the latest, `max_age` seconds after the
  work was first asked for, held or not. Public work (lab points) stays cached for
  `max_age` after it finished, then goes too.
- **The rest of the app never waits behind it.** Generation and next-character requests
  do not go through this queue. The workers are at most `workers` threads, each lowered
  to niceness `nice` (Linux schedules threads one by one), so the kernel hands the CPU
  to the app's request threads first; torch releases the GIL inside its kernels.
  Run torch single-threaded (`torch.set_num_threads(1)`, as the app does): then a worker
  uses one core, and no unlowered OpenMP threads work for it. With `processes=True` (the
  app's queue) each worker hands its work to a child process at that niceness
  (charmodels.worker_process): then the work never holds this process's GIL either.

Nothing here imports torch or says anything in words: states are codes, problems are
`CharmodelsError`s (code and parameters).
"""

from __future__ import annotations

import asyncio
import atexit
import heapq
import itertools
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .checks import number, whole
from .checks import text as checked_text
from .errors import CharmodelsError
from .worker_process import START_TIMEOUT, ChildFailed, ChildProcess

log = logging.getLogger(__name__)

MAX_AGE = 3600.0  # seconds a visitor's request and its files live, at the latest
SWEEP_EVERY = 30.0  # seconds between two looks for expired requests
MAX_CACHED = 256  # finished public results kept for later requests when nobody holds them
NICE = 10  # niceness the workers run at: below every request thread of the app
CALIBRATION_WEIGHT = 0.3  # weight of the latest finished run in the correction of the estimates

# What a ticket's holder sees (Status.state)
WAITING, RUNNING, DONE, FAILED, LEFT, EXPIRED = "waiting", "running", "done", "failed", "left", "expired"
STATES = (WAITING, RUNNING, DONE, FAILED, LEFT, EXPIRED)
# Why a ticket left the line (Status.reason, with LEFT)
BY_OWNER, REPLACED, SESSION_ENDED, CLOSED = "by_owner", "replaced", "session_ended", "closed"


class Context(Protocol):
    """What a running piece of work may ask of the queue (see `Work.run`)."""

    def report(self, progress: Any) -> None:
        """Publish the latest progress (an immutable value): every holder's `Status.progress`."""

    def should_stop(self) -> bool:
        """The holder asked to end early: finish the step under way and keep what was reached."""

    def abandoned(self) -> bool:
        """Nobody wants the result any more (every holder left, or the queue closes): end now, save nothing."""

    def folder(self) -> Path:
        """A folder of this work's own (made on first call), removed together with the work."""


class Work(Protocol):
    """A training the queue runs: immutable, checked before it is submitted."""

    kind: str  # one request of each kind per visitor: "text", "lab", ...
    key: str | None  # equal keys give equal results (shared and cached); None: never shared
    private: bool  # a visitor's own data: kept only while a ticket holds it

    def estimate(self) -> tuple[float, float]:
        """(expected, at most) seconds of running on one worker."""

    def run(self, context: Context) -> Any:
        """Do the work; return its result (immutable), or raise."""

    def reusable(self, result: Any) -> bool:
        """Whether this result may be served to a later request for the same key (False for
        a run that ended early: stopped, out of time)."""


@dataclass(frozen=True)
class Status:
    """A ticket as its holder sees it now: data, not sentences.

    Times are seconds from now. While waiting, `position` is the place in line (1 = next)
    and `start_expected` / `start_at_most` when the work should / will at the latest start;
    `end_expected` / `end_at_most` when it ends (both while waiting and running).
    """

    state: str  # one of STATES
    position: int = 0  # place in line while waiting (1 = next), else 0
    waiting_ahead: int = 0  # requests in line before this one
    running: int = 0  # requests being worked on now, in the whole queue
    start_expected: float = 0.0
    start_at_most: float = 0.0
    end_expected: float = 0.0
    end_at_most: float = 0.0
    elapsed: float = 0.0  # seconds the work has run (0 while waiting)
    shared: int = 1  # tickets holding this work (this one included)
    cached: bool = False  # served a result that was there before this ticket asked
    progress: Any = None  # the work's latest report
    result: Any = None  # the work's result, once DONE
    reason: str | None = None  # LEFT: BY_OWNER, REPLACED, SESSION_ENDED or CLOSED
    error: str | None = None  # FAILED: the CharmodelsError code, or the exception's type name
    error_params: dict = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state not in (WAITING, RUNNING)


class _Job:
    """One piece of work and everything the queue knows about it (guarded by the queue's lock)."""

    def __init__(self, work: Work, seq: int, now: float):
        self.work = work
        self.seq = seq  # its place in line: lower goes first
        self.state = WAITING  # WAITING, RUNNING, DONE, FAILED, LEFT (cancelled)
        self.tickets: set[Ticket] = set()
        self.created, self.started, self.ended = now, None, None
        self.progress = None
        self.result = None
        self.reusable = False
        self.error: tuple[str | None, dict] = (None, {})
        self.stop = threading.Event()
        self.abandon = threading.Event()
        self.folder: Path | None = None
        self.gone = False  # dropped from the queue (files removed)


class _JobContext:
    def __init__(self, queue: FairQueue, job: _Job):
        self._queue, self._job = queue, job

    def report(self, progress: Any) -> None:
        self._job.progress = progress  # one reference assignment: atomic under the GIL

    def should_stop(self) -> bool:
        return self._job.stop.is_set() or self._job.abandon.is_set()

    def abandoned(self) -> bool:
        return self._job.abandon.is_set()

    def folder(self) -> Path:
        return self._queue._folder_of(self._job)


class Ticket:
    """A visitor's place in the queue. Keep its `id`; find it again with `FairQueue.ticket`."""

    def __init__(self, queue: FairQueue, owner: str, job: _Job, now: float, cached: bool):
        self.id = secrets.token_urlsafe(16)  # 128 random bits: not guessable, not derived from anything
        self.owner = owner
        self.kind = job.work.kind
        self._queue = queue
        self._job = job
        self._created = now
        self._cached = cached
        self._left: str | None = None  # why it left, once it has
        self._expired = False

    def status(self) -> Status:
        return self._queue._status(self)

    def leave(self) -> None:
        """Leave the line (or stop waiting for a running work): nothing is kept for this ticket.
        The work itself stops only when no other ticket holds it."""
        self._queue._release(self, BY_OWNER)

    def stop(self) -> None:
        """End the work early and keep what it reached (a Stop button). Work shared with other
        tickets is not stopped for them: this ticket leaves it instead."""
        self._queue._stop(self)

    def updates(self, interval: float = 0.25) -> Iterator[Status]:
        """Statuses for a live view: one at once, then one every `interval` seconds while
        anything shown changed, and always the final one. Closing the generator early (as
        Gradio does when its event is cancelled or the page goes away) leaves the line."""
        interval = number("interval", interval, 0, 60, above_low=True)
        return self._updates(interval)

    def _updates(self, interval: float) -> Iterator[Status]:
        seen = None
        finished = False
        try:
            while True:
                status = self.status()
                finished = status.finished  # before the yield: a caller that stops at the final status keeps it
                if _shown(status) != seen:
                    seen = _shown(status)
                    yield status
                if finished:
                    return
                time.sleep(interval)
        finally:
            if not finished:
                self.leave()

    async def updates_async(self, interval: float = 0.25) -> AsyncIterator[Status]:
        """`updates()` for an async handler: it waits with asyncio.sleep, so a visitor waiting in
        line holds no thread (Gradio runs a sync generator in one of its 40 worker threads: 40
        visitors waiting would hold them all, and generation would wait for a free one).
        Cancelling the task or closing the generator early leaves the line."""
        interval = number("interval", interval, 0, 60, above_low=True)
        seen = None
        finished = False
        try:
            while True:
                status = self.status()
                finished = status.finished
                if _shown(status) != seen:
                    seen = _shown(status)
                    yield status
                if finished:
                    return
                await asyncio.sleep(interval)
        finally:
            if not finished:
                self.leave()


def _shown(status: Status) -> tuple:
    """What a live view shows of a status: a new one is sent when this changes."""
    return (status.state, status.position, round(status.start_expected), round(status.end_expected),
            id(status.progress), status.shared)


class FairQueue:
    """The line every training waits in, and the workers that run it (see the module's docstring)."""

    def __init__(self, workers: int = 2, max_age: float = MAX_AGE, nice: int = NICE, folder: str | Path | None = None,
                 processes: bool = False):
        """`processes`: each worker runs its work in a child process of its own
        (charmodels.worker_process), so that this process's GIL stays with its other threads;
        the work, its progress and its result are then charmodels dataclasses. The queue is
        made once those processes have started (seconds: they import torch)."""
        self.workers = whole("workers", workers, 1, 64)
        self.processes = bool(processes)
        self.max_age = number("max age", max_age, 0, 7 * 24 * 3600, above_low=True)
        self.nice = whole("nice", nice, 0, 19)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._line: list[_Job] = []  # waiting jobs, by seq
        self._running: set[_Job] = set()
        self._by_key: dict[str, _Job] = {}  # shareable jobs (waiting, running, or done with a reusable result)
        self._tickets: dict[str, Ticket] = {}  # every live ticket, by id
        self._owned: dict[str, dict[str, Ticket]] = {}  # owner -> kind -> their ticket
        self._seq = itertools.count()
        self._calibration: dict[str, float] = {}  # kind -> actual / estimated seconds, smoothed
        self._closed = False
        self._closing = threading.Event()  # wakes the sweeper (the workers wait on _wake)
        self._root = Path(tempfile.mkdtemp(prefix="charmodels-queue-", dir=folder))
        self._threads = [
            threading.Thread(target=self._work, args=(n,), name=f"charmodels-queue-worker-{n}", daemon=True)
            for n in range(self.workers)
        ]
        self._sweeper = threading.Thread(target=self._sweep_loop, name="charmodels-queue-sweeper", daemon=True)
        self._ready = [threading.Event() for _ in self._threads]  # each worker's process has started (or failed to)
        for thread in (*self._threads, self._sweeper):
            thread.start()
        _queues.add(self)
        if self.processes:  # the first work's times hold only once its worker can take it at once
            for ready in self._ready:
                ready.wait(START_TIMEOUT)

    # ---- what the app calls ----

    def submit(self, owner: str, work: Work) -> Ticket:
        """Put `work` in line for `owner` (the app's session id); returns the owner's ticket for it.

        Never refused for being busy. The same work asked again by the same owner returns
        the same ticket; other work of the same kind replaces the owner's earlier ticket.
        """
        owner = _owner(owner)
        now = time.monotonic()
        with self._lock:
            if self._closed:
                raise CharmodelsError("queue_closed")
            self._expire(now)
            earlier = self._owned.get(owner, {}).get(work.kind)
            if earlier is not None and work.key is not None and earlier._job.work.key == work.key and earlier._job.state in (WAITING, RUNNING, DONE):
                return earlier
            job = self._by_key.get(work.key) if work.key is not None else None
            cached = job is not None and job.state == DONE
            if job is None:
                seq = next(self._seq)
                if earlier is not None and earlier._job.state == WAITING and earlier._job.tickets == {earlier}:
                    seq = earlier._job.seq  # the replacement keeps the earlier request's place in line
                job = _Job(work, seq, now)
                if work.key is not None:
                    self._by_key[work.key] = job
                self._line.append(job)
                self._line.sort(key=lambda j: j.seq)
                self._wake.notify()
            if earlier is not None:
                self._release_locked(earlier, REPLACED)
            ticket = Ticket(self, owner, job, now, cached)
            job.tickets.add(ticket)
            self._tickets[ticket.id] = ticket
            self._owned.setdefault(owner, {})[work.kind] = ticket
            return ticket

    def ticket(self, owner: str, ticket_id: str) -> Ticket:
        """The owner's ticket with this id; CharmodelsError "request_unknown" for an id that is
        not the owner's, has expired, was replaced or never existed (they look the same)."""
        owner = _owner(owner)
        with self._lock:
            self._expire(time.monotonic())
            ticket = self._tickets.get(ticket_id) if isinstance(ticket_id, str) else None
            if ticket is None or not secrets.compare_digest(ticket.owner, owner):
                raise CharmodelsError("request_unknown")
            return ticket

    def owned(self, owner: str) -> list[Ticket]:
        """The owner's own live tickets (one per kind at most), never anyone else's."""
        owner = _owner(owner)
        with self._lock:
            self._expire(time.monotonic())
            return list(self._owned.get(owner, {}).values())

    def end_session(self, owner: str) -> None:
        """The owner's session ended: every ticket of theirs leaves, and their private work and
        files go unless another session holds the same work."""
        owner = _owner(owner)
        with self._lock:
            for ticket in list(self._owned.get(owner, {}).values()):
                self._release_locked(ticket, SESSION_ENDED)

    def sweep(self) -> None:
        """Remove what is older than `max_age` now (the sweeper thread does it every SWEEP_EVERY seconds)."""
        with self._lock:
            self._expire(time.monotonic())

    def close(self, wait: float = 60.0) -> None:
        """Every ticket leaves, running work is abandoned, the workers end (up to `wait` seconds)
        and every file the queue made is removed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for ticket in list(self._tickets.values()):
                self._release_locked(ticket, CLOSED)
            for job in list(self._running):
                job.abandon.set()
            self._wake.notify_all()
        self._closing.set()
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._line)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def jobs(self) -> int:
        """How many pieces of work the queue holds (waiting, running or kept): a count, no contents."""
        with self._lock:
            return len({id(t._job) for t in self._tickets.values()} | {id(j) for j in self._by_key.values()})

    # ---- inside ----

    def _status(self, ticket: Ticket) -> Status:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            if ticket._expired:
                return Status(EXPIRED)
            if ticket._left is not None:
                return Status(LEFT, reason=ticket._left)
            job = ticket._job
            common = {"shared": len(job.tickets), "cached": ticket._cached, "progress": job.progress,
                      "running": len(self._running)}
            if job.state == DONE:
                return Status(DONE, result=job.result, elapsed=job.ended - job.started, **common)
            if job.state == FAILED:
                code, params = job.error
                return Status(FAILED, error=code, error_params=dict(params), **common)
            if job.state == LEFT:  # cancelled under a ticket that has not been told yet
                return Status(LEFT, reason=CLOSED)
            times = self._times(job, now)
            if job.state == RUNNING:
                return Status(RUNNING, elapsed=now - job.started, end_expected=times[2], end_at_most=times[3], **common)
            position = self._line.index(job) + 1
            return Status(WAITING, position=position, waiting_ahead=position - 1, start_expected=times[0],
                          start_at_most=times[1], end_expected=times[2], end_at_most=times[3], **common)

    def _estimate(self, job: _Job) -> tuple[float, float]:
        expected, at_most = job.work.estimate()
        expected = min(at_most, expected * self._calibration.get(job.work.kind, 1.0))
        return expected, at_most

    def _times(self, job: _Job, now: float) -> tuple[float, float, float, float]:
        """(start expected, start at most, end expected, end at most) of `job`, in seconds from now:
        the workers take the line in order, each when its current work ends."""
        results = []
        for which in (0, 1):  # expected, then at most
            free = [0.0] * (self.workers - len(self._running))
            for running in self._running:
                elapsed = now - running.started
                expected, at_most = self._estimate(running)
                if which == 0:  # past its estimate: it should end soon, but not before we can tell
                    remaining = max(expected - elapsed, min(1.0, at_most - elapsed))
                else:
                    remaining = at_most - elapsed
                if running is job:
                    results.append((0.0, max(remaining, 0.0)))
                free.append(max(remaining, 0.0))
            if job.state == WAITING:
                heapq.heapify(free)
                for waiting in self._line:
                    start = heapq.heappop(free) if free else 0.0
                    duration = self._estimate(waiting)[which]
                    if waiting is job:
                        results.append((start, start + duration))
                        break
                    heapq.heappush(free, start + duration)
        if len(results) < 2:
            return (0.0, 0.0, 0.0, 0.0)
        (start_e, end_e), (start_m, end_m) = results
        return start_e, start_m, end_e, end_m

    def _work(self, n: int) -> None:
        _lower_priority(self.nice)
        child = None
        if self.processes:
            child = ChildProcess(self.nice)
            try:
                child.start()  # now, not at the first work: importing torch takes seconds
            except CharmodelsError:
                log.exception("a training worker's process did not start (it is tried again with the first work)")
        self._ready[n].set()
        try:
            while True:
                with self._lock:
                    while not self._line and not self._closed:
                        self._wake.wait()
                    if self._closed:
                        return
                    job = self._line.pop(0)
                    job.state, job.started = RUNNING, time.monotonic()
                    self._running.add(job)
                self._run(job, child)
        finally:
            if child is not None:
                child.close()

    def _run(self, job: _Job, child=None) -> None:
        result, error, failed = None, (None, {}), False
        try:
            context = _JobContext(self, job)
            result = job.work.run(context) if child is None else child.run(job.work, context)
        except Exception as raised:  # any failure ends the work with its code, never a dead worker
            failed = True
            if isinstance(raised, CharmodelsError):
                error = (raised.code, dict(raised.params))
            else:
                error = (raised.name if isinstance(raised, ChildFailed) else type(raised).__name__, {})
                log.exception("queued %s work failed", job.work.kind)
        with self._lock:
            self._running.discard(job)
            job.ended = time.monotonic()
            if job.abandon.is_set():
                job.state = LEFT
                self._drop(job)
                return
            if failed:
                job.state, job.error = FAILED, error
                self._forget_key(job)
            else:
                job.state, job.result = DONE, result
                job.reusable = job.work.reusable(result)
                if job.reusable:
                    self._calibrate(job)
                else:
                    self._forget_key(job)
            if not job.tickets and (job.work.private or not job.reusable):
                self._drop(job)
            self._trim_cache()

    def _trim_cache(self) -> None:
        """At most MAX_CACHED finished results nobody holds (public work): the oldest go first."""
        kept = [j for j in self._by_key.values() if j.state == DONE and not j.tickets]
        for job in sorted(kept, key=lambda j: j.ended)[: max(0, len(kept) - MAX_CACHED)]:
            self._drop(job)

    def _calibrate(self, job: _Job) -> None:
        estimate = job.work.estimate()[0]
        if estimate > 0:
            ratio = (job.ended - job.started) / estimate
            old = self._calibration.get(job.work.kind, 1.0)
            self._calibration[job.work.kind] = (1 - CALIBRATION_WEIGHT) * old + CALIBRATION_WEIGHT * ratio

    def _stop(self, ticket: Ticket) -> None:
        with self._lock:
            job = ticket._job
            if ticket._left is not None or ticket._expired:
                return
            if job.tickets == {ticket}:
                if job.state == RUNNING:
                    job.stop.set()
                elif job.state == WAITING:  # nothing reached yet: nothing to keep
                    self._release_locked(ticket, BY_OWNER)
            elif job.state in (WAITING, RUNNING):
                self._release_locked(ticket, BY_OWNER)

    def _release(self, ticket: Ticket, reason: str) -> None:
        with self._lock:
            self._release_locked(ticket, reason)

    def _release_locked(self, ticket: Ticket, reason: str, expired: bool = False) -> None:
        if ticket._left is not None or ticket._expired:
            return
        if expired:
            ticket._expired = True
        else:
            ticket._left = reason
        self._tickets.pop(ticket.id, None)
        owned = self._owned.get(ticket.owner, {})
        if owned.get(ticket.kind) is ticket:
            del owned[ticket.kind]
            if not owned:
                del self._owned[ticket.owner]
        job = ticket._job
        job.tickets.discard(ticket)
        if job.tickets:
            return
        if job.state == WAITING:
            self._line.remove(job)
            job.state = LEFT
            self._drop(job)
        elif job.state == RUNNING:
            job.abandon.set()  # the worker drops it when it returns
            self._forget_key(job)
        elif job.work.private or not job.reusable:
            self._drop(job)

    def _expire(self, now: float) -> None:
        """Everything asked for more than max_age seconds ago goes: tickets, work, files."""
        limit = now - self.max_age
        for ticket in [t for t in self._tickets.values() if t._created <= limit or t._job.created <= limit]:
            self._release_locked(ticket, EXPIRED, expired=True)
        for job in [j for j in self._by_key.values() if j.created <= limit]:
            if job.state == RUNNING:
                job.abandon.set()
                self._forget_key(job)
            elif job.state == WAITING:
                self._line.remove(job)
                job.state = LEFT
                self._drop(job)
            else:
                self._drop(job)

    def _forget_key(self, job: _Job) -> None:
        key = job.work.key
        if key is not None and self._by_key.get(key) is job:
            del self._by_key[key]

    def _drop(self, job: _Job) -> None:
        self._forget_key(job)
        job.gone = True
        if job.folder is not None:
            shutil.rmtree(job.folder, ignore_errors=True)

    def _folder_of(self, job: _Job) -> Path:
        with self._lock:
            if job.folder is None:
                job.folder = Path(tempfile.mkdtemp(prefix="", dir=self._root))  # a random name
            return job.folder

    def _sweep_loop(self) -> None:
        while not self._closing.wait(SWEEP_EVERY):
            self.sweep()


def _owner(owner: object) -> str:
    owner = checked_text("owner", owner)
    if not owner:
        raise CharmodelsError("request_unknown")
    return owner


def _lower_priority(nice: int) -> None:
    """Lower this thread's scheduling priority (Linux: niceness is per thread); elsewhere nothing."""
    if not nice or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
    except OSError:
        log.warning("could not lower the training workers' priority")


_queues: weakref.WeakSet[FairQueue] = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    """Abandon running work and remove every queue's files before the interpreter finalises
    (a daemon thread still inside torch then would abort the process)."""
    for queue in list(_queues):
        queue.close(wait=60.0)
