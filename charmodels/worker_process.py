"""A child process that runs a training queue's work, so that the app's process keeps its
Python interpreter (its GIL) for the visitors' requests.

Threads of one process take turns holding the GIL. A training thread lowered to niceness 10
and holding it while the kernel runs the app's busy request threads is a priority
inversion: the requests wait for a thread the kernel has put last. In a process of its own
the training shares nothing with the app but the CPU, where niceness works as it says.

Each of `charmodels.fairqueue`'s workers keeps one `ChildProcess` (`python -m
charmodels.worker_process NICE`), started with the queue and reused for every piece of work
(importing torch takes seconds). They speak JSON lines; work, progress and results are
charmodels' own frozen dataclasses, written with `encode` and read back with `decode` (no
pickle: a class is found only in charmodels' modules).

    parent -> child   {"run": <work>}   {"stop": true}   {"abandon": true}   {"folder": "<path>"}
    child -> parent   {"ready": true}   {"progress": <progress>}   {"folder?": true}
                      {"result": <result>}   {"error": [code, params]}   {"failed": "<exception type>"}
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .errors import CharmodelsError

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0  # seconds a child may take to import torch and say it is ready
REPORT_EVERY = 0.1  # seconds between two progress messages (the queue shows the latest only)
POLL = 0.05  # seconds between two looks at the ticket's Stop while waiting for the child
ABANDON_GRACE = 10.0  # seconds an abandoned work may take to return before its process is killed


# ---- JSON for charmodels' dataclasses -----------------------------------------------------------


def encode(value: Any) -> Any:
    """`value` as JSON-ready data: None, bools, numbers and strings as they are; lists; and
    tagged tuples, paths, dicts with string keys and charmodels dataclasses."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"@tuple": [encode(v) for v in value]}
    if isinstance(value, Path):
        return {"@path": str(value)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"@dict": {k: encode(v) for k, v in value.items()}}
    cls = type(value)
    if dataclasses.is_dataclass(value) and cls.__module__.split(".")[0] == "charmodels":
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"@class": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise TypeError(f"cannot send a {cls.__module__}.{cls.__qualname__} to a worker process")


