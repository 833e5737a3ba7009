"""The app's API over HTTP the way a browser calls it, against a no-op Gradio app beside it.

How the Gradio 6.31 page calls an endpoint (read from the installed front end,
gradio/templates/frontend/assets/index-*.js, and gradio/routes.py): the config's
protocol is "sse_v3"; the page POSTs /gradio_api/queue/join with {data, event_data,
fn_index, trigger_id, session_hash}, gets {"event_id"}, then opens the session's SSE
stream GET /gradio_api/queue/data?session_hash=... and reads `data: {json}` messages
(estimation, process_starts, process_generating..., process_completed); the server ends
the stream with close_stream once the session has nothing pending. That is what is
measured here, with a plain httpx.Client per simulated visitor (keep-alive, its own
session_hash), not gradio_client (which polls every 50 ms). The /gradio_api/call/<name>
route (POST then GET of an SSE stream with event: complete) is the curl recipe of the API
page, not what the page uses. A request's latency runs from the join POST to the
process_completed message; the stream is then read to its end, as the page does, so the
connection is reused.

Both servers are subprocesses (`python -m bench.app_latency serve app|noop`), launched
like tests/app/conftest.py does: queue(default_concurrency_limit=4), then
launch(server_name="127.0.0.1", free port, prevent_thread_lock=True, quiet=True, and the
app's LAUNCH_OPTIONS). The no-op is a Blocks exposing gr.api(noop, api_name="next_chars")
with the same signature (checkpoint: str, prompt: str) -> ({}, "") and the same
concurrency_limit=8 / concurrency_id="predict" as the app. Neither shares a GIL with the
load generator (this process: one thread per simulated visitor) nor with each other; on a
2-core machine the clients and the server under test still share the cores, alike for both.
Each concurrency level alternates app / no-op rounds so a slow spell hits both.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import row

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
CHECKPOINT = "goethe-lstm"
PROMPT = "Knowing is not enough; we must "
LEVELS = {1: 200, 8: 50, 32: 20}  # concurrent clients -> requests per client per target (split over rounds)
QUICK_LEVELS = {1: 40, 8: 10}
ROUNDS = 2  # app / no-op alternations per level
GENERATE = {"checkpoint": "anthem-lstm", "prompt": "O", "length": 500}
GENERATE_REPEATS, QUICK_GENERATE_REPEATS = 3, 1
TARGET_C1_EXTRA_MS = 10.0  # app p50 at most this much above the no-op at 1 client
TARGET_C8_RATIO = 1.5  # app p50 at most this many times the no-op's at 8 clients
START_TIMEOUT = 120.0


# ---- the servers (run in subprocesses) ----------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now (Gradio refuses server_port=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def noop(checkpoint: str, prompt: str) -> tuple[dict, str]:
    """The app's next_chars signature, doing nothing."""
    return {}, ""


