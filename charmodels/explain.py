"""Inside the model, step by step: inputs, hidden states, gates, cell state, saliency.

`trace` reads a text through the stepping engine with recording on, so every number it
returns comes from the cell equations of charmodels.cells (tests hold those equal to torch's
nn.RNN / nn.LSTM / nn.GRU). The model may live on any device: the engine copies its
weights to the CPU, and saliency builds its inputs where the model is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import checks
from .cells import GATES
from .engine import Stepper
from .model import CharModel
from .sampling import check_prompt

__all__ = ["GATES", "LayerTrace", "Saliency", "Trace", "saliency", "trace"]


@dataclass(frozen=True)
class LayerTrace:
    h: np.ndarray  # (time, hidden) hidden state after each character
    c: np.ndarray | None  # (time, hidden) LSTM cell state, None for the other cells
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # name (cells.GATES) -> (time, hidden)


@dataclass(frozen=True)
class Trace:
    chars: list[str]  # the text read, one character per step
    inputs: np.ndarray  # (time, input_size): one-hot rows, or the embedding of each character
    layers: list[LayerTrace]
    probs: np.ndarray  # (time, vocab): the next-character distribution after each step
    vocab: list[str]


def trace(model: CharModel, text: str) -> Trace:
    """Read `text` from a fresh state and record everything each step computes."""
    ids = check_prompt(model, text)
    stepper = Stepper(model, record=True)
    probs = stepper.run(ids)  # (time, vocab)
    gates = GATES[model.config.cell]
    layers = []
    for n in range(model.config.layers):
        steps = [record.layers[n] for record in stepper.recorded]  # this layer's cells.*Step, one per character
        layers.append(
            LayerTrace(
                h=np.stack([s.h for s in steps]),
                c=np.stack([s.c for s in steps]) if model.is_lstm else None,
                gates={name: np.stack([getattr(s, name) for s in steps]) for name in gates},
            )
        )
    return Trace(list(text), stepper.inputs[ids], layers, probs, list(model.vocab.chars))


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
    checks.choice("method", method, ("occlusion", "gradient"))
    if target is not None:
        checks.choice("target", target, model.vocab.chars)
    vectors = model.inputs(torch.tensor([ids], device=model.device)).detach()  # (1, time, input_size)
    with torch.no_grad():
        logits, _ = model.read(vectors)
        logp = torch.log_softmax(logits[0, -1].double(), dim=-1)  # (vocab,)
    index = int(logp.argmax()) if target is None else model.vocab.encode(target)[0]
    base = float(logp[index])
    if method == "occlusion":
        time = vectors.shape[1]
        blanked = vectors.repeat(time, 1, 1)  # (time, time, input_size): row s has character s blanked
        steps = torch.arange(time, device=vectors.device)
        blanked[steps, steps] = 0.0
        with torch.no_grad():
            out, _ = model.read(blanked)
            occluded = torch.log_softmax(out[:, -1].double(), dim=-1)[:, index]  # (time,)
        scores = (base - occluded).cpu().numpy()
    else:  # "gradient"
        x = vectors.clone().requires_grad_(True)
        out, _ = model.read(x)
        (grad,) = torch.autograd.grad(torch.log_softmax(out[0, -1], dim=-1)[index], x)  # leaves the weights' .grad alone
        scores = (grad * x).sum(-1)[0].detach().double().cpu().numpy()  # (time,)
        method = "gradient x input"
    peak = np.abs(scores).max()
    return Saliency(method, model.vocab.chars[index], float(np.exp(base)), scores / peak if peak > 0 else scores)
