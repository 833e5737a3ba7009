"""One training step per cell: the fast layers of charmodels.kernels (installed by
kernels.fast_training, as the trainers do) against nn.RNN / nn.GRU, and each against nn.LSTM,
the one cell with a fused CPU kernel.

Two shapes of step:
- short text: what charmodels.train() does each time on the anthem corpus: forward over the
  whole text (batch 1, 439 characters, one-hot input, 1 layer of 128), cross-entropy,
  backward, gradient clipping and an Adam step;
- long text: the long-text default's shape, 2 layers of 256 with dropout 0.25 between them,
  16 streams of 50-character windows (from the anthem, repeated). Before dropout was
  supported, this shape silently fell back to nn.RNN / nn.GRU.

Torch runs on one thread, as in train.py's workers (and numpy's BLAS with it, inside the
kernels). The variants take turns (the order flips every repeat), and each number is a
median over the repeats.

Target (from the issue): an RNN or GRU step within 2x of the LSTM's at the same size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch.nn import functional as F

from bench import row
from charmodels import CORPORA, CharModel, ModelConfig, TrainConfig, Vocab
from charmodels.data import encode_corpus
from charmodels.kernels import fast_training

CORPUS = "anthem"
HIDDEN = 128
TARGET = 2.0  # an RNN or GRU step at most this many times the LSTM's
FAST_CELLS = ("rnn", "gru")
LONG = {"hidden": 256, "layers": 2, "dropout": 0.25, "streams": 16, "window": 50}  # the long-text default's shape


def short_batch(vocab: Vocab):
    batch = encode_corpus(CORPORA[CORPUS], vocab)
    return batch.inputs, batch.targets, batch.valid


def long_batch(vocab: Vocab):
    text = CORPORA[CORPUS].text
    ids = torch.tensor(vocab.encode(text * 2))
    starts = torch.arange(LONG["streams"]) * 23 % (len(text) - LONG["window"] - 1)
    windows = torch.stack([ids[s : s + LONG["window"] + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:], torch.ones(windows.shape[0], LONG["window"], dtype=torch.bool)


def make_step(cell: str, way: str, vocab: Vocab, batch, long: bool) -> tuple[Callable[[], torch.Tensor], CharModel]:
    """A function taking one training step of a fresh seeded model, through the fast layers or nn;
    it returns that step's logits (their autograd graph shows which layers ran)."""
    torch.manual_seed(0)
    if long:
        model = CharModel(ModelConfig(cell, LONG["hidden"], LONG["layers"]), vocab)
        model.rnn.dropout = LONG["dropout"]  # as training.py sets it for stacked layers
    else:
        model = CharModel(ModelConfig(cell, HIDDEN), vocab)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=TrainConfig().lr)
    inputs, targets, valid = batch

    def step() -> torch.Tensor:
        with fast_training(model) if way == "fast" else nullcontext():  # a trainer holds it around its whole loop
            logits, _ = model(inputs)
            loss = F.cross_entropy(logits[valid], targets[valid])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), TrainConfig().clip)
            optimizer.step()
        return logits

    return step, model


def uses_kernels(logits: torch.Tensor) -> bool:
    """Whether the fast layers ran: their autograd nodes are in the step's graph."""
    seen, stack = set(), [logits.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node).__name__.startswith(("_RNNLayer", "_GRULayer")):
            return True
        stack += [next_node for next_node, _ in node.next_functions]
    return False


def gradients_agree(cell: str, vocab: Vocab, batch, long: bool) -> float:
    """The largest gradient difference, fast vs nn, relative to the largest gradient, on one step
    (with the same random draws, so the same dropout masks)."""
    grads = {}
    for way in ("fast", "nn"):
        step, model = make_step(cell, way, vocab, batch, long)
        torch.manual_seed(1)
        step()
        grads[way] = [p.grad.clone() for p in model.parameters()]
    return max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(grads["fast"], grads["nn"]))


