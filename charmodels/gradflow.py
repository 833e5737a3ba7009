"""Gradient flow through time: how strongly one prediction reaches back to each earlier character.

Pick the prediction at `position` of a text: the distribution the model gives after reading
``text[:position]``, and in it the log-probability of a `target` character (by default the
text's own next character). For every earlier step t (0 <= t < position), this module
measures the Euclidean (L2) norm of the gradient of that one number

    log p(target | text[:position])

with respect to

- the input vector x_t the model read at step t (the one-hot row, or the embedding), and
- the hidden state h_t after step t (every layer's h_t together), and, for the LSTM, the cell
  state c_t after step t.

Each gradient is the total derivative through every later step, as backpropagation through
time computes it: a norm near zero means a small change there barely moves the prediction.
For the tanh RNN the gradient that reaches L steps back shrinks roughly geometrically with L;
the LSTM's cell state can carry it. Plot the norms on a log scale against `distance`
(position - t: 1 is the character just read).

The model is read one step at a time through its own nn.RNN / nn.LSTM / nn.GRU, so every
h_t and c_t is a node of the autograd graph; the model's weights and their .grad are left alone.
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
        hidden_norms: (position,) the L2 norm of d log p(target) / d h_t, h_t the hidden state
            after step t, all layers together.
        cell_norms: (position,) the L2 norm of d log p(target) / d c_t for the LSTM's cell
            state after step t (all layers together); None for the RNN and the GRU.
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


def _norms(model: CharModel, ids: torch.Tensor, targets: torch.Tensor) -> tuple[np.ndarray, ...]:
    """(batch, time) ids read, (batch,) target ids -> per line and step the L2 norms of
    d log p(target) / d x_t, d h_t and (LSTM) d c_t, each (batch, time); and p(target), (batch,).

    Lines are independent, so one backward pass of the sum gives every line's own gradients.
    """
    was_training = model.training
    model.eval()  # no dropout: the gradient of the model as it predicts
    try:
        with torch.enable_grad():
            vectors = model.inputs(ids.to(model.device)).detach().requires_grad_(True)  # (batch, time, input)
            state = model.init_state(ids.shape[0])
            states = []
            for t in range(ids.shape[1]):  # one step at a time: each state is a node of the graph
                _, new = model.rnn(vectors[:, t : t + 1], state if model.is_lstm else state[0])
                state = tuple(new) if model.is_lstm else (new,)
                states.append(state)
            top = state[0][-1]  # (batch, hidden): the last step's top-layer h, the very node the head reads
            logp = torch.log_softmax(model.head(top).double(), dim=-1)  # (batch, vocab)
            chosen = logp.gather(1, targets.to(model.device)[:, None])[:, 0]  # (batch,)
            wrt = [vectors] + [s[0] for s in states] + ([s[1] for s in states] if model.is_lstm else [])
            # the last step's c_t reaches the prediction only through its h_t, a coordinate of its
            # own here: its partial derivative is 0, which autograd reports as "unused"
            grads = torch.autograd.grad(chosen.sum(), wrt, allow_unused=True, materialize_grads=True)
    finally:
        model.train(was_training)
    time = ids.shape[1]
    x_norms = grads[0].double().norm(dim=-1)  # (batch, time)

    def state_norms(parts) -> torch.Tensor:  # each part (layers, batch, hidden) -> (batch, time)
        return torch.stack([g.double().pow(2).sum(dim=(0, 2)).sqrt() for g in parts], dim=1)

    h_norms = state_norms(grads[1 : 1 + time])
    c_norms = state_norms(grads[1 + time :]) if model.is_lstm else None
    out = [x_norms.cpu().numpy(), h_norms.cpu().numpy(), None if c_norms is None else c_norms.cpu().numpy()]
    return out[0], out[1], out[2], chosen.detach().exp().cpu().numpy()


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
