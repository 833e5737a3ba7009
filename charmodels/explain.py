"""Inside the model, step by step: inputs, hidden states, gates, cell state, saliency.

The recurrence is recomputed here by hand from the model's own weights, one named
equation at a time, so every gate can be looked at. Tests prove the result equal to
torch's nn.RNN / nn.LSTM / nn.GRU (h and c to 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .model import CharModel
from .sampling import check_prompt

# What each gate means, for labels and explanations.
GATES = {
    "rnn": {},
    "lstm": {
        "i": "input gate: how much of the new candidate enters the cell",
        "f": "forget gate: how much of the old cell state is kept",
        "g": "candidate: what could be written into the cell",
        "o": "output gate: how much of the cell is shown as h",
    },
    "gru": {
        "r": "reset gate: how much of the old state the candidate may use",
        "z": "update gate: how much of the old state is kept",
        "n": "candidate: the proposed new state",
    },
}


@dataclass(frozen=True)
class LayerTrace:
    h: np.ndarray  # (time, hidden) hidden state after each character
    c: np.ndarray | None  # (time, hidden) LSTM cell state, None for the other cells
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (time, hidden)


@dataclass(frozen=True)
class Trace:
    chars: list[str]  # the text read, one character per step
    inputs: np.ndarray  # (time, input_size): one-hot rows, or the embedding of each character
    layers: list[LayerTrace]
    probs: np.ndarray  # (time, vocab): the next-character distribution after each step
    vocab: list[str]


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def _rnn_step(x, h, w_ih, w_hh, b_ih, b_hh):
    h_new = torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)  # h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    return h_new, None, {}


def _lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (4 * hidden,) in torch's order i, f, g, o
    pre_i, pre_f, pre_g, pre_o = pre.chunk(4)
    i = _sigmoid(pre_i)  # i = σ(W_ii x + W_hi h + b_i)
    f = _sigmoid(pre_f)  # f = σ(W_if x + W_hf h + b_f)
    g = torch.tanh(pre_g)  # g = tanh(W_ig x + W_hg h + b_g)
    o = _sigmoid(pre_o)  # o = σ(W_io x + W_ho h + b_o)
    c_new = f * c + i * g  # c' = f ⊙ c + i ⊙ g
    h_new = o * torch.tanh(c_new)  # h' = o ⊙ tanh(c')
    return h_new, c_new, {"i": i, "f": f, "g": g, "o": o}


def _gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    in_r, in_z, in_n = (x @ w_ih.T + b_ih).chunk(3)  # torch's order r, z, n
    hid_r, hid_z, hid_n = (h @ w_hh.T + b_hh).chunk(3)
    r = _sigmoid(in_r + hid_r)  # r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = _sigmoid(in_z + hid_z)  # z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = torch.tanh(in_n + r * hid_n)  # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h_new = (1 - z) * n + z * h  # h' = (1 - z) ⊙ n + z ⊙ h
    return h_new, None, {"r": r, "z": z, "n": n}


@torch.no_grad()
def trace(model: CharModel, text: str) -> Trace:
    """Read `text` from a fresh state and record everything each step computes."""
    ids = check_prompt(model, text)
    cell = model.config.cell
    x_seq = model.inputs(torch.tensor([ids]))[0]  # (time, input_size)
    layers = []
    layer_input = x_seq
    for layer in range(model.config.layers):
        w_ih = getattr(model.rnn, f"weight_ih_l{layer}")
        w_hh = getattr(model.rnn, f"weight_hh_l{layer}")
        b_ih = getattr(model.rnn, f"bias_ih_l{layer}")
        b_hh = getattr(model.rnn, f"bias_hh_l{layer}")
        h = torch.zeros(model.config.hidden_size)
        c = torch.zeros(model.config.hidden_size)
        hs, cs, gates = [], [], {name: [] for name in GATES[cell]}
        for x in layer_input:
            if cell == "lstm":
                h, c, step_gates = _lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh)
                cs.append(c)
            elif cell == "gru":
                h, _, step_gates = _gru_step(x, h, w_ih, w_hh, b_ih, b_hh)
            else:
                h, _, step_gates = _rnn_step(x, h, w_ih, w_hh, b_ih, b_hh)
            hs.append(h)
            for name, value in step_gates.items():
                gates[name].append(value)
        h_seq = torch.stack(hs)  # (time, hidden)
        layers.append(
            LayerTrace(
                h=h_seq.numpy(),
                c=torch.stack(cs).numpy() if cs else None,
                gates={name: torch.stack(values).numpy() for name, values in gates.items()},
            )
        )
        layer_input = h_seq  # the next layer reads this layer's hidden states
    probs = torch.softmax(model.head(layer_input).double(), dim=-1)  # (time, vocab)
    return Trace(list(text), x_seq.numpy(), layers, probs.numpy(), list(model.vocab.chars))


@dataclass(frozen=True)
class Saliency:
    method: str  # "occlusion" or "gradient x input"
    target: str  # the character whose probability is explained
    target_prob: float
    scores: np.ndarray  # (time,) each character's share, normalised so the largest |score| is 1


def saliency(model: CharModel, text: str, target: str | None = None, method: str = "occlusion") -> Saliency:
    """How much each character of `text` contributed to predicting `target` next.

    occlusion: the drop in log-probability of `target` when that one character is blanked
    (its input vector set to zero: "what if the model had not seen it?"). A positive score
    means the character made `target` more likely.
    gradient x input: the first-order estimate of the same, from one backward pass.
    `target` defaults to the model's most likely next character.
    """
    ids = check_prompt(model, text)
    vectors = model.inputs(torch.tensor([ids])).detach()  # (1, time, input_size)
    with torch.no_grad():
        logits, _ = model.read(vectors)
        logp = torch.log_softmax(logits[0, -1].double(), dim=-1)  # (vocab,)
    if target is None:
        index = int(logp.argmax())
    else:
        if len(target) != 1 or target not in model.vocab:
            raise ValueError(f"target must be one character of the model's vocabulary, got {target!r}")
        index = model.vocab.encode(target)[0]
    base = float(logp[index])
    if method == "occlusion":
        time = vectors.shape[1]
        blanked = vectors.repeat(time, 1, 1)  # (time, time, input_size): row s has character s blanked
        blanked[torch.arange(time), torch.arange(time)] = 0.0
        with torch.no_grad():
            out, _ = model.read(blanked)
            occluded = torch.log_softmax(out[:, -1].double(), dim=-1)[:, index]  # (time,)
        scores = (base - occluded).numpy()
    elif method == "gradient":
        x = vectors.clone().requires_grad_(True)
        out, _ = model.read(x)
        torch.log_softmax(out[0, -1], dim=-1)[index].backward()
        scores = (x.grad * x).sum(-1)[0].detach().double().numpy()  # (time,)
        method = "gradient x input"
    else:
        raise ValueError(f"unknown saliency method {method!r}; choose occlusion or gradient")
    peak = np.abs(scores).max()
    return Saliency(method, model.vocab.chars[index], float(np.exp(base)), scores / peak if peak > 0 else scores)
