"""What "trained" means: the four quality measures of a model on a text, and the validation
bits per character of a model of a long text.

A short text is read whole (or line by line), with the true text as input at every step
(teacher forcing). From that one pass come all four measures of `Metrics`; a model meets
the quality bar when it predicts every character (tf_acc = 1), recites the whole text
greedily from its priming characters (recon = 1), and is confident (min_p >= 0.9).
A long text is measured on its held-out end instead (`held_out_bpc`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
from torch.nn import functional as F

from .checkpoint import as_model
from .corpora import Corpus, as_corpus
from .data import Batch, encode_corpus
from .errors import CharmodelsError
from .model import CharModel
from .vocab import Vocab

CONFIDENT = 0.9  # a model is confident when the right next character always gets at least this
EVAL_STREAMS = 32  # held-out streams read side by side (fixed, so recipes compare on the same reading)
EVAL_CHUNK = 256  # characters of each held-out stream per forward pass
EVAL_WARMUP = 100  # characters each held-out stream reads, uncounted, before its own part


@dataclass(frozen=True)
class Metrics:
    """How well a model knows a text: what `evaluate` returns.

    Counted positions are every character after a sequence's priming ones (the first
    character of a text; the first two words of each line of a corpus of lines).

    Fields:
        tf_acc: teacher-forced accuracy, the share of counted positions where the model's most
            likely next character is the right one while it reads the true text.
        recon: free-run reconstruction, the share of the counted characters that greedy
            generation (temperature 0), primed like training, writes before its first mistake;
            with lines, each line is generated from a fresh state.
        bpc: bits per character, the teacher-forced cross-entropy in bits averaged over
            counted positions (0 = always certain and right; log2(vocabulary size) = guessing).
        min_p: the smallest probability the model gives the right next character at any
            counted position.

    `meets_bar` is the quality bar the shipped checkpoints meet: tf_acc = recon = 1 and min_p >= 0.9.
    """

    tf_acc: float
    recon: float
    bpc: float
    min_p: float

    @property
    def meets_bar(self) -> bool:
        """tf_acc and recon are 100% and min_p is at least CONFIDENT (0.9)."""
        return self.tf_acc == 1.0 and self.recon == 1.0 and self.min_p >= CONFIDENT

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TeacherForced:
    """The measures read from one teacher-forced pass (`teacher_forced`).

    Fields:
        tf_acc, recon, bpc, min_p: as in `Metrics`.
        prediction: each sequence's first character, then the argmax at every position,
            all sequences joined (what training shows as the model's current reading).
    """

    tf_acc: float
    recon: float
    bpc: float
    min_p: float
    prediction: str


def teacher_forced(logits: torch.Tensor, batch: Batch, vocab: Vocab) -> TeacherForced:
    """Score (batch, time, vocab) logits against the batch's targets, without gradients."""
    with torch.no_grad():
        logp = F.log_softmax(logits.double(), dim=-1)  # (batch, time, vocab)
        right = logp.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)  # (batch, time)
        best = logits.argmax(dim=-1)  # (batch, time)
        counted = batch.counted
        n = int(counted.sum())
        if n == 0:
            return TeacherForced(1.0, 1.0, 0.0, 1.0, "")
        hit = best == batch.targets
        tf_acc = float(hit[counted].sum()) / n
        # Greedy free-running feeds its own argmax back as the next input. While each argmax is
        # the text's next character, it reads exactly the text, as teacher forcing does, so both
        # see the same states and argmaxes up to and including the first wrong one: the run of
        # right argmaxes before it, counted here, is what greedy generation reproduces.
        before_first_miss = (counted & ~hit).cumsum(dim=1) == 0  # (batch, time)
        recon = float((counted & before_first_miss).sum()) / n
        bpc = float(-right[counted].sum()) / n / math.log(2)
        min_p = float(right[counted].min().exp())
        rows = []
        for row in range(best.shape[0]):
            length = int(batch.valid[row].sum())
            rows.append(batch.first[row] + vocab.decode(best[row, :length].tolist()))
        return TeacherForced(tf_acc, recon, bpc, min_p, "".join(rows))


@contextmanager
def _evaluating(model: CharModel) -> Iterator[torch.device]:
    """The model in eval mode (no dropout) for the block, then as it was; yields its device."""
    was_training = model.training
    model.eval()
    try:
        yield model.head.weight.device
    finally:
        model.train(was_training)


def evaluate(model: CharModel | str | os.PathLike, text: str | Corpus, lines: bool | None = None) -> Metrics:
    """The four quality measures of `model` on `text` (see `Metrics`), from one teacher-forced pass.

    model: a CharModel, or a checkpoint name or path (``"goethe-lstm"``), loaded first.
    text: a Corpus (``CORPORA["goethe"]``: its own `lines` and priming), or a plain text.
        A str that names a built-in corpus ("goethe") is refused rather than scored as six
        letters: pass ``CORPORA["goethe"]`` for the corpus.
    lines: for a plain text, True reads each line as its own sequence (see
        `Corpus.sequences`); a Corpus brings its own, and a different value is refused.

    Raises CharmodelsError ("text_expected", "lines_conflict", "text_too_short", "no_lines",
    "model_expected") and UnknownCharacterError for characters the model does not know.
    """
    model = as_model(model)
    if isinstance(text, Corpus) and lines is not None and bool(lines) != text.lines:
        raise CharmodelsError("lines_conflict", lines=lines, name=text.name, corpus_lines=text.lines)
    corpus = as_corpus(text, bool(lines))
    batch = encode_corpus(corpus, model.vocab)
    with _evaluating(model) as device, torch.inference_mode():
        logits, _ = model(batch.inputs.to(device))
    scores = teacher_forced(logits.cpu(), batch, model.vocab)
    return Metrics(scores.tf_acc, scores.recon, scores.bpc, scores.min_p)


def held_out_bpc(model: CharModel, ids: torch.Tensor, streams: int = EVAL_STREAMS, chunk: int = EVAL_CHUNK) -> float:
    """Teacher-forced bits per character over `ids` (every character but the first predicted once).

    Read as `streams` side-by-side streams, `chunk` characters at a time with the state
    carried; each stream first reads up to EVAL_WARMUP characters before its part, uncounted.
    """
    n = len(ids) - 1  # characters predicted
    if n < 1:
        raise CharmodelsError("text_too_short")
    streams = min(streams, n)
    per = math.ceil(n / streams)
    rows = []  # (first input position, first counted position, end)
    for b in range(streams):
        start, end = b * per, min(n, (b + 1) * per)
        if start < end:
            rows.append((max(0, start - EVAL_WARMUP), start, end))
    width = max(end - first for first, _, end in rows)
    inputs = torch.zeros(len(rows), width, dtype=torch.int32)
    targets = torch.zeros(len(rows), width, dtype=torch.int32)
    counted = torch.zeros(len(rows), width, dtype=torch.bool)
    for r, (first, start, end) in enumerate(rows):
        inputs[r, : end - first] = ids[first:end]
        targets[r, : end - first] = ids[first + 1 : end + 1]
        counted[r, start - first : end - first] = True
    total = 0.0
    with _evaluating(model) as device, torch.inference_mode():
        state = model.init_state(len(rows))
        for col in range(0, width, chunk):
            x = inputs[:, col : col + chunk].long().to(device)
            y = targets[:, col : col + chunk].long().to(device)
            logits, state = model(x, state)  # (streams, chunk, vocab)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), reduction="none")
            total += float(nll.double()[counted[:, col : col + chunk].reshape(-1).to(device)].sum())
    return total / int(counted.sum()) / math.log(2)