def serve(kind: str) -> None:
    """Serve the app or the no-op on a free port; print its URL; stop when stdin closes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio imports huggingface_hub
    import gradio as gr

    from demo import gradio_settings

    gradio_settings.apply()  # the app's server settings, for the no-op too
    if kind == "app":
        sys.path.insert(0, str(DEMO))
        import app

        demo, options = app.demo, app.LAUNCH_OPTIONS
    elif kind == "noop":
        with gr.Blocks(title="noop") as demo:
            gr.Markdown("# no-op")
            gr.api(noop, api_name="next_chars", concurrency_limit=8, concurrency_id="predict")
        options = {}
    else:
        raise SystemExit(f"unknown server {kind!r}")
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, show_error=True, **options
    )
    print(f"READY {url}", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    demo.close()


class Server:
    """A server subprocess: its URL, fn_index of each API name, and its peak RSS."""

    def __init__(self, kind: str):
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.app_latency", "serve", kind],
            cwd=ROOT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        self.fn_index: dict[str, int] = {}

    def wait_ready(self) -> None:
        import httpx

        started = time.perf_counter()
        for line in self.process.stdout:  # blocks until the server prints READY (or dies)
            if line.startswith("READY "):
                self.url = line.split()[1].rstrip("/")
                break
            if time.perf_counter() - started > START_TIMEOUT:
                break
        if not self.url:
            raise RuntimeError(f"the {self.kind} server did not start (exit code {self.process.poll()})")
        # keep reading what it prints, so a full pipe never blocks the server
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        config = httpx.get(f"{self.url}/config", timeout=30).json()  # what the page reads first
        if config.get("protocol") != "sse_v3":
            raise RuntimeError(f"expected Gradio's sse_v3 protocol, the {self.kind} server speaks {config.get('protocol')!r}")
        self.fn_index = {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}

    def peak_rss_mb(self) -> float | None:
        """VmHWM, the most resident memory a process has had (Linux), of the server and of the
        child processes it has now (the training queue's workers), summed: the memory a class needs."""
        pids = [self.process.pid, *child_pids(self.process.pid)]
        peaks = [_peak_kb(pid) for pid in pids]
        if peaks[0] is None:
            return None
        return sum(p for p in peaks if p is not None) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


# ---- a browser-like client ----------------------------------------------------------


class Visitor:
    """One browser tab: its own keep-alive connection and session_hash."""

    def __init__(self, url: str):
        import httpx

        self.http = httpx.Client(base_url=url, timeout=60.0)
        self.session_hash = uuid.uuid4().hex[:11]  # the page's session hashes are short random strings

    def call(self, fn_index: int, data: list, on_message=None) -> tuple[float, dict | None]:
        """Join the queue, read the session's stream; (seconds to process_completed, that message or None)."""
        started = time.perf_counter()
        body = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": None, "session_hash": self.session_hash}
        joined = self.http.post("/gradio_api/queue/join", json=body)
        if joined.status_code != 200:
            return time.perf_counter() - started, None
        event_id = joined.json()["event_id"]
        seconds, completed = None, None
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            if stream.status_code != 200:
                return time.perf_counter() - started, None
            for line in stream.iter_lines():  # to its end (close_stream), so the connection is reused
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id:
                    continue
                if on_message is not None:
                    on_message(message)
                if message["msg"] == "process_completed":
                    seconds, completed = time.perf_counter() - started, message
        if seconds is None:
            return time.perf_counter() - started, None
        return seconds, completed

    def close(self) -> None:
        self.http.close()


def answer_ok(kind: str, message: dict | None) -> bool:
    if not message or not message.get("success"):
        return False
    data = message["output"].get("data")  # gr.api sends the returned tuple as one output: [[probs, notes]]
    if kind == "noop":
        return data == [[{}, ""]]
    return isinstance(data, list) and len(data) == 1 and isinstance(data[0][0], dict) and len(data[0][0]) > 0


def load(server: Server, visitors: list[Visitor], requests_each: int) -> tuple[list[float], int, float]:
    """Every visitor sends requests_each next_chars calls back to back, all visitors at once."""
    fn_index = server.fn_index["next_chars"]

    def one_visitor(visitor: Visitor) -> tuple[list[float], int]:
        seconds, errors = [], 0
        for _ in range(requests_each):
            try:
                took, message = visitor.call(fn_index, [CHECKPOINT, PROMPT])
            except Exception:  # a refused or broken connection is an error, not a crash of the benchmark
                errors += 1
                continue
            if answer_ok(server.kind, message):
                seconds.append(took)
            else:
                errors += 1
        return seconds, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(visitors)) as pool:
        results = list(pool.map(one_visitor, visitors))
    wall = time.perf_counter() - started
    return [s for r in results for s in r[0]], sum(r[1] for r in results), wall


def _peak_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 values is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---- generate: streamed over HTTP against charmodels.generate in this process ----------


