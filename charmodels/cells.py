"""The equations of each recurrent cell, written once.

One step of a cell reads the input's projection W_xh x_t and the previous state, and
returns every quantity the step computes, named as in the equations beside each line
(the seeds' notation: seed 002's h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), seed 003's
LSTM gates, seed 004's hand-written cell). The stepping engine (generation), inspection
(charmodels.explain) and the fast training kernels' tests all use these functions, and
tests/test_cells.py holds them equal to torch's nn.RNN, nn.LSTM and nn.GRU.

Shapes: h is a vector (hidden,) for one stream or rows (batch, hidden) for many. Every
product is written as seed 004 writes it, ``h @ W.T`` (= W h for one vector), which works
for both. The weights are torch's own, renamed: W_xh = weight_ih, W_hh = weight_hh.

Why a step takes W_xh x_t rather than x_t: for a one-hot x_t (the seeds' input) the
product W_xh x_t is just a column of W_xh, so the engine looks it up in a table made once
(`project` on every character) instead of multiplying at every step.

The weights of the gates are stacked: W_xh has one block of `hidden` rows per gate, in
torch's order (`GATES`), and `gate_rows` says which rows belong to which gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

# The gates of each cell, in the order torch stacks their weights.
GATES: dict[str, tuple[str, ...]] = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}

HALF = np.float32(0.5)  # a float32 scalar keeps float32 arithmetic float32


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^(-a)), computed as (1 + tanh(a / 2)) / 2: the same value, and it cannot overflow."""
    return HALF * np.tanh(HALF * a) + HALF


