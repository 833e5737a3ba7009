"""Surprise marked in a text: how unexpected each character is to the model, and to two counts.

The model reads the text from a fresh state, with the true text as its input at every step
(teacher forcing, as `charmodels.metrics.evaluate` reads it). For every character after the
first, its surprisal is ``-log2 p(char | everything before it)`` in bits: 0 for a certain
right guess, log2(vocabulary size) for a blind one. Its rank is 1 + the number of characters
the model found strictly more likely (1 = the model's top guess).

Beside the recurrent model, the same text is read by two models of the training text that
have no memory beyond their counts, with add-one (Laplace) smoothing over the model's own
vocabulary, so all three spread their probability over the same characters:

- unigram: ``p(c) = (count(c) + 1) / (N + V)``, N the training text's characters, V the
  vocabulary's size;
- bigram: ``p(c | b) = (count(b c) + 1) / (count(b followed by anything) + V)``, b the
  character before.

Where the recurrent model's surprisal is far below the bigram's, its state carries more than
the last character. Each model's bits per character is the mean surprisal over the same
characters (every character after the first), so the three totals compare directly; the
model's equals `evaluate(model, text).bpc` for the same plain text.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

from .checkpoint import as_model, corpus_of
from .corpora import Corpus
from .errors import CharmodelsError
from .model import CharModel
from .sampling import check_prompt

SMOOTHING = "add-one"  # the n-gram models' smoothing: one extra count for every character of the vocabulary

__all__ = ["SMOOTHING", "Scores", "Surprise", "surprisal"]


@dataclass(frozen=True)
class Scores:
    """One model's reading of the text; arrays have one entry per predicted character (text[1:]).

    Fields:
        name: "model", "unigram" or "bigram".
        probs: the probability the model gave each character.
        bits: its surprisal, -log2 of that probability.
        ranks: 1 + the number of characters the model found strictly more likely (1 = top guess).
        bpc: bits per character, the mean of `bits`.
    """

    name: str
    probs: np.ndarray
    bits: np.ndarray
    ranks: np.ndarray
    bpc: float

    def to_dict(self) -> dict:
        return {"name": self.name, "probs": self.probs.tolist(), "bits": self.bits.tolist(),
                "ranks": self.ranks.tolist(), "bpc": self.bpc}


@dataclass(frozen=True)
class Surprise:
    """A text read by the recurrent model and by a unigram and a bigram model of its training text.

    Fields:
        text: the text; its first character is read, not predicted.
        chars: the predicted characters, ``list(text[1:])``: `model.bits[i]` belongs to `chars[i]`.
        model, unigram, bigram: each model's Scores.
        vocab: the characters every model chooses among (the model's vocabulary).
        smoothing: the n-gram models' smoothing (SMOOTHING).
        training_chars: how many characters of training text the n-gram models counted.
    """

    text: str
    chars: list[str]
    model: Scores
    unigram: Scores
    bigram: Scores
    vocab: list[str]
    smoothing: str
    training_chars: int

    def to_dict(self) -> dict:
        return {"text": self.text, "chars": self.chars, "model": self.model.to_dict(),
                "unigram": self.unigram.to_dict(), "bigram": self.bigram.to_dict(), "vocab": self.vocab,
                "smoothing": self.smoothing, "training_chars": self.training_chars}


def _scores(name: str, logp: np.ndarray, ids: np.ndarray) -> Scores:
    """(n, vocab) natural-log distributions, (n,) the ids that came -> Scores."""
    chosen = logp[np.arange(len(ids)), ids]  # (n,)
    ranks = 1 + (logp > chosen[:, None]).sum(axis=1)
    bits = -chosen / math.log(2)  # from the log-probability: no underflow to 0 for a character far down the list
    return Scores(name, np.exp(chosen), bits, ranks.astype(np.int64), float(bits.mean()))


def surprisal(model: CharModel | str | os.PathLike, text: str, training_text: str | Corpus | None = None) -> Surprise:
    """The surprisal (bits) and rank of every character of `text` after the first, under the model
    and under a unigram and a bigram model of the training text (add-one smoothing), with each
    one's bits per character.

    model: a CharModel, or a checkpoint name or path ("goethe-lstm"), loaded first.
    text: at least 2 characters, all in the model's vocabulary.
    training_text: the text the n-gram models count (a Corpus of lines counts each line with its
        newline, as training read it); default the text the checkpoint carries.

    Raises UnknownCharacterError (code "unknown_chars") naming every character of `text` (or of
    the training text) the model does not know: no model here has a probability for it, so it is
    refused rather than given a made-up surprisal. CharmodelsError "text_too_short" for fewer
    than 2 characters, "surprise_no_training_text" when the checkpoint carries no training text
    and none is given, "not_text", "empty_prompt", "prompt_too_long" as for a prompt.
    """
    model = as_model(model)
    ids = check_prompt(model, text)
    if len(ids) < 2:
        raise CharmodelsError("text_too_short")
    if training_text is None:
        training_text = corpus_of(model)
        if training_text is None:
            raise CharmodelsError("surprise_no_training_text")
    sequences = training_text.sequences() if isinstance(training_text, Corpus) else [training_text]
    if not isinstance(sequences[0], str):
        raise CharmodelsError("not_text", name="training_text", got=type(sequences[0]).__name__)
    vocab = model.vocab
    size = len(vocab)
    counted = [vocab.encode(sequence) for sequence in sequences]  # UnknownCharacterError names what it lacks

    unigram = np.ones(size)  # add-one
    bigram = np.ones((size, size))  # [before, after]
    for seq in counted:
        for i, n in Counter(seq).items():
            unigram[i] += n
        for (a, b), n in Counter(pairwise(seq)).items():
            bigram[a, b] += n
    unigram = np.log(unigram / unigram.sum())
    bigram = np.log(bigram / bigram.sum(axis=1, keepdims=True))

    read = torch.tensor([ids], device=model.device)  # (1, n)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits, _ = model(read)  # (1, n, vocab)
            logp = torch.log_softmax(logits[0, :-1].double(), dim=-1).cpu().numpy()  # (n - 1, vocab)
    finally:
        model.train(was_training)
    came = np.array(ids[1:])
    before = np.array(ids[:-1])
    return Surprise(
        text=text,
        chars=list(text[1:]),
        model=_scores("model", logp, came),
        unigram=_scores("unigram", np.broadcast_to(unigram, logp.shape), came),
        bigram=_scores("bigram", bigram[before], came),
        vocab=list(vocab.chars),
        smoothing=SMOOTHING,
        training_chars=sum(len(seq) for seq in counted),
    )