def decode(data: Any) -> Any:
    """The inverse of `encode`. Classes are looked up in charmodels' own modules only."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "@tuple" in data:
        return tuple(decode(v) for v in data["@tuple"])
    if "@path" in data:
        return Path(data["@path"])
    if "@dict" in data:
        return {k: decode(v) for k, v in data["@dict"].items()}
    module_name, _, name = data["@class"].partition(":")
    if module_name.split(".")[0] != "charmodels" or "." in name:
        raise ValueError(f"not a charmodels class: {data['@class']!r}")
    cls = getattr(importlib.import_module(module_name), name)
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"not a dataclass: {data['@class']!r}")
    return cls(**{k: decode(v) for k, v in data["fields"].items()})


def _line(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False) + "\n"


# ---- the parent's side -------------------------------------------------------------------------


class ChildFailed(Exception):
    """The work raised something other than a CharmodelsError in the child; `name` is its type."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class ChildProcess:
    """One worker's child process: `run(work, context)` as `work.run(context)` would, over there."""

    def __init__(self, nice: int = 0):
        self.nice = nice
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()

    def start(self) -> None:
        """Start the child and wait until it has imported what it needs."""
        self.lines = queue.Queue()
        # this very charmodels, wherever the app was started from (a checkout not installed, a Space)
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "charmodels.worker_process", str(self.nice)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1,
            env={**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")},
        )
        threading.Thread(target=self._read, args=(self.process, self.lines), daemon=True,
                         name="charmodels-worker-process-reader").start()
        line = self._next(START_TIMEOUT)
        if line is None or json.loads(line).get("ready") is not True:
            self.close()
            raise CharmodelsError("worker_died", exit_code=self._exit_code())

    @staticmethod
    def _read(process: subprocess.Popen, lines: queue.Queue) -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)  # the child ended

    def _next(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def _send(self, message: dict) -> None:
        try:
            self.process.stdin.write(_line(message))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child ended: its end of the stream says so

    def _exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(self, work: Any, context: Any) -> Any:
        if not self.alive:
            self.start()
        self._send({"run": encode(work)})
        stopped = abandoned = False
        abandoned_at = 0.0
        while True:
            line = self._next(POLL)
            if line is None:
                if not self.alive and self.lines.empty():
                    code = self._exit_code()
                    self.close()
                    raise CharmodelsError("worker_died", exit_code=code)
                if not stopped and context.should_stop():
                    stopped = True
                    self._send({"stop": True})
                if not abandoned and context.abandoned():
                    abandoned, abandoned_at = True, time.monotonic()
                    self._send({"abandon": True})
                if abandoned and time.monotonic() - abandoned_at > ABANDON_GRACE:
                    self.close()  # nobody waits for it: the next work gets a fresh process
                    return None
                continue
            message = json.loads(line)
            if "progress" in message:
                context.report(decode(message["progress"]))
            elif "folder?" in message:
                self._send({"folder": str(context.folder())})
            elif "result" in message:
                return decode(message["result"])
            elif "error" in message:
                code, params = message["error"]
                raise CharmodelsError(code, **params)
            elif "failed" in message:
                raise ChildFailed(message["failed"])

    def close(self) -> None:
        """End the child (it ends by itself when its input closes; killed if it does not)."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


# ---- the child's side ----------------------------------------------------------------------------


class _ChildContext:
    """What the work sees (fairqueue.Context), answered by the parent."""

    def __init__(self, send, folders: queue.Queue):
        self.send, self.folders = send, folders
        self.stop, self.abandon = threading.Event(), threading.Event()
        self.sent_at = 0.0
        self._folder: Path | None = None

    def report(self, progress: Any) -> None:
        now = time.monotonic()
        if now - self.sent_at >= REPORT_EVERY:
            self.sent_at = now
            self.send({"progress": encode(progress)})

    def should_stop(self) -> bool:
        return self.stop.is_set() or self.abandon.is_set()

    def abandoned(self) -> bool:
        return self.abandon.is_set()

    def folder(self) -> Path:
        if self._folder is None:
            self.send({"folder?": True})
            self._folder = Path(self.folders.get())
        return self._folder


def main(argv: list[str]) -> None:
    # the protocol gets stdout to itself: anything printed goes to stderr
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    nice = int(argv[0]) if argv else 0
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    import torch

    torch.set_num_threads(1)  # one core per worker, as the queue plans
    lock = threading.Lock()

    def send(message: dict) -> None:
        with lock:
            out.write(_line(message))

    runs: queue.Queue[Any] = queue.Queue()
    folders: queue.Queue[str] = queue.Queue()
    current: list[_ChildContext] = []

    def read() -> None:
        for line in sys.stdin:
            message = json.loads(line)
            if "run" in message:
                runs.put(message["run"])
            elif "folder" in message:
                folders.put(message["folder"])
            elif current and "stop" in message:
                current[0].stop.set()
            elif current and "abandon" in message:
                current[0].abandon.set()
        runs.put(None)  # the parent closed our input (or ended): so do we

    threading.Thread(target=read, daemon=True).start()
    send({"ready": True})
    while (work := runs.get()) is not None:
        context = _ChildContext(send, folders)
        current[:] = [context]
        try:
            result = decode(work).run(context)
            send({"result": encode(result)})
        except CharmodelsError as error:
            send({"error": [error.code, encode_params(error.params)]})
        except Exception as error:  # noqa: BLE001 (the parent records its type, the log its trace)
            log.exception("queued work failed in its process")
            send({"failed": type(error).__name__})
        current.clear()


def encode_params(params: dict) -> dict:
    """An error's parameters as JSON: what is not a plain value goes as its text."""
    return {k: v if v is None or isinstance(v, (bool, int, float, str)) else str(v) for k, v in params.items()}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main(sys.argv[1:])
