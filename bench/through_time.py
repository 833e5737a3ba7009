"""Explainer II (issue 13) server times: gradient flow, surprise, recital, and the course's recipe.

- gradient flow for a 200-character prompt on the three 128-unit anthem models side by side
  (`gradflow.compare_flow`), the time a request would take; target at most 300 ms;
- surprisal (`surprise.surprisal`) and recital (`recital.sample_and_mark`) on the anthem text;
- the course's recipe against ours (`course.compare`: goethe RNN and anthem LSTM, each under
  seed 000's windows and train()), until the verdict; target at most 30 s.

One torch thread, as the app's workers run. The baseline of the gradient flow is the same
prediction's gradient with respect to the inputs alone from one fused forward and backward
pass (torch's own nn.RNN/LSTM/GRU over the whole prompt): what reading the states one step at
a time costs on top of that.
"""

from __future__ import annotations

import statistics
import time

import torch

import charmodels
from bench import row
from charmodels.course import COURSE_TIME_LIMIT, compare
from charmodels.gradflow import compare_flow
from charmodels.recital import sample_and_mark
from charmodels.surprise import surprisal

CELLS = ("rnn", "lstm", "gru")
PROMPT_LENGTH = 200
FLOW_TARGET_MS = 300.0


def fused_input_gradient(model, prompt: str) -> None:
    ids = torch.tensor([model.vocab.encode(prompt)])
    x = model.inputs(ids).detach().requires_grad_(True)
    logits, _ = model.read(x)
    torch.autograd.grad(torch.log_softmax(logits[0, -1], -1).max(), x)


def median_ms(call, repeats: int) -> float:
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000


def run(quick: bool) -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> list[dict]:
    repeats = 3 if quick else 9
    models = {cell: charmodels.load_checkpoint(f"anthem-{cell}") for cell in CELLS}
    prompt = charmodels.CORPORA["anthem"].text[:PROMPT_LENGTH]
    compare_flow(models, prompt)  # warm up
    flow = median_ms(lambda: compare_flow(models, prompt), repeats)
    fused = median_ms(lambda: [fused_input_gradient(m, prompt) for m in models.values()], repeats)
    rows = [
        row(
            "through_time.gradflow_ms",
            round(flow, 1),
            "ms",
            baseline=round(fused, 1),
            ratio=round(flow / FLOW_TARGET_MS, 3),
            target=f"<= {FLOW_TARGET_MS:g} ms",
            meets_target=flow <= FLOW_TARGET_MS,
            notes=f"compare_flow: {PROMPT_LENGTH}-char anthem prompt on anthem-rnn/lstm/gru (128 units), every step's "
            f"input and state gradient; baseline: the input gradient alone from one fused pass per model; "
            f"median of {repeats}, one torch thread; ratio = value / target",
        )
    ]
    text = charmodels.CORPORA["anthem"].text
    took = median_ms(lambda: surprisal(models["lstm"], text), repeats)
    rows.append(row("through_time.surprise_ms", round(took, 1), "ms",
                    notes=f"surprisal(): anthem-lstm on its {len(text)}-char text, with the unigram and bigram models"))
    took = median_ms(lambda: sample_and_mark(models["lstm"], "O", 500, temperature=1.0, seed=1), repeats)
    rows.append(row("through_time.recital_ms", round(took, 1), "ms",
                    notes="sample_and_mark(): 500 characters of anthem-lstm at T=1, marked against its text"))

    started = time.perf_counter()
    results = compare(seed=0)
    seconds = time.perf_counter() - started
    verdicts = ", ".join(
        f"{r.name}: course {'recites' if r.course.predicts else 'wrong at ' + str(r.course.first_wrong)}, "
        f"whole {'recites' if r.whole.predicts else 'wrong'}" for r in results
    )
    rows.append(
        row(
            "through_time.course_verdict_s",
            round(seconds, 2),
            "s",
            ratio=round(seconds / COURSE_TIME_LIMIT, 3),
            target=f"<= {COURSE_TIME_LIMIT:g} s",
            meets_target=seconds <= COURSE_TIME_LIMIT,
            notes=f"course.compare(seed=0), goethe RNN + anthem LSTM, both recipes, one thread: {verdicts}",
        )
    )
    return rows