def stream_generate(server: Server, visitor: Visitor) -> tuple[float, float, str, int]:
    """(seconds to the first streamed character, seconds to the end, final text, messages with a character)."""
    first = []
    generating = 0

    def on_message(message: dict) -> None:
        nonlocal generating
        if message["msg"] == "process_generating" and message.get("success", True):
            generating += 1
            if not first:
                first.append(time.perf_counter())

    g = GENERATE
    started = time.perf_counter()
    data = [g["checkpoint"], g["prompt"], g["length"], 0.0, 0, 1.0, 0]  # greedy
    total, message = visitor.call(server.fn_index["generate"], data, on_message)
    if not message or not message.get("success") or not first:
        raise RuntimeError(f"/generate failed: {message}")
    return first[0] - started, total, message["output"]["data"][0][0], generating  # [[text, last step]]


def direct_generate(model) -> tuple[float, float, str]:
    """(seconds to the first character, seconds to the end, text) with charmodels.generate in this process."""
    import charmodels

    g = GENERATE
    started = time.perf_counter()
    first, chars = None, []
    for step in charmodels.generate(model, g["prompt"], g["length"]):  # greedy by default
        if first is None:
            first = time.perf_counter() - started
        chars.append(step.char)
    return first, time.perf_counter() - started, "".join(chars)


# ---- the benchmark -------------------------------------------------------------------


