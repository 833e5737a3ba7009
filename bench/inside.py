"""The Inside tab's live update against the bars, on the server, side by side in one run.

What a visitor's keystroke in the Inside tab costs the server: demo/handlers.on_inside_live
(the heatmap and vectors through charmodels.explain.trace, the card, the diagram and the
one-hot input through charmodels.explain.step and demo/explainer) for a 200-character prompt
on a 128-unit model, beside demo/handlers.on_prompt (the bars: next_chars) for the same
prompt. Both run in this process on one torch thread, as the app serves them
(demo/service.warm_up), alternating call by call so a slow spell hits both. The Inside
update is its own event in the page: it never sits in front of the bars.

Target (issue 12): the Inside update at most 50 ms of server time (p50).

Over HTTP (`http_rows`, as bench/app_latency.py calls the page's events: queue join + the
session's stream): next_chars at 1 client on the no-op app, on the app alone, and on the app
while a second visitor types in the Inside tab (its live event, one keystroke every
TYPING_EVERY seconds, each a 200-character prompt); rounds alternate. Target: with the live
Inside on, next_chars's p50 at most 10 ms above the no-op's.
"""

from __future__ import annotations

import functools
import statistics
import time

from bench import row

CHECKPOINTS = ("goethe-lstm", "goethe-gru", "goethe-rnn")  # 128 units each
PROMPT_CHARS = 200
TARGET_MS = 50.0
REPEATS, QUICK_REPEATS = 40, 8
HTTP_REQUESTS, QUICK_HTTP_REQUESTS = 120, 30  # next_chars calls per setting, over ROUNDS alternations
ROUNDS = 2
TYPING_EVERY = 0.15  # s between an Inside visitor's keystrokes
TARGET_HTTP_EXTRA_MS = 10.0


def prompt_for() -> str:
    from charmodels import CORPORA

    text = CORPORA["goethe"].text
    return ((text + " ") * (PROMPT_CHARS // len(text) + 1))[:PROMPT_CHARS]


def live_inside_event(server) -> tuple[int, list]:
    """The Inside prompt's live event (its change) as the page calls it: fn_index and the data of its
    inputs (checkpoint, prompt, which, layer, units, temperature, top_k, top_p, lang)."""
    import httpx

    config = httpx.get(f"{server.url}/config", timeout=30).json()
    prompt_id = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "cm-inside-prompt")
    event = next(d for d in config["dependencies"] if [prompt_id, "change"] in [list(t) for t in d["targets"]])
    if len(event["inputs"]) != 9:
        raise RuntimeError(f"the Inside live event reads {len(event['inputs'])} inputs, this benchmark sends 9")
    return event["id"], ["goethe-lstm", prompt_for(), "h", 1, [], 0, 0, 1, "en"]


class Typist:
    """A visitor typing in the Inside tab: its live event every TYPING_EVERY seconds, in a thread, until stopped."""

    def __init__(self, visitor, fn_index: int, data: list):
        import threading

        self.visitor, self.fn_index, self.data = visitor, fn_index, data
        self.seconds: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.type_keys)
        self.thread.start()

    def type_keys(self) -> None:
        while not self.stopped.is_set():
            started = time.perf_counter()
            took, message = self.visitor.call(self.fn_index, self.data)
            if not (message and message.get("success")):
                raise RuntimeError(f"the Inside live event failed: {message}")
            self.seconds.append(took)
            self.stopped.wait(max(0.0, TYPING_EVERY - (time.perf_counter() - started)))

    def stop(self) -> list[float]:
        self.stopped.set()
        self.thread.join()
        return self.seconds