@dataclass(frozen=True)
class Weights:
    """One layer's weights, named as in the equations (torch's names in brackets)."""

    W_xh: np.ndarray  # (gates * hidden, input): input to hidden [weight_ih_l{n}]
    W_hh: np.ndarray  # (gates * hidden, hidden): hidden to hidden [weight_hh_l{n}]
    b_xh: np.ndarray  # (gates * hidden,) [bias_ih_l{n}]
    b_hh: np.ndarray  # (gates * hidden,) [bias_hh_l{n}]
    # torch keeps two biases where the seeds write one b: only their sum enters a tanh-RNN or
    # LSTM step (for the GRU's candidate n they stay apart, see gru_step)
    b: np.ndarray = field(init=False)  # b = b_xh + b_hh

    def __post_init__(self) -> None:
        object.__setattr__(self, "b", self.b_xh + self.b_hh)

    @classmethod
    def of(cls, rnn: nn.RNNBase, layer: int) -> Weights:
        """Layer `layer` of a torch nn.RNN / nn.LSTM / nn.GRU, copied to float32 numpy arrays on the CPU."""
        with torch.no_grad():
            arrays = [
                getattr(rnn, f"{name}_l{layer}").detach().cpu().float().numpy().copy()
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
        return cls(*arrays)


def weights_of(rnn: nn.RNNBase) -> list[Weights]:
    """Every layer's weights, the first layer's first."""
    return [Weights.of(rnn, layer) for layer in range(rnn.num_layers)]


def project(x: np.ndarray, w: Weights) -> np.ndarray:
    """W_xh x_t for input vectors x (input,) or (batch, input): what every step starts from.
    For a one-hot x_t it is column k of W_xh, k the character's id."""
    return x @ w.W_xh.T


def gate_rows(cell: str, gate: str, hidden: int) -> slice:
    """Which rows of W_xh, W_hh, b (and of W_xh x_t, W_hh h_{t-1}) belong to `gate`."""
    k = GATES[cell].index(gate)
    return slice(k * hidden, (k + 1) * hidden)


# ---- tanh RNN -------------------------------------------------------------------------------


class RNNStep(NamedTuple):
    h_prev: np.ndarray  # h_{t-1}
    W_xh_x: np.ndarray  # W_xh x_t
    W_hh_h: np.ndarray  # W_hh h_{t-1}
    b: np.ndarray  # b = b_xh + b_hh
    pre: np.ndarray  # W_xh x_t + W_hh h_{t-1} + b
    h: np.ndarray  # h_t


def rnn_step(W_xh_x: np.ndarray, h_prev: np.ndarray, w: Weights) -> RNNStep:
    W_hh_h = h_prev @ w.W_hh.T  # W_hh h_{t-1}
    pre = W_xh_x + W_hh_h + w.b  # W_xh x_t + W_hh h_{t-1} + b
    h = np.tanh(pre)  # h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)
    return RNNStep(h_prev, W_xh_x, W_hh_h, w.b, pre, h)


# ---- LSTM -----------------------------------------------------------------------------------


class LSTMStep(NamedTuple):
    h_prev: np.ndarray  # h_{t-1}
    c_prev: np.ndarray  # c_{t-1}
    W_xh_x: np.ndarray  # W_xh x_t, the four gates' rows in the order i, f, g, o
    W_hh_h: np.ndarray  # W_hh h_{t-1}, same rows
    b: np.ndarray  # b = b_xh + b_hh, same rows
    pre_i: np.ndarray  # W_xi x_t + W_hi h_{t-1} + b_i
    pre_f: np.ndarray  # W_xf x_t + W_hf h_{t-1} + b_f
    pre_g: np.ndarray  # W_xg x_t + W_hg h_{t-1} + b_g
    pre_o: np.ndarray  # W_xo x_t + W_ho h_{t-1} + b_o
    i: np.ndarray  # input gate: how much of the candidate is written
    f: np.ndarray  # forget gate: how much of c_{t-1} is kept
    g: np.ndarray  # candidate (seed 003's C̃_t)
    o: np.ndarray  # output gate: how much of tanh(c_t) is shown as h_t
    c: np.ndarray  # c_t, the cell state
    h: np.ndarray  # h_t


def lstm_step(W_xh_x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, w: Weights) -> LSTMStep:
    H = h_prev.shape[-1]
    W_hh_h = h_prev @ w.W_hh.T  # W_hh h_{t-1}, all four gates at once
    pre = W_xh_x + W_hh_h + w.b  # W_xh x_t + W_hh h_{t-1} + b
    pre_i, pre_f, pre_g, pre_o = pre[..., :H], pre[..., H : 2 * H], pre[..., 2 * H : 3 * H], pre[..., 3 * H :]
    i = sigmoid(pre_i)  # i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)
    f = sigmoid(pre_f)  # f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)
    g = np.tanh(pre_g)  # g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)
    o = sigmoid(pre_o)  # o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)
    c = f * c_prev + i * g  # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h = o * np.tanh(c)  # h_t = o_t ⊙ tanh(c_t)
    return LSTMStep(h_prev, c_prev, W_xh_x, W_hh_h, w.b, pre_i, pre_f, pre_g, pre_o, i, f, g, o, c, h)


# ---- GRU ------------------------------------------------------------------------------------
# torch's convention: h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}, so z is "how much of the old state
# is kept". colah's blog (where seed 003's figures come from) and many notes write
# h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ ñ_t, where z is "how much of the new is written": the same
# cell with z and 1 - z swapped. And torch applies r after W_hn: r_t ⊙ (W_hn h_{t-1} + b_hn),
# where those notes write W_hn (r_t ⊙ h_{t-1}).


class GRUStep(NamedTuple):
    h_prev: np.ndarray  # h_{t-1}
    W_xh_x: np.ndarray  # W_xh x_t, the three gates' rows in the order r, z, n
    W_hh_h: np.ndarray  # W_hh h_{t-1}, same rows
    b_r: np.ndarray  # b_r = b_xr + b_hr
    b_z: np.ndarray  # b_z = b_xz + b_hz
    b_xn: np.ndarray  # the candidate's input bias
    b_hn: np.ndarray  # the candidate's hidden bias, inside r_t ⊙ (...)
    pre_r: np.ndarray  # W_xr x_t + W_hr h_{t-1} + b_r
    pre_z: np.ndarray  # W_xz x_t + W_hz h_{t-1} + b_z
    hn: np.ndarray  # W_hn h_{t-1} + b_hn, the part of the old state the reset gate scales
    pre_n: np.ndarray  # W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn)
    r: np.ndarray  # reset gate: how much of the old state the candidate may use
    z: np.ndarray  # update gate (torch's): how much of the old state is kept
    n: np.ndarray  # candidate: the proposed new state
    h: np.ndarray  # h_t


def gru_step(W_xh_x: np.ndarray, h_prev: np.ndarray, w: Weights) -> GRUStep:
    H = h_prev.shape[-1]
    W_hh_h = h_prev @ w.W_hh.T  # W_hh h_{t-1}, all three gates at once
    b_r, b_z, b_xn, b_hn = w.b[:H], w.b[H : 2 * H], w.b_xh[2 * H :], w.b_hh[2 * H :]
    pre_r = W_xh_x[..., :H] + W_hh_h[..., :H] + b_r
    r = sigmoid(pre_r)  # r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)
    pre_z = W_xh_x[..., H : 2 * H] + W_hh_h[..., H : 2 * H] + b_z
    z = sigmoid(pre_z)  # z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)
    hn = W_hh_h[..., 2 * H :] + b_hn  # W_hn h_{t-1} + b_hn
    pre_n = W_xh_x[..., 2 * H :] + b_xn + r * hn
    n = np.tanh(pre_n)  # n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h = (1 - z) * n + z * h_prev  # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    return GRUStep(h_prev, W_xh_x, W_hh_h, b_r, b_z, b_xn, b_hn, pre_r, pre_z, hn, pre_n, r, z, n, h)


CellStep = RNNStep | LSTMStep | GRUStep
