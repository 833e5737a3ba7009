"""Texts as the tensors training reads: whole sequences, or parallel streams of a long text.

- `encode_corpus`: a short corpus as padded rows, one per sequence (the whole text, or
  each line), with the positions that are trained on and the ones the quality measures count.
- `split_text` and `Streams`: a long text's last share held out for validation, and the
  rest cut into `batch_size` parallel streams read window by window (truncated BPTT, as
  char-rnn does it). The text is encoded once as int32 ids; one-hot vectors exist for one
  batch at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .corpora import Corpus
from .vocab import Vocab


@dataclass(frozen=True)
class Batch:
    """A corpus as padded tensors: row b is sequence b, inputs[t] predicts targets[t]."""

    inputs: torch.Tensor  # (batch, time) ids read
    targets: torch.Tensor  # (batch, time) ids to predict
    valid: torch.Tensor  # (batch, time) bool: a real position, not padding (trained on)
    counted: torch.Tensor  # (batch, time) bool: a position the quality measures count
    first: list[str]  # each sequence's first character, to write prediction strings


def encode_corpus(corpus: Corpus, vocab: Vocab) -> Batch:
    sequences = corpus.sequences()
    ids = [vocab.encode(s) for s in sequences]
    width = max(len(s) for s in ids) - 1
    inputs = torch.zeros(len(ids), width, dtype=torch.long)
    targets = torch.zeros(len(ids), width, dtype=torch.long)
    valid = torch.zeros(len(ids), width, dtype=torch.bool)
    counted = torch.zeros(len(ids), width, dtype=torch.bool)
    for row, (text, seq) in enumerate(zip(sequences, ids)):
        n = len(seq) - 1
        inputs[row, :n] = torch.tensor(seq[:-1])
        targets[row, :n] = torch.tensor(seq[1:])
        valid[row, :n] = True
        counted[row, corpus.prime_length(text) - 1 : n] = True
    return Batch(inputs, targets, valid, counted, [s[0] for s in sequences])


@dataclass(frozen=True)
class Split:
    vocab: Vocab  # from the whole text
    train: torch.Tensor  # (n_train,) int32 ids: the text before the held-out part
    val: torch.Tensor  # (n_val,) int32 ids: the last val_fraction of the text


def encode_ids(text: str, vocab: Vocab) -> torch.Tensor:
    """The text as a 1-D int32 tensor of vocabulary ids, without a Python list per character."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.array([ord(c) for c in vocab.chars], dtype=np.uint32)  # sorted: vocab order is code-point order
    ids = np.searchsorted(table, codes)
    missing = (ids >= len(table)) | (table[np.minimum(ids, len(table) - 1)] != codes)
    if missing.any():
        vocab.encode(text)  # raises UnknownCharacterError naming the characters
    return torch.from_numpy(ids.astype(np.int32))


def split_text(text: str, val_fraction: float) -> Split:
    """The whole text's vocabulary; the last `val_fraction` held out, the rest to train on."""
    if len(text) < 4:
        raise ValueError("a long text needs at least 4 characters: some to train on, some to hold out")
    codes = np.unique(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))
    vocab = Vocab(chr(c) for c in codes)
    ids = encode_ids(text, vocab)
    n_val = max(2, round(len(ids) * val_fraction))  # at least one character to read and one to predict
    if len(ids) - n_val < 2:
        raise ValueError(f"the text ({len(ids):,} characters) is too short to hold out {val_fraction:.0%} of it")
    return Split(vocab, ids[: len(ids) - n_val], ids[len(ids) - n_val :])


class Streams:
    """The training ids as `batch_size` parallel streams read window by window (char-rnn's way).

    Stream b predicts characters b*L+1 .. b*L+L of the training part, L = (n - 1) // batch_size;
    window w of every stream covers its positions w*seq_len .. (w+1)*seq_len - 1 (the last
    window may be shorter).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int):
        self.length = (len(ids) - 1) // batch_size  # characters each stream predicts
        if self.length < 1:
            raise ValueError(
                f"the training part has {len(ids):,} characters, too few for {batch_size} streams: lower the batch size"
            )
        used = batch_size * self.length
        self.inputs = ids[:used].view(batch_size, self.length)  # (batch, L) views: no copy of the text
        self.targets = ids[1 : used + 1].view(batch_size, self.length)
        self.seq_len = seq_len
        self.windows = math.ceil(self.length / seq_len)  # steps in one epoch

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, time) int64 inputs and targets of window `index` (0 .. windows - 1)."""
        if not 0 <= index < self.windows:
            raise IndexError(f"window {index} out of 0..{self.windows - 1}")
        cols = slice(index * self.seq_len, min((index + 1) * self.seq_len, self.length))
        return self.inputs[:, cols].long(), self.targets[:, cols].long()