def http_rows(quick: bool) -> list[dict]:
    from bench.app_latency import Server, Visitor, load

    requests = QUICK_HTTP_REQUESTS if quick else HTTP_REQUESTS
    servers = {kind: Server(kind) for kind in ("app", "noop")}
    try:
        for server in servers.values():
            server.wait_ready()
        inside_index, inside_data = live_inside_event(servers["app"])
        typist = Visitor(servers["app"].url)
        for _ in range(3):  # warm: torch, the model, the explainer's first calls
            typist.call(inside_index, inside_data)
        seconds = {"noop": [], "app": [], "app+inside": []}
        inside_seconds = []
        for round_ in range(ROUNDS):
            order = list(seconds) if round_ % 2 == 0 else list(reversed(seconds))
            for setting in order:
                server = servers["noop" if setting == "noop" else "app"]
                visitor = Visitor(server.url)
                for _ in range(3):
                    load(server, [visitor], 1)
                typing = Typist(typist, inside_index, inside_data) if setting == "app+inside" else None
                took, _, _ = load(server, [visitor], requests // ROUNDS)
                if typing:
                    inside_seconds += typing.stop()
                seconds[setting] += took
                visitor.close()
        typist.close()
    finally:
        for server in servers.values():
            server.stop()
    p50 = {setting: statistics.median(values) * 1000 for setting, values in seconds.items()}
    extra = p50["app+inside"] - p50["noop"]
    return [
        row("inside.http.next_chars_with_live_inside_ms", round(p50["app+inside"], 2), "ms", baseline=round(p50["noop"], 2),
            ratio=round(p50["app+inside"] / p50["noop"], 2), target=f"p50 <= no-op + {TARGET_HTTP_EXTRA_MS:g} ms",
            meets_target=extra <= TARGET_HTTP_EXTRA_MS,
            notes=f"next_chars p50 over HTTP at 1 client while another visitor types in the Inside tab (a keystroke every "
            f"{TYPING_EVERY:g} s, 200 characters, goethe-lstm); baseline: the no-op app; {len(seconds['app+inside'])} calls"),
        row("inside.http.next_chars_app_alone_ms", round(p50["app"], 2), "ms", baseline=round(p50["noop"], 2),
            ratio=round(p50["app"] / p50["noop"], 2), notes="the same app, nobody in the Inside tab"),
        row("inside.http.live_update_ms", round(statistics.median(inside_seconds) * 1000, 2), "ms",
            target=f"<= {TARGET_MS:g} ms server time", notes=f"the Inside live event over HTTP, join to completion "
            f"(server time plus the round trip); {len(inside_seconds)} calls"),
    ]


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(quick: bool) -> list[dict]:
    import torch

    from demo import handlers, service

    torch.set_num_threads(1)  # as the app serves (demo/service.warm_up)
    repeats = QUICK_REPEATS if quick else REPEATS
    rows = []
    for checkpoint in CHECKPOINTS:
        model = service.serving.get_model(checkpoint)
        prompt = prompt_for()
        calls = {
            "inside": functools.partial(handlers.on_inside_live, checkpoint, prompt, "h", 1, None, 0, 0, 1, "en"),
            "explain": functools.partial(handlers.explain_views, checkpoint, prompt, None, None, 1, 0, 0, 1, "en"),
            "next_chars": functools.partial(handlers.on_prompt, checkpoint, prompt, "en"),
        }
        for fn in calls.values():  # warm up: the model's tables, numpy's first calls
            fn()
        took = {name: [] for name in calls}
        for repeat in range(repeats):
            order = list(calls) if repeat % 2 == 0 else list(reversed(calls))
            for name in order:
                took[name].append(timed(calls[name]))
        p50 = {name: statistics.median(values) for name, values in took.items()}
        bars = p50["next_chars"]
        cells = f"{model.config.cell}, {model.config.layers} x {model.config.hidden_size}"
        rows.append(row(
            f"inside.{checkpoint}.live_update_ms", round(p50["inside"], 2), "ms", baseline=round(bars, 2),
            ratio=round(p50["inside"] / bars, 2), target=f"<= {TARGET_MS:g} ms", meets_target=p50["inside"] <= TARGET_MS,
            notes=f"p50 of {repeats}: handlers.on_inside_live on a {PROMPT_CHARS}-character prompt ({cells}; the views read "
            f"its last {service.MAX_INSIDE}); baseline: handlers.on_prompt (the bars) on the same prompt",
        ))
        rows.append(row(
            f"inside.{checkpoint}.explain_ms", round(p50["explain"], 2), "ms", baseline=round(bars, 2),
            ratio=round(p50["explain"] / bars, 2),
            notes="of which the card, the diagram and the input (explain.step + demo/explainer)",
        ))
    return rows + http_rows(quick)


if __name__ == "__main__":
    for result in run(quick=False):
        print(result)
