"""Texts as the tensors training reads: whole sequences, or parallel streams of a long text.

- `corpus_vocab` and `encode_corpus`: a short corpus as padded rows, one per sequence (the
  whole text, or each line), with the positions that are trained on and the ones the
  quality measures count.
- `split_text` and `Streams`: a long text's last share held out for validation, and the
  rest cut into `batch_size` parallel streams read window by window (truncated BPTT, as
  char-rnn does it). The text is encoded once as int32 ids (`encode_ids`); one-hot vectors
  exist for one batch at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .corpora import Corpus
from .errors import CharmodelsError
from .vocab import Vocab


@dataclass(frozen=True)
class Batch:
    """A corpus as padded tensors: row b is sequence b, and inputs[b, t] is read to predict targets[b, t].

    Fields:
        inputs: (batch, time) int64 ids read.
        targets: (batch, time) int64 ids to predict (the inputs shifted by one).
        valid: (batch, time) bool, a real position rather than padding: what training learns from.
        counted: (batch, time) bool, a position the quality measures count: every valid one
            after the sequence's priming characters (`Corpus.prime_length`).
        first: each sequence's first character, which nothing predicts (for prediction strings).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    valid: torch.Tensor
    counted: torch.Tensor
    first: list[str]


def corpus_vocab(corpus: Corpus) -> Vocab:
    """The vocabulary a model of `corpus` needs: every character of what it reads, sorted.

    For a corpus of lines that includes the newline ending each line, even when the text
    itself has none (one line, no line break).
    """
    return Vocab.from_text("".join(corpus.sequences()))


def encode_corpus(corpus: Corpus, vocab: Vocab) -> Batch:
    """The corpus's sequences (`Corpus.sequences`) as one padded batch, one row each.

    CharmodelsError "text_too_short" for a text of fewer than 2 characters, "no_lines" for a
    corpus of lines with no line that is not empty; UnknownCharacterError for characters
    `vocab` lacks.
    """
    sequences = corpus.sequences()
    if not sequences:
        raise CharmodelsError("no_lines")
    if len(sequences[0]) < 2:  # a line is at least a character and its newline: only a plain text gets here
        raise CharmodelsError("text_too_short")
    ids = [vocab.encode(s) for s in sequences]
    width = max(len(s) for s in ids) - 1
    inputs = torch.zeros(len(ids), width, dtype=torch.long)
    targets = torch.zeros(len(ids), width, dtype=torch.long)
    valid = torch.zeros(len(ids), width, dtype=torch.bool)
    counted = torch.zeros(len(ids), width, dtype=torch.bool)
    for row, (text, seq) in enumerate(zip(sequences, ids)):
        n = len(seq) - 1
        inputs[row, :n] = torch.tensor(seq[:-1], dtype=torch.long)
        targets[row, :n] = torch.tensor(seq[1:], dtype=torch.long)
        valid[row, :n] = True
        counted[row, corpus.prime_length(text) - 1 : n] = True
    return Batch(inputs, targets, valid, counted, [s[0] for s in sequences])


@dataclass(frozen=True)
class Split:
    """A long text's vocabulary and ids, split into the part trained on and the part held out.

    Fields:
        vocab: the whole text's characters, sorted (a character seen only in the held-out part is known).
        train: (n_train,) int32 ids, the text before the held-out part.
        val: (n_val,) int32 ids, the last `val_fraction` of the text.
    """

    vocab: Vocab
    train: torch.Tensor
    val: torch.Tensor


def encode_ids(text: str, vocab: Vocab) -> torch.Tensor:
    """The text as a 1-D int32 tensor of vocabulary ids, without a Python list per character.

    Works for a vocabulary in any order; UnknownCharacterError names characters it lacks.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.array([ord(c) for c in vocab.chars], dtype=np.uint32)  # id -> code point
    order = np.argsort(table)  # searchsorted needs the code points sorted; `order` maps back to ids
    at = np.minimum(np.searchsorted(table[order], codes), len(table) - 1)
    if (table[order][at] != codes).any():
        vocab.encode(text)  # raises UnknownCharacterError naming the characters
    return torch.from_numpy(order[at].astype(np.int32))


def split_text(text: str, val_fraction: float) -> Split:
    """The whole text's vocabulary; the last `val_fraction` held out, the rest to train on.

    CharmodelsError ("long_text_too_short", "hold_out_too_much") when too little would be
    left on either side.
    """
    if len(text) < 4:
        raise CharmodelsError("long_text_too_short")
    codes = np.unique(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))  # sorted, as Vocab.from_text
    vocab = Vocab(chr(c) for c in codes)
    ids = encode_ids(text, vocab)
    n_val = max(2, round(len(ids) * val_fraction))  # at least one character to read and one to predict
    if len(ids) - n_val < 2:
        raise CharmodelsError("hold_out_too_much", n=len(ids), share=f"{val_fraction:.0%}")
    return Split(vocab, ids[: len(ids) - n_val], ids[len(ids) - n_val :])


class Streams:
    """The training ids as `batch_size` parallel streams read window by window (char-rnn's way).

    Stream b predicts characters b*L+1 .. b*L+L of the training part, L = (n - 1) // batch_size;
    window w of every stream covers its positions w*seq_len .. (w+1)*seq_len - 1 (the last
    window may be shorter). CharmodelsError "too_many_streams" when a stream would be empty.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int):
        self.length = (len(ids) - 1) // batch_size  # characters each stream predicts
        if self.length < 1:
            raise CharmodelsError("too_many_streams", n=len(ids), streams=batch_size)
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
