"""The model: characters in, next-character logits out, one contract for every cell.

A plain nn.Module: forward runs torch's nn.RNN / nn.LSTM / nn.GRU in every grad mode (the
faster training layers of charmodels.kernels are swapped in by trainers, never chosen
here). No I/O and no prints: checkpoints, training and sampling live in their own modules.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .vocab import Vocab

# The registry of cell types. Each takes (input, state) and returns (outputs, state),
# so nothing above this module ever branches on the cell type.
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# A recurrent state is a tuple of (layers, batch, hidden) tensors: (h,) or, for the LSTM, (h, c).
State = tuple[torch.Tensor, ...]

MAX_HIDDEN_SIZE = 4096
MAX_LAYERS = 8


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a CharModel: which cell, how wide, how deep, and how characters go in.

    Attributes:
        cell: "rnn" (nn.RNN with tanh), "lstm" (nn.LSTM) or "gru" (nn.GRU).
        hidden_size: units in each recurrent layer, 1 to MAX_HIDDEN_SIZE (4096): the length
            of the hidden state h (and of the LSTM's cell state c). Seed 001's
            ``nn.RNN(input_size=4, hidden_size=2)`` for "hello" is ``ModelConfig("rnn", 2)``
            with the vocabulary h, e, l, o (input_size is the vocabulary's size).
        layers: recurrent layers stacked on each other, 1 to MAX_LAYERS (8): nn.RNN's
            ``num_layers``; each layer reads the hidden states of the one below.
        embedding_dim: 0 (the default) feeds each character as a one-hot vector, as the
            seeds do (``input_size`` = the vocabulary size); above 0, a learned
            nn.Embedding of this many numbers per character instead.

    The vocabulary is not part of the config: a CharModel takes both,
    ``CharModel(ModelConfig("lstm", 64), Vocab.from_text(text))``. Training takes the config
    alone (``train(text, ModelConfig("gru", 32))``) and builds the vocabulary from the text.
    Raises ValueError for an unknown cell or a size out of range.
    """

    cell: str = "lstm"
    hidden_size: int = 128
    layers: int = 1
    embedding_dim: int = 0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell type {self.cell!r}; choose one of: {', '.join(CELLS)}")
        for name, low, high in (
            ("hidden_size", 1, MAX_HIDDEN_SIZE),
            ("layers", 1, MAX_LAYERS),
            ("embedding_dim", 0, MAX_HIDDEN_SIZE),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class CharModel(nn.Module):
    """A character-level language model: input layer -> stacked recurrent cells -> linear head.

    `CharModel(config, vocab)` builds one with torch's default initialisation. The input layer
    turns each character id into a one-hot vector (as the course does) or a learned embedding;
    `rnn` is a plain nn.RNN (tanh), nn.LSTM or nn.GRU with batch_first=True; `head` is an
    nn.Linear from the top layer's hidden state to one score (logit) per character.

    `forward(ids, state=None) -> (logits, state)` is the one contract for every cell: ids
    (batch, time) in, logits (batch, time, vocab) and the new state out. `vocab` maps
    characters to ids; `info` is what a checkpoint says about the model (corpus, metrics,
    history), empty for a fresh one.
    """

    def __init__(self, config: ModelConfig, vocab: Vocab):
        super().__init__()
        self.config = config
        self.vocab = vocab
        self.info: dict = {}  # what a checkpoint says about this model (corpus, metrics, history)
        vocab_size = len(vocab)
        if config.embedding_dim:
            self.embed: nn.Embedding | None = nn.Embedding(vocab_size, config.embedding_dim)
            input_size = config.embedding_dim
        else:
            self.embed = None
            input_size = vocab_size
        self.rnn = CELLS[config.cell](input_size, config.hidden_size, num_layers=config.layers, batch_first=True)
        self.head = nn.Linear(config.hidden_size, vocab_size)

    @property
    def device(self) -> torch.device:
        """Where the weights live: inputs and states are built there."""
        return self.head.weight.device

    @property
    def is_lstm(self) -> bool:
        """True for an LSTM, whose state is (h, c) rather than (h,)."""
        return self.config.cell == "lstm"

    def init_state(self, batch: int = 1) -> State:
        """A fresh state: all zeros, one (layers, batch, hidden) tensor per state part."""
        weight = self.head.weight
        zeros = torch.zeros(self.config.layers, batch, self.config.hidden_size, device=weight.device, dtype=weight.dtype)
        return (zeros, zeros.clone()) if self.is_lstm else (zeros,)

    def inputs(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, time) ids -> (batch, time, input_size) vectors the cells read."""
        if self.embed is not None:
            return self.embed(ids)
        return F.one_hot(ids, len(self.vocab)).to(self.head.weight.dtype)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """(batch, time) ids and an optional state -> (batch, time, vocab) logits and the new state."""
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (batch, time), got {tuple(ids.shape)}")
        return self.read(self.inputs(ids), state)

    def read(self, vectors: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """(batch, time, input_size) input vectors -> logits and state; what forward() runs on its
        one-hot or embedded ids, open to callers that change the inputs (saliency, occlusion)."""
        if state is None:
            state = self.init_state(vectors.shape[0])
        outputs, new_state = self.rnn(vectors, state if self.is_lstm else state[0])  # (batch, time, hidden)
        logits = self.head(outputs)  # (batch, time, vocab)
        return logits, (tuple(new_state) if self.is_lstm else (new_state,))

    def num_parameters(self) -> int:
        """Weights and biases in all, as a model card counts them."""
        return sum(p.numel() for p in self.parameters())

    def to_torch(self) -> tuple[nn.RNNBase, nn.Linear, list[str]]:
        """This model as the course's code builds one: ``(rnn, head, chars)``, copies of the
        weights in a plain nn.RNN/nn.LSTM/nn.GRU (batch_first) and nn.Linear, and the
        vocabulary in the model's order. See charmodels.interop.to_torch."""
        # interop builds on this module, so it is imported on use
        from .interop import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(cls, rnn: nn.RNNBase, head: nn.Linear, chars) -> CharModel:
        """A CharModel with the weights of the course's one-hot nn.RNN/nn.LSTM/nn.GRU and
        nn.Linear; `chars` in the course's order (its ``list(set(text))`` or ``char_dic``),
        kept as given. See charmodels.interop.from_torch."""
        from .interop import from_torch

        return from_torch(rnn, head, chars)

    # The Hugging Face conventions (huggingface_hub's PyTorchModelHubMixin layout); charmodels.hub
    # says why CharModel does not inherit the mixin. hub builds on this module: imported on use.

    def save_pretrained(self, folder: str | os.PathLike, **options) -> Path:
        """model.safetensors (this model's checkpoint), config.json, README.md (its model card) and
        loss.png in `folder`; options: repo_id, license, language. See charmodels.hub.save_pretrained."""
        from .hub import save_pretrained

        return save_pretrained(self, folder, **options)

    @classmethod
    def from_pretrained(cls, repo_or_folder: str | os.PathLike, **options) -> CharModel:
        """A model from a folder written by save_pretrained or a Hub repo ``owner/name`` (strict:
        every weight checked); options: revision. See charmodels.hub.from_pretrained."""
        from .hub import from_pretrained

        return from_pretrained(repo_or_folder, **options)

    def push_to_hub(self, repo_id: str, **options) -> str:
        """Write this model's folder (hub/<name>), then upload it to `repo_id`; the commit URL.
        Options: folder, private, token, commit_message, license, language. See charmodels.hub.push_to_hub."""
        from .hub import push_to_hub

        return push_to_hub(self, repo_id, **options)
