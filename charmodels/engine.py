"""The stepping engine: one stream read one character at a time, in numpy, through charmodels.cells.

Calling torch for one character at a time costs more in call overhead than in arithmetic
(about 100 µs a step for nn.LSTM at hidden 128). Here the weights are copied out once, and
the first layer's input projection becomes a table lookup: W_xh x for a one-hot x is a
column of W_xh, so it is computed once per character of the vocabulary. Each step is then
one matrix-vector product per layer plus the cell's equations (`cells.*_step`, which have
no copy here). Asked to `record`, the engine keeps every quantity each step computed, so one
pass gives both the next distribution and what inspection shows.

A single stream's matrix-vector products are too small to share between threads, and a
BLAS worker thread left spinning beside torch's own threads slowed both down several times
on a two-core machine: callers that step many times (generation, `run`) hold numpy's BLAS to
one thread meanwhile with `kernels.blas_limit(1)`; entering it costs a few microseconds, too
much to pay on every step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .cells import CellStep, gru_step, lstm_step, project, rnn_step, weights_of
from .kernels import blas_limit
from .model import CharModel, State


class StepRecord(NamedTuple):
    """Everything one step computed, for inspection."""

    index: int  # the character read (its id)
    layers: tuple[CellStep, ...]  # each layer's cell step (cells.RNNStep / LSTMStep / GRUStep), the first layer's first
    logits: np.ndarray  # (vocab,) the head on the last layer's h_t: W_hy h_t + b_y
    probs: np.ndarray  # (vocab,) softmax(logits), float64: the next-character distribution


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of a tensor wherever it lives (CPU or GPU)."""
    return tensor.detach().cpu().float().numpy().copy()


class Stepper:
    """Carries one stream's recurrent state and returns the next-character distribution.

    `state` is the model's own (layers, 1, hidden) tensors, on any device; None means a fresh
    state. With `record=True`, `recorded` gets one StepRecord per step.
    """

    def __init__(self, model: CharModel, state: State | None = None, *, record: bool = False):
        self.is_lstm = model.is_lstm
        self.cell_step = {"rnn": rnn_step, "gru": gru_step}.get(model.config.cell)  # lstm_step takes c too
        self.weights = weights_of(model.rnn)
        with torch.no_grad(), blas_limit(1):
            ids = torch.arange(len(model.vocab), device=model.device)[None]  # (1, vocab)
            self.inputs = to_numpy(model.inputs(ids)[0])  # (vocab, input_size): each character's x
            self.head_w, self.head_b = to_numpy(model.head.weight), to_numpy(model.head.bias)  # W_hy, b_y
            self.table = project(self.inputs, self.weights[0])  # (vocab, gates * hidden): W_xh x for every x
        if state is None:
            state = model.init_state(1)
        self.h = [to_numpy(state[0][n, 0]) for n in range(len(self.weights))]  # (hidden,) per layer
        self.c = [to_numpy(state[1][n, 0]) for n in range(len(self.weights))] if self.is_lstm else []
        self.record = record
        self.recorded: list[StepRecord] = []

    def step(self, index: int) -> np.ndarray:
        """Read one character id; return the next-character distribution (float64, sums to 1).
        Many steps in a row run fastest inside `kernels.blas_limit(1)` (see the module's note)."""
        W_xh_x = self.table[index]  # layer 0's W_xh x_t, looked up
        steps = []
        for n, w in enumerate(self.weights):
            if n:
                W_xh_x = project(self.h[n - 1], w)  # the layer below's h_t is this layer's x_t
            if self.is_lstm:
                s = lstm_step(W_xh_x, self.h[n], self.c[n], w)
                self.c[n] = s.c
            else:
                s = self.cell_step(W_xh_x, self.h[n], w)
            self.h[n] = s.h
            if self.record:
                steps.append(s)
        logits = (self.head_w @ self.h[-1] + self.head_b).astype(np.float64)  # (vocab,)
        exp = np.exp(logits - logits.max())
        probs = exp / exp.sum()
        if self.record:
            self.recorded.append(StepRecord(index, tuple(steps), logits, probs))
        return probs

    def run(self, ids: list[int]) -> np.ndarray:
        """Read `ids` one after the other; return the distribution after each, (len(ids), vocab)."""
        with blas_limit(1):
            return np.stack([self.step(index) for index in ids])
