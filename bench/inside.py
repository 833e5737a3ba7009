"""The Inside tab's live update against the bars, on the server, side by side in one run.

What a visitor's keystroke in the Inside tab costs the server: demo/handlers.on_inside_live
(the heatmap and vectors through charmodels.explain.trace, the card, the diagram and the
one-hot input through charmodels.explain.step and demo/explainer) for a 200-character prompt
on a 128-unit model, beside demo/handlers.on_prompt (the bars: next_chars) for the same
prompt. Both run in this process on one torch thread, as the app serves them
(demo/service.warm_up), alternating call by call so a slow spell hits both. The Inside
update is its own event in the page: it never sits in front of the bars.

Target (issue 12): the Inside update at most 50 ms of server time (p50).
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


def prompt_for() -> str:
    from charmodels import CORPORA

    text = CORPORA["goethe"].text
    return ((text + " ") * (PROMPT_CHARS // len(text) + 1))[:PROMPT_CHARS]


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
    return rows


if __name__ == "__main__":
    for result in run(quick=False):
        print(result)