def measure(variants: list[tuple], vocab: Vocab, batches: dict, repeats: int) -> tuple[dict, dict]:
    """Median milliseconds per step of each variant (cell, way, long), and whether its step used the kernels."""
    steps = {key: make_step(*key[:2], vocab, batches[key[2]], key[2])[0] for key in variants}
    used = {}
    for key, step in steps.items():  # warm up: allocator and dispatch caches
        step()
        used[key] = uses_kernels(step())
    seconds = {key: [] for key in variants}
    for repeat in range(repeats):  # interleaved, so a slow spell of the machine hits all of them
        for key in variants if repeat % 2 == 0 else variants[::-1]:
            started = time.perf_counter()
            steps[key]()
            seconds[key].append(time.perf_counter() - started)
    return {key: 1000 * statistics.median(values) for key, values in seconds.items()}, used


def run(quick: bool) -> list[dict]:
    repeats = 7 if quick else 31
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as train.py's workers
    try:
        vocab = Vocab.from_text(CORPORA[CORPUS].text)
        batches = {False: short_batch(vocab), True: long_batch(vocab)}
        variants = [("lstm", "nn", False)]
        variants += [(cell, way, long) for long in (False, True) for cell in FAST_CELLS for way in ("fast", "nn")]
        ms, used = measure(variants, vocab, batches, repeats)
        deviation = {(cell, long): gradients_agree(cell, vocab, batches[long], long) for cell in FAST_CELLS for long in (False, True)}
    finally:
        torch.set_num_threads(threads)

    where = f"{CORPUS} ({len(CORPORA[CORPUS].text)} chars, batch 1), hidden {HIDDEN}, 1 torch thread, median of {repeats} interleaved repeats"
    long_where = (
        f"{LONG['layers']} x {LONG['hidden']}, dropout {LONG['dropout']}, {LONG['streams']} streams x {LONG['window']} chars, "
        f"1 torch thread, median of {repeats} interleaved repeats"
    )
    lstm = ms["lstm", "nn", False]
    rows = [row("train_step.lstm.ms", round(lstm, 2), "ms", notes=f"nn.LSTM (fused CPU kernel) training step; {where}")]
    for cell in FAST_CELLS:
        fast, slow = ms[cell, "fast", False], ms[cell, "nn", False]
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
                notes=f"kernels {cell} step vs nn.LSTM step",
            ),
            row(
                f"train_step.{cell}.nn_vs_lstm",
                round(slow, 2),
                "ms",
                baseline=round(lstm, 2),
                ratio=round(slow / lstm, 2),
                notes=f"{module} step vs nn.LSTM step: without the kernels",
            ),
            row(
                f"train_step.{cell}.fast_vs_nn",
                round(fast, 2),
                "ms",
                baseline=round(slow, 2),
                ratio=round(fast / slow, 3),
                notes=f"kernels vs {module}: {slow / fast:.1f}x faster",
            ),
            row(
                f"train_step.{cell}.same_gradients",
                deviation[cell, False] < 1e-5,
                "bool",
                target="true",
                meets_target=deviation[cell, False] < 1e-5,
                notes=f"first step's gradients, kernels vs {module}: largest difference "
                f"{deviation[cell, False]:.1e} of the largest gradient (float32 rounding)",
            ),
        ]
    for cell in FAST_CELLS:
        fast, slow = ms[cell, "fast", True], ms[cell, "nn", True]
        module = {"rnn": "nn.RNN", "gru": "nn.GRU"}[cell]
        ran = used[cell, "fast", True] and not used[cell, "nn", True]
        rows += [
            row(
                f"train_step.{cell}.dropout.fast_vs_nn",
                round(fast, 2),
                "ms",
                baseline=round(slow, 2),
                ratio=round(fast / slow, 3),
                notes=f"kernels vs {module} with dropout between layers: {slow / fast:.1f}x faster; {long_where}",
            ),
            row(
                f"train_step.{cell}.dropout.uses_kernels",
                ran,
                "bool",
                target="true",
                meets_target=ran,
                notes="the fast step's autograd graph holds the kernels' layers (and the nn step's does not)",
            ),
            row(
                f"train_step.{cell}.dropout.same_gradients",
                deviation[cell, True] < 1e-5,
                "bool",
                target="true",
                meets_target=deviation[cell, True] < 1e-5,
                notes=f"first step's gradients with the same dropout masks, kernels vs {module}: largest difference "
                f"{deviation[cell, True]:.1e} of the largest gradient",
            ),
        ]
    return rows