def run(quick: bool) -> list[dict]:
    import charmodels

    levels = QUICK_LEVELS if quick else LEVELS
    repeats = QUICK_GENERATE_REPEATS if quick else GENERATE_REPEATS
    servers = {kind: Server(kind) for kind in ("app", "noop")}  # both start at once
    rows = []
    try:
        for server in servers.values():
            server.wait_ready()
        warm = Visitor(servers["app"].url)
        for server in servers.values():  # first calls pay for loading torch and the model
            visitor = Visitor(server.url)
            for _ in range(5):
                visitor.call(server.fn_index["next_chars"], [CHECKPOINT, PROMPT])
            visitor.close()
        stream_generate(servers["app"], warm)  # loads anthem-lstm in the app

        for clients, requests in levels.items():
            per_round = max(1, requests // ROUNDS)
            pools = {kind: [Visitor(s.url) for _ in range(clients)] for kind, s in servers.items()}
            seconds = {kind: [] for kind in servers}
            errors = {kind: 0 for kind in servers}
            walls = {kind: 0.0 for kind in servers}
            for round_ in range(ROUNDS):
                order = ("app", "noop") if round_ % 2 == 0 else ("noop", "app")
                for kind in order:
                    took, failed, wall = load(servers[kind], pools[kind], per_round)
                    seconds[kind] += took
                    errors[kind] += failed
                    walls[kind] += wall
            for pool in pools.values():
                for visitor in pool:
                    visitor.close()
            rows += level_rows(clients, per_round * ROUNDS, seconds, errors, walls)

        model = charmodels.load_checkpoint(GENERATE["checkpoint"])
        direct_generate(model)  # warm up, as the server was
        streamed, direct = [], []
        for repeat in range(repeats):
            ways = ["stream", "direct"] if repeat % 2 == 0 else ["direct", "stream"]
            for way in ways:
                if way == "stream":
                    streamed.append(stream_generate(servers["app"], warm))
                else:
                    direct.append(direct_generate(model))
        warm.close()
        rows += generate_rows(streamed, direct, repeats)

        peak = {kind: s.peak_rss_mb() for kind, s in servers.items()}
        if peak["app"] is not None:
            rows.append(
                row(
                    "app_latency.app.peak_rss_mb",
                    round(peak["app"], 1),
                    "MB",
                    baseline=round(peak["noop"], 1),
                    ratio=round(peak["app"] / peak["noop"], 2),
                    notes="VmHWM of the app's server process after every request above (torch, goethe-lstm and "
                    "anthem-lstm loaded); baseline: the no-op Gradio server's",
                )
            )
    finally:
        for server in servers.values():
            server.stop()
    return rows


def level_rows(clients: int, requests: int, seconds: dict, errors: dict, walls: dict) -> list[dict]:
    app, base = seconds["app"], seconds["noop"]
    n = clients * requests
    rates = {kind: len(seconds[kind]) / walls[kind] for kind in seconds}
    where = f"{clients} client(s) x {requests} requests each (queue/join + queue/data SSE), app and no-op in alternating rounds"
    rows = []
    if app and base:
        p50, b50 = statistics.median(app) * 1000, statistics.median(base) * 1000
        p99, b99 = percentile(app, 99) * 1000, percentile(base, 99) * 1000
        if clients == 1:
            target, met = f"<= no-op + {TARGET_C1_EXTRA_MS:g} ms", p50 - b50 <= TARGET_C1_EXTRA_MS
        elif clients == 8:
            target, met = f"ratio <= {TARGET_C8_RATIO:g}", p50 / b50 <= TARGET_C8_RATIO
        else:
            target, met = None, None
        rows.append(
            row(
                f"app_latency.next_chars.c{clients}.p50_ms",
                round(p50, 2),
                "ms",
                baseline=round(b50, 2),
                ratio=round(p50 / b50, 2),
                target=target,
                meets_target=met,
                notes=f"{CHECKPOINT} {PROMPT!r} vs no-op: {p50 - b50:+.1f} ms; {where}; "
                f"{rates['app']:.0f} vs {rates['noop']:.0f} requests/s",
            )
        )
        rows.append(
            row(
                f"app_latency.next_chars.c{clients}.p99_ms",
                round(p99, 2),
                "ms",
                baseline=round(b99, 2),
                ratio=round(p99 / b99, 2),
                notes=f"nearest-rank p99 of {len(app)} (app) and {len(base)} (no-op) answered requests",
            )
        )
    rows.append(
        row(
            f"app_latency.next_chars.c{clients}.errors",
            errors["app"],
            "requests",
            baseline=errors["noop"],
            target="0",
            meets_target=errors["app"] == 0,
            notes=f"failed or wrong answers of {n} per server (no-op's as baseline)",
        )
    )
    return rows


def generate_rows(streamed: list, direct: list, repeats: int) -> list[dict]:
    g = GENERATE
    s_first = statistics.median(s[0] for s in streamed)
    s_total = statistics.median(s[1] for s in streamed)
    d_first = statistics.median(d[0] for d in direct)
    d_total = statistics.median(d[1] for d in direct)
    streamed_texts = {s[2] for s in streamed}
    direct_texts = {d[2] for d in direct}
    identical = len(streamed_texts) == 1 and streamed_texts == direct_texts
    what = f"{g['checkpoint']}, {g['length']} chars greedy from {g['prompt']!r}, median of {repeats}"
    return [
        row(
            "app_latency.generate.first_char_ms",
            round(s_first * 1000, 2),
            "ms",
            baseline=round(d_first * 1000, 2),
            ratio=round(s_first / d_first, 1),
            notes=f"/generate over HTTP (join POST to the first process_generating message) vs the first step of "
            f"charmodels.generate in this process; {what}",
        ),
        row(
            "app_latency.generate.total_s",
            round(s_total, 3),
            "s",
            baseline=round(d_total, 3),
            ratio=round(s_total / d_total, 2),
            notes=f"streamed end to end ({statistics.median(s[3] for s in streamed):.0f} process_generating messages) vs "
            f"charmodels.generate in this process; {what}",
        ),
        row(
            "app_latency.generate.identical_text",
            identical,
            "bool",
            target="true",
            meets_target=identical,
            notes="the streamed text equals charmodels.generate's"
            if identical
            else f"streamed {sorted(streamed_texts)!r} vs direct {sorted(direct_texts)!r}",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":  # python -m bench.app_latency serve app|noop
        serve(sys.argv[2])
    else:  # python -m bench.app_latency: this benchmark alone, quick
        for r in run(quick=True):
            print(r)
