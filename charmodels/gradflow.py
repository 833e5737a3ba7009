"""Gradient flow through time: how strongly one prediction reaches back to each earlier character.

Pick the prediction at `position` of a text: the distribution the model gives after reading
``text[:position]``, and in it the log-probability of a `target` character (by default the
text's own next character). For every earlier step t (0 <= t < position), this module
measures the Euclidean (L2) norm of the gradient of that one number

    log p(target | text[:position])

with respect to

- the input vector x_t the model read at step t (the one-hot row, or the embedding), and
- the hidden state h_t after step t (of the top layer: the state the head reads), and, for
  the LSTM, the cell state c_t after step t (top layer).

Each gradient is the total derivative through everything that reads that vector, as
backpropagation through time computes it: h_t is read by the next step (and, at the last
step, by the head); the LSTM's c_t by its own h_t = o_t * tanh(c_t) and by the next step. A norm
near zero means a small change there barely moves the prediction. For the tanh RNN the gradient
that reaches L steps back shrinks roughly geometrically with L; the LSTM's cell state can carry
it. Plot the norms on a log scale against `distance` (position - t: 1 is the character just read).

The steps run through torch's own cell functions (torch.rnn_tanh_cell, lstm_cell, gru_cell: what
nn.RNN / nn.LSTM / nn.GRU compute on the CPU) on a CPU copy of the model's weights, one step at a
time, so each h_t and c_t is a node of the autograd graph; the model and its .grad are left alone.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import checks
from .errors import CharmodelsError
from .lab import VOCAB_CHARS, LabConfig, build_model, held_out_lines, make_lines
from .model import CELLS, CharModel
from .sampling import check_prompt
from .training import Loop, Window, fit
from .vocab import Vocab

MAX_FLOW_TEXT = 2_000  # characters a text may have here: one small backward pass per character read
NORM = "l2"  # the norm of every gradient reported: Euclidean, over all the vector's numbers
OF = "log p(target | text[:position])"  # the one number differentiated

__all__ = ["MAX_FLOW_TEXT", "GradientFlow", "compare_flow", "gradient_flow", "lab_flow", "lab_models", "train_lab_model"]


@dataclass(frozen=True)
class GradientFlow:
    """The gradient of one prediction's log-probability at every earlier step.

    Fields:
        cell: the model's cell ("rnn", "lstm", "gru").
        text: the characters read, ``text[:position]`` of the text given.
        position: the prediction explained: the one made after reading `text`, of the
            character at this index of the text given (or the one after it).
        target: the character whose log-probability is differentiated.
        target_prob: p(target | text), the model's probability of it.
        distance: (position,) int, position - t for each earlier step t: 1 = the character just read.
        input_norms: (position,) the L2 norm of d log p(target) / d x_t, x_t the input vector
            read at step t (one-hot row or embedding).
        hidden_norms: (position,) the L2 norm of d log p(target) / d h_t, h_t the top layer's
            hidden state after step t.
        cell_norms: (position,) the L2 norm of d log p(target) / d c_t, c_t the LSTM's (top
            layer's) cell state after step t; None for the RNN and the GRU.
        of: the number differentiated, as a formula (OF).
        norm: "l2" (NORM).
        lines: 1, or for `lab_flow` the number of lines averaged (the norms are their means).
    """

    cell: str
    text: str
    position: int
    target: str
    target_prob: float
    distance: np.ndarray
    input_norms: np.ndarray
    hidden_norms: np.ndarray
    cell_norms: np.ndarray | None
    of: str = OF
    norm: str = NORM
    lines: int = 1

    def to_dict(self) -> dict:
        """Plain JSON-ready data (lists for the arrays)."""
        as_list = lambda a: None if a is None else [float(v) for v in a]
        return {
            "cell": self.cell, "text": self.text, "position": self.position, "target": self.target,
            "target_prob": self.target_prob, "distance": [int(d) for d in self.distance],
            "input_norms": as_list(self.input_norms), "hidden_norms": as_list(self.hidden_norms),
            "cell_norms": as_list(self.cell_norms), "of": self.of, "norm": self.norm, "lines": self.lines,
        }


# torch's own cell functions: the equations nn.RNN / nn.LSTM / nn.GRU run on the CPU, one step each
_CELL_STEP = {"rnn": torch.rnn_tanh_cell, "lstm": torch.lstm_cell, "gru": torch.gru_cell}


def _norms(model: CharModel, ids: torch.Tensor, targets: torch.Tensor) -> tuple[np.ndarray, ...]:
    """(batch, time) ids read, (batch,) target ids -> per line and step the L2 norms of
    d log p(target) / d x_t, d h_t and (LSTM) d c_t, each (batch, time); and p(target), (batch,).

    The model is stepped through torch's cell functions on a CPU copy of its weights, one step
    at a time, so each top-layer h_t and c_t is one node of the graph that everything after it
    reads (on a GPU the fused LSTM cell would hide c_t's path into h_t). Lines are independent:
    one backward pass of their sum gives every line's own gradients.
    """
    rnn, cell = model.rnn, model.config.cell
    step = _CELL_STEP[cell]
    layers = [
        tuple(getattr(rnn, f"{name}_l{n}").detach().cpu().float() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        for n in range(model.config.layers)
    ]
    head_w, head_b = model.head.weight.detach().cpu().float(), model.head.bias.detach().cpu().float()
    with torch.no_grad():
        vectors = model.inputs(ids.to(model.device)).cpu().float()  # (batch, time, input): one-hot or embedded
    batch, time = ids.shape
    with torch.enable_grad():
        x = vectors.requires_grad_(True)
        zeros = torch.zeros(batch, model.config.hidden_size)
        state = [(zeros, zeros) if model.is_lstm else zeros for _ in layers]
        tops_h, tops_c = [], []
        for t in range(time):
            below = x[:, t]
            for n, weights in enumerate(layers):
                state[n] = step(below, state[n], *weights)
                below = state[n][0] if model.is_lstm else state[n]
            tops_h.append(below)  # the top layer's h_t: the next step and, at the last, the head read this node
            if model.is_lstm:
                tops_c.append(state[-1][1])  # its c_t: read by h_t = o_t * tanh(c_t) and by the next step
        logp = torch.log_softmax((below @ head_w.T + head_b).double(), dim=-1)  # (batch, vocab)
        chosen = logp.gather(1, targets.cpu()[:, None])[:, 0]  # (batch,)
        grads = torch.autograd.grad(chosen.sum(), [x, *tops_h, *tops_c])
    norms = [grads[0].double().norm(dim=-1)]  # (batch, time)
    norms.append(torch.stack([g.double().norm(dim=-1) for g in grads[1 : 1 + time]], dim=1))
    norms.append(torch.stack([g.double().norm(dim=-1) for g in grads[1 + time :]], dim=1) if model.is_lstm else None)
    return (*(None if n is None else n.numpy() for n in norms), chosen.detach().exp().numpy())


def gradient_flow(model: CharModel, text: str, position: int | None = None, target: str | None = None) -> GradientFlow:
    """How strongly the prediction at `position` of `text` depends on each earlier character.

    model: a CharModel (any cell, any number of layers, one-hot or embedded input).
    text: up to MAX_FLOW_TEXT characters the model knows.
    position: 1 to len(text): the prediction made after reading ``text[:position]``;
        default len(text), the prediction of the character after the whole text.
    target: the character whose log-probability is differentiated; default the text's own
        character at `position`, or after the whole text the model's most likely one.

    Returns a GradientFlow: the L2 norms of d log p(target | text[:position]) / d x_t, d h_t
    (and d c_t for the LSTM) for t = 0 .. position - 1. Raises CharmodelsError ("not_text",
    "empty_prompt", "prompt_too_long", "not_whole", "not_choice") or UnknownCharacterError.
    """
    ids = check_prompt(model, text)
    if len(text) > MAX_FLOW_TEXT:
        raise CharmodelsError("prompt_too_long", n=len(text), limit=MAX_FLOW_TEXT)
    position = len(text) if position is None else checks.whole("position", position, 1, len(text))
    if target is not None:
        checks.choice("target", target, model.vocab.chars)
    read = torch.tensor([ids[:position]])  # (1, position)
    if target is None and position < len(text):
        target = text[position]
    if target is None:  # after the whole text: explain the model's own choice
        with torch.inference_mode():
            logits, _ = model(read.to(model.device))
        target = model.vocab.chars[int(logits[0, -1].argmax())]
    index = torch.tensor([model.vocab.chars.index(target)])
    x, h, c, prob = _norms(model, read, index)
    return GradientFlow(
        cell=model.config.cell,
        text=text[:position],
        position=position,
        target=target,
        target_prob=float(prob[0]),
        distance=np.arange(position, 0, -1),
        input_norms=x[0],
        hidden_norms=h[0],
        cell_norms=None if c is None else c[0],
    )


def compare_flow(
    models: Mapping[str, CharModel], text: str, position: int | None = None, target: str | None = None
) -> dict[str, GradientFlow]:
    """`gradient_flow` of the same prediction for several models side by side (the text's RNN,
    LSTM and GRU): name -> GradientFlow, in the order given. Each model must know every character
    of `text` (and `target`); the first that does not raises, naming the characters."""
    if not models:
        raise CharmodelsError("model_expected", got="nothing", name="goethe-lstm")
    return {name: gradient_flow(model, text, position, target) for name, model in models.items()}


def train_lab_model(config: LabConfig) -> CharModel:
    """A model of the Memory lab's task trained exactly as `charmodels.lab.run_point` trains it
    (the same seeded weights, lines, loss on the answer only, Adam, steps), returned in eval mode.

    run_point measures a model and lets it go; the gradient flow needs the model itself.
    """
    vocab = Vocab(VOCAB_CHARS)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = random.Random(config.seed)

    def lines(step: int) -> Window:
        ids = torch.tensor([vocab.encode(line) for line in make_lines(config.gap_at(step + 1), config.batch, rng)])
        answer = torch.zeros(ids.shape[0], ids.shape[1] - 1, dtype=torch.bool)
        answer[:, -1] = True  # as run_point: the loss counts the answer only
        return Window(ids[:, :-1], ids[:, 1:], answer)

    fit(model, optimizer, lines, Loop(config.steps, clip=config.clip))
    return model.eval()


def lab_flow(models: Mapping[str, CharModel] | Sequence[CharModel], gap: int, lines: int = 64) -> dict[str, GradientFlow]:
    """The gradient flow on the Memory lab's task: for `lines` of its held-out lines (first letter,
    `gap` fillers, the first letter again), the prediction of the answer after reading the first
    gap + 1 characters, its target the right answer. The norms are the means over the lines.

    models: lab models (`train_lab_model`, or `build_model` for untrained ones) by name, or a
    list (named by their cell). Returns name -> GradientFlow with `text` the first line read
    and `lines` the number averaged.
    """
    gap = checks.whole("gap", gap, 1, 1000)
    lines = checks.whole("lines", lines, 2, 4096)
    if not isinstance(models, Mapping):
        models = {model.config.cell: model for model in models}
    held_out = held_out_lines(gap, lines)
    result = {}
    for name, model in models.items():
        if not isinstance(model, CharModel):
            raise CharmodelsError("model_expected", got=type(model).__name__, name="goethe-lstm")
        ids = torch.tensor([model.vocab.encode(line) for line in held_out])  # (lines, gap + 2)
        x, h, c, prob = _norms(model, ids[:, :-1], ids[:, -1])
        result[name] = GradientFlow(
            cell=model.config.cell,
            text=held_out[0][:-1],
            position=gap + 1,
            target=held_out[0][-1],
            target_prob=float(prob.mean()),
            distance=np.arange(gap + 1, 0, -1),
            input_norms=x.mean(axis=0),
            hidden_norms=h.mean(axis=0),
            cell_norms=None if c is None else c.mean(axis=0),
            lines=lines,
        )
    return result


def lab_models(gap: int, cells: Sequence[str] = tuple(CELLS), seed: int = 0, steps: int = 600, **fields) -> dict[str, CharModel]:
    """One trained lab model per cell at the lab's sizes (LabConfig's param_target), for `lab_flow`;
    `fields` are further LabConfig fields (forget_bias, curriculum, ...)."""
    return {cell: train_lab_model(LabConfig(cell=cell, gap=gap, seed=seed, steps=steps, **fields)) for cell in cells}
