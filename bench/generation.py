"""generate() against the seeds' way of writing text, on the shipped anthem checkpoints.

generate() carries the recurrent state: it reads the prompt once, then spends one step of
the cell per new character. The seeds' way re-feeds the whole growing sequence at every
step, model(ids) on the full prefix from a fresh state, and keeps the last logits: the
n-th character costs n steps, so writing N characters costs about N**2 / 2 steps.
Both decode greedily, so they must write the same text.
"""

from __future__ import annotations

import statistics
import time

import torch

import charmodels
from bench import row

CELLS = ("rnn", "lstm", "gru")
LENGTH = 500  # characters generated
QUICK_LENGTH = 200  # --quick: re-feeding costs grow with the square of the length
PROMPT = "O"  # the anthem's first character
TARGET = 8.0  # generate() at least this many times faster than re-feeding


def with_generate(model, prompt: str, length: int) -> str:
    return "".join(step.char for step in charmodels.generate(model, prompt, length))


@torch.inference_mode()
def with_refeed(model, prompt: str, length: int) -> str:
    ids = model.vocab.encode(prompt)
    for _ in range(length):
        logits, _ = model(torch.tensor([ids]))  # (1, len(ids), vocab): the whole prefix again
        ids.append(int(logits[0, -1].argmax()))  # greedy: the most likely next character
    return "".join(model.vocab.chars[i] for i in ids[len(prompt) :])


def timed(write, model, length: int) -> tuple[float, str]:
    started = time.perf_counter()
    text = write(model, PROMPT, length)
    return time.perf_counter() - started, text


def run(quick: bool) -> list[dict]:
    repeats = 3 if quick else 5
    length = QUICK_LENGTH if quick else LENGTH
    models = {cell: charmodels.load_checkpoint(f"anthem-{cell}") for cell in CELLS}
    seconds = {(cell, way): [] for cell in CELLS for way in ("generate", "refeed")}
    texts = {key: set() for key in seconds}
    for model in models.values():  # warm up: first calls pay for allocation and dispatch caches
        with_generate(model, PROMPT, 20), with_refeed(model, PROMPT, 20)
    for repeat in range(repeats):  # interleaved, so a slow spell of the machine hits both ways
        for cell, model in models.items():
            ways = [("generate", with_generate), ("refeed", with_refeed)]
            for way, write in ways if repeat % 2 == 0 else ways[::-1]:
                took, text = timed(write, model, length)
                seconds[cell, way].append(took)
                texts[cell, way].add(text)

    rows = []
    for cell in CELLS:
        gen = length / statistics.median(seconds[cell, "generate"])
        refeed = length / statistics.median(seconds[cell, "refeed"])
        ratio = gen / refeed
        rows.append(
            row(
                f"generation.{cell}.chars_per_s",
                round(gen, 1),
                "chars/s",
                baseline=round(refeed, 1),
                ratio=round(ratio, 2),
                target=f"ratio >= {TARGET:g}",
                meets_target=ratio >= TARGET,
                notes=f"anthem-{cell}: generate() vs re-feeding the prefix, {length} chars greedy from {PROMPT!r}, "
                f"median of {repeats} interleaved repeats",
            )
        )
        gen_texts, refeed_texts = texts[cell, "generate"], texts[cell, "refeed"]
        identical = len(gen_texts) == 1 and gen_texts == refeed_texts
        rows.append(
            row(
                f"generation.{cell}.identical_text",
                identical,
                "bool",
                target="true",
                meets_target=identical,
                notes=f"both ways wrote the same {length} chars in every repeat"
                if identical
                else f"texts differ: generate {sorted(gen_texts)!r} vs re-feed {sorted(refeed_texts)!r}",
            )
        )
    rows.append(row("generation.torch_threads", torch.get_num_threads(), "threads", notes="torch's default on this machine"))
    return rows
