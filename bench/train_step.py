"""One training step per cell on the anthem corpus: charmodels.fastcells against nn.RNN / nn.GRU,
and each against nn.LSTM, the one cell with a fused CPU kernel.

A step is what charmodels.train() does each time: forward over the whole text (batch 1,
439 characters, one-hot input, hidden 128), cross-entropy, backward, gradient clipping
and an Adam step. Torch runs on one thread, as in train.py's workers. The model's own
training path (CharModel.forward with gradients on) is the fast one; the nn baseline
calls the same model's nn.RNN / nn.GRU directly. The variants take turns (the order
flips every repeat), and each number is a median over the repeats.

Target (from the issue): an RNN or GRU step within 2x of the LSTM's at the same size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

from bench import row
from charmodels import CORPORA, CharModel, ModelConfig, TrainConfig, Vocab
from charmodels.data import encode_corpus

CORPUS = "anthem"
HIDDEN = 128
TARGET = 2.0  # an RNN or GRU step at most this many times the LSTM's
FAST_CELLS = ("rnn", "gru")


def make_step(cell: str, way: str, vocab: Vocab, batch) -> tuple[Callable[[], None], CharModel]:
    """A function taking one training step of a fresh seeded model, the fast way or through nn."""
    torch.manual_seed(0)
    model = CharModel(ModelConfig(cell, HIDDEN), vocab)
    optimizer = torch.optim.Adam(model.parameters(), lr=TrainConfig().lr)
    valid = batch.valid

    def logits_of() -> torch.Tensor:
        if way == "nn":  # what CharModel.read() did before fastcells: the module's own forward
            state = model.init_state(1)
            outputs, _ = model.rnn(model.inputs(batch.inputs), state if model.is_lstm else state[0])
            return model.head(outputs)
        return model(batch.inputs)[0]  # the training path: fastcells for rnn and gru

    def step() -> None:
        loss = F.cross_entropy(logits_of()[valid], batch.targets[valid])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TrainConfig().clip)
        optimizer.step()

    return step, model


def gradients_agree(cell: str, vocab: Vocab, batch) -> float:
    """The largest gradient difference, fast vs nn, relative to the largest gradient, on one step."""
    grads = {}
    for way in ("fast", "nn"):
        step, model = make_step(cell, way, vocab, batch)
        step()
        grads[way] = [p.grad.clone() for p in model.parameters()]
    return max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(grads["fast"], grads["nn"]))


def run(quick: bool) -> list[dict]:
    repeats = 7 if quick else 31
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as train.py's workers
    try:
        corpus = CORPORA[CORPUS]
        vocab = Vocab.from_text(corpus.text)
        batch = encode_corpus(corpus, vocab)
        variants = [("lstm", "nn")] + [(cell, way) for cell in FAST_CELLS for way in ("fast", "nn")]
        steps = {key: make_step(*key, vocab, batch)[0] for key in variants}
        for step in steps.values():  # warm up: allocator and dispatch caches
            step(), step()
        seconds = {key: [] for key in variants}
        for repeat in range(repeats):  # interleaved, so a slow spell of the machine hits all of them
            for key in variants if repeat % 2 == 0 else variants[::-1]:
                started = time.perf_counter()
                steps[key]()
                seconds[key].append(time.perf_counter() - started)
        ms = {key: 1000 * statistics.median(values) for key, values in seconds.items()}
        deviation = {cell: gradients_agree(cell, vocab, batch) for cell in FAST_CELLS}
    finally:
        torch.set_num_threads(threads)

    where = f"{CORPUS} ({len(corpus.text)} chars, batch 1), hidden {HIDDEN}, 1 torch thread, median of {repeats} interleaved repeats"
    lstm = ms["lstm", "nn"]
    rows = [row("train_step.lstm.ms", round(lstm, 2), "ms", notes=f"nn.LSTM (fused CPU kernel) training step; {where}")]
    for cell in FAST_CELLS:
        fast, slow = ms[cell, "fast"], ms[cell, "nn"]
        module = {"rnn": "nn.RNN", "gru": "nn.GRU"}[cell]
        rows += [
            row(
                f"train_step.{cell}.fast_vs_lstm",
                round(fast, 2),
                "ms",
                baseline=round(lstm, 2),
                ratio=round(fast / lstm, 2),
                target=f"ratio <= {TARGET:g}",
                meets_target=fast / lstm <= TARGET,
                notes=f"fastcells {cell} step vs nn.LSTM step",
            ),
            row(
                f"train_step.{cell}.nn_vs_lstm",
                round(slow, 2),
                "ms",
                baseline=round(lstm, 2),
                ratio=round(slow / lstm, 2),
                notes=f"{module} step vs nn.LSTM step: before fastcells",
            ),
            row(
                f"train_step.{cell}.fast_vs_nn",
                round(fast, 2),
                "ms",
                baseline=round(slow, 2),
                ratio=round(fast / slow, 3),
                notes=f"fastcells vs {module}: {slow / fast:.1f}x faster",
            ),
            row(
                f"train_step.{cell}.same_gradients",
                deviation[cell] < 1e-5,
                "bool",
                target="true",
                meets_target=deviation[cell] < 1e-5,
                notes=f"first step's gradients, fastcells vs {module}: largest difference "
                f"{deviation[cell]:.1e} of the largest gradient (float32 rounding)",
            ),
        ]
    return rows
