"""The course's own PyTorch code and charmodels' weights, both ways.

The seeds build a character model as a plain ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` with
``batch_first=True``, fed one-hot vectors (``np.eye(len(char_set))[ids]``) from a zero
initial state (no ``h_0`` passed), followed by an ``nn.Linear`` from the hidden state to
one score per character. A one-hot `CharModel` is exactly that: its tensors are
``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``, ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0`` (then
``_l1`` ... for more layers) and ``head.weight``, ``head.bias``, with torch's own layout,
so moving weights is copying tensors. The one thing that must travel with them is the
vocabulary, in its order: a character's id is its position, the column of ``weight_ih_l0``
it switches on and the row of ``head.weight`` that scores it. Course code often builds it
with ``list(set(text))``, an order that changes from run to run; charmodels keeps whatever
order it is given and never re-sorts it.

    rnn, head, chars = to_torch(load_checkpoint("goethe-lstm"))   # ours -> the course's
    model = from_torch(rnn, head, char_set)                        # the course's -> ours
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from .model import CELLS, CharModel, ModelConfig
from .vocab import Vocab

__all__ = ["from_torch", "to_torch"]


def to_torch(model: CharModel) -> tuple[nn.RNNBase, nn.Linear, list[str]]:
    """`model` as the course's code builds one: ``(rnn, head, chars)``.

    rnn: a new ``nn.RNN`` (tanh), ``nn.LSTM`` or ``nn.GRU`` with ``batch_first=True``,
        ``input_size=len(chars)`` (one-hot input), the model's hidden size and layers.
    head: a new ``nn.Linear(hidden_size, len(chars))``: hidden state -> one logit per character.
    chars: the vocabulary in the model's order: ``chars[i]`` is one-hot column i and logit i.

    Feed ``rnn`` one-hot rows of ``chars`` with no initial state (zeros, as charmodels
    starts too), apply ``head`` to its outputs, and a softmax of the last position is the
    model's `next_char_probs`. Both modules are copies in eval mode, on the model's device
    and dtype: training them leaves `model` as it was. A model with a learned embedding is
    converted too: ``W_ih @ E[x]`` is column x of ``W_ih @ E.T``, so the embedding is folded
    into ``weight_ih_l0`` and the input stays one-hot.
    """
    if not isinstance(model, CharModel):
        raise TypeError(f"to_torch takes a CharModel (load one with load_checkpoint), got {type(model).__name__}")
    config, vocab_size, weight = model.config, len(model.vocab), model.head.weight
    tensors = {name: tensor.detach().clone() for name, tensor in model.rnn.state_dict().items()}
    if model.embed is not None:
        # one_hot(x) @ E = E[x], so W_ih E[x] = (W_ih E^T)[:, x]: the same pre-activations from one-hot input
        tensors["weight_ih_l0"] = tensors["weight_ih_l0"] @ model.embed.weight.detach().T
    with torch.random.fork_rng(devices=[]):  # building modules draws initial weights: leave the caller's RNG alone
        rnn = CELLS[config.cell](vocab_size, config.hidden_size, num_layers=config.layers, batch_first=True)
        head = nn.Linear(config.hidden_size, vocab_size)
    rnn.to(device=weight.device, dtype=weight.dtype)
    head.to(device=weight.device, dtype=weight.dtype)
    rnn.load_state_dict(tensors, strict=True)
    head.load_state_dict({name: tensor.detach() for name, tensor in model.head.state_dict().items()}, strict=True)
    return rnn.eval(), head.eval(), list(model.vocab.chars)


def from_torch(rnn: nn.RNNBase, head: nn.Linear, chars: Iterable[str] | Mapping[str, int]) -> CharModel:
    """A CharModel with the weights of course-style modules: the inverse of `to_torch`.

    rnn: an ``nn.RNN`` (tanh), ``nn.LSTM`` or ``nn.GRU`` reading one-hot vectors, so its
        ``input_size`` is ``len(chars)``; any layers, batch_first either way (the weights
        are the same). A layer built with ``bias=False`` gets zero biases, which compute
        the same. Dropout only acts while training, so it is not carried.
    head: the ``nn.Linear(hidden_size, len(chars))`` applied to the rnn's outputs
        (``bias=False``: a zero bias).
    chars: the vocabulary in the order the course's code used, e.g. its ``char_set``
        (``list(set(text))``), or its ``char_dic`` (``{char: index}``). The order is kept,
        never sorted: ``chars[i]`` is the character of one-hot column i and logit i.

    Returns a model in eval mode on the CPU with float32 weights (a checkpoint's format),
    its ``info`` empty. Raises TypeError for modules of another kind, ValueError for a
    bidirectional, projected (``proj_size``) or ReLU rnn and for sizes that do not fit
    together, CharmodelsError for a vocabulary with an empty entry or a repeat.
    """
    cell = _cell_of(rnn)
    vocab = _vocab_of(chars)
    if not isinstance(head, nn.Linear):
        raise TypeError(f"head must be the nn.Linear applied to the rnn's outputs, got {type(head).__name__}")
    if rnn.bidirectional:
        raise ValueError("a bidirectional rnn reads the text backwards too, which a next-character model cannot")
    if getattr(rnn, "proj_size", 0):
        raise ValueError(f"an LSTM with proj_size={rnn.proj_size} has no counterpart in charmodels: use proj_size=0")
    if cell == "rnn" and rnn.nonlinearity != "tanh":
        raise ValueError(f"charmodels' RNN cell is tanh; this nn.RNN uses {rnn.nonlinearity!r}")
    if rnn.input_size != len(vocab):
        raise ValueError(
            f"the rnn reads {rnn.input_size} features but there are {len(vocab)} characters: "
            "with one-hot input, input_size is the number of characters"
        )
    if head.in_features != rnn.hidden_size or head.out_features != len(vocab):
        raise ValueError(
            f"head must map the hidden size to one logit per character, Linear({rnn.hidden_size}, {len(vocab)}); "
            f"got Linear({head.in_features}, {head.out_features})"
        )
    with torch.random.fork_rng(devices=[]):  # the weights are replaced at once: leave the caller's RNG alone
        model = CharModel(ModelConfig(cell, rnn.hidden_size, rnn.num_layers), vocab)
    rnn_tensors = {name: tensor.detach() for name, tensor in rnn.state_dict().items()}
    for name, parameter in model.rnn.named_parameters():
        if name.startswith("bias_") and name not in rnn_tensors:  # bias=False: zeros compute the same
            rnn_tensors[name] = torch.zeros_like(parameter)
    head_tensors = {"weight": head.weight.detach()}
    head_tensors["bias"] = head.bias.detach() if head.bias is not None else torch.zeros(len(vocab))
    model.rnn.load_state_dict(rnn_tensors, strict=True)  # copies into the model's float32 CPU tensors
    model.head.load_state_dict(head_tensors, strict=True)
    return model.eval()


def _cell_of(rnn: nn.Module) -> str:
    for name, kind in CELLS.items():
        if isinstance(rnn, kind):
            return name
    raise TypeError(f"rnn must be an nn.RNN, nn.LSTM or nn.GRU, got {type(rnn).__name__}")


def _vocab_of(chars: Iterable[str] | Mapping[str, int]) -> Vocab:
    """The vocabulary in the course's order: a list as given, a {char: index} dict by its indices."""
    if isinstance(chars, Mapping):
        order = sorted(chars, key=chars.__getitem__)
        if sorted(chars.values()) != list(range(len(chars))):
            raise ValueError(f"a {{char: index}} vocabulary needs the indices 0 to {len(chars) - 1}, each once")
        return Vocab(order)
    return Vocab(chars)
