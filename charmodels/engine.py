"""A fast single-stream stepping engine for generation, in numpy.

Calling torch for one character at a time costs more in call overhead than in
arithmetic (about 100 µs a step for nn.LSTM at hidden 128). Here the weights are taken
out once, and the first layer's input projection becomes a table lookup: a one-hot input
times W_ih is just a column of W_ih, so ``W_ih x + b_ih + b_hh`` is precomputed per
character. Each step is then one matrix-vector product per layer plus the gates.
The equations are torch's (see charmodels.explain); tests check the logits agree.
"""

from __future__ import annotations

import numpy as np
import torch

from .model import CharModel, State


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Stepper:
    """Carries one stream's recurrent state and returns the next-character distribution."""

    def __init__(self, model: CharModel, state: State):
        cell, layers = model.config.cell, model.config.layers
        self.cell = cell
        with torch.no_grad():
            weights = {name: p.detach().cpu().numpy().astype(np.float32) for name, p in model.named_parameters()}
            # layer 0's input projection for every character: (vocab, gates * hidden)
            vectors = model.inputs(torch.arange(len(model.vocab))[None])[0].numpy().astype(np.float32)
        self.table = vectors @ weights["rnn.weight_ih_l0"].T + weights["rnn.bias_ih_l0"]
        self.w_ih = [None] + [weights[f"rnn.weight_ih_l{n}"] for n in range(1, layers)]
        self.b_ih = [None] + [weights[f"rnn.bias_ih_l{n}"] for n in range(1, layers)]
        self.w_hh = [weights[f"rnn.weight_hh_l{n}"] for n in range(layers)]
        self.b_hh = [weights[f"rnn.bias_hh_l{n}"] for n in range(layers)]
        self.head_w, self.head_b = weights["head.weight"], weights["head.bias"]
        self.h = [state[0][n, 0].numpy().astype(np.float32).copy() for n in range(layers)]  # (hidden,) each
        self.c = [state[1][n, 0].numpy().astype(np.float32).copy() for n in range(layers)] if cell == "lstm" else None

    def step(self, index: int) -> np.ndarray:
        """Read one character id; return the next-character distribution (float64, sums to 1)."""
        x_proj = self.table[index]  # W_ih x + b_ih for layer 0, looked up
        for n in range(len(self.h)):
            if n:
                x_proj = self.w_ih[n] @ self.h[n - 1] + self.b_ih[n]
            h_proj = self.w_hh[n] @ self.h[n] + self.b_hh[n]  # W_hh h + b_hh
            if self.cell == "lstm":
                i, f, g, o = np.split(x_proj + h_proj, 4)  # torch's order i, f, g, o
                self.c[n] = _sigmoid(f) * self.c[n] + _sigmoid(i) * np.tanh(g)  # c' = f ⊙ c + i ⊙ g
                self.h[n] = _sigmoid(o) * np.tanh(self.c[n])  # h' = o ⊙ tanh(c')
            elif self.cell == "gru":
                x_r, x_z, x_n = np.split(x_proj, 3)
                h_r, h_z, h_n = np.split(h_proj, 3)
                r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
                candidate = np.tanh(x_n + r * h_n)  # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                self.h[n] = (1 - z) * candidate + z * self.h[n]  # h' = (1 - z) ⊙ n + z ⊙ h
            else:
                self.h[n] = np.tanh(x_proj + h_proj)  # h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
        logits = (self.head_w @ self.h[-1] + self.head_b).astype(np.float64)  # (vocab,)
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()
