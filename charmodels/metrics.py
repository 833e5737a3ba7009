"""What "trained" means: teacher-forced accuracy, free-run reconstruction, bits per
character and confidence (DESIGN.md, "Quality")."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch.nn import functional as F

from .corpora import Corpus
from .model import CharModel
from .sampling import generate
from .vocab import Vocab

CONFIDENT = 0.9  # a model is confident when the right next character always gets at least this


@dataclass(frozen=True)
class Metrics:
    tf_acc: float  # share of counted positions whose argmax is the right next character
    recon: float  # share of the text greedy free-running reproduces before its first mistake
    bpc: float  # teacher-forced cross-entropy, bits per character
    min_p: float  # smallest probability given to the right next character

    @property
    def meets_bar(self) -> bool:
        return self.tf_acc == 1.0 and self.recon == 1.0 and self.min_p >= CONFIDENT

    def to_dict(self) -> dict:
        return asdict(self)


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
class TeacherForced:
    tf_acc: float
    bpc: float
    min_p: float
    prediction: str  # each sequence's first character, then the argmax at every position


def teacher_forced(logits: torch.Tensor, batch: Batch, vocab: Vocab) -> TeacherForced:
    """Score (batch, time, vocab) logits against the batch's targets, without gradients."""
    with torch.no_grad():
        logp = F.log_softmax(logits.double(), dim=-1)  # (batch, time, vocab)
        right = logp.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)  # (batch, time)
        best = logits.argmax(dim=-1)  # (batch, time)
        counted = batch.counted
        n = int(counted.sum())
        if n == 0:
            return TeacherForced(1.0, 0.0, 1.0, "")
        tf_acc = float((best == batch.targets)[counted].sum()) / n
        bpc = float(-right[counted].sum()) / n / math.log(2)
        min_p = float(right[counted].min().exp())
        rows = []
        for row in range(best.shape[0]):
            length = int(batch.valid[row].sum())
            rows.append(batch.first[row] + vocab.decode(best[row, :length].tolist()))
        return TeacherForced(tf_acc, bpc, min_p, "".join(rows))


def reconstruction(model: CharModel, corpus: Corpus) -> float:
    """Prime each sequence, decode greedily, and count characters right before the first error."""
    right = total = 0
    for sequence in corpus.sequences():
        prime = corpus.prime_length(sequence)
        rest = sequence[prime:]
        total += len(rest)
        for step, expected in zip(generate(model, sequence[:prime], len(rest)), rest):
            if step.char != expected:
                break
            right += 1
    return right / total if total else 1.0


def evaluate(model: CharModel, text: str | Corpus, lines: bool = False) -> Metrics:
    """All four quality measures of `model` on `text` (a Corpus brings its own `lines`)."""
    corpus = text if isinstance(text, Corpus) else Corpus("text", text, "", lines)
    batch = encode_corpus(corpus, model.vocab)
    with torch.inference_mode():
        logits, _ = model(batch.inputs)
    scores = teacher_forced(logits, batch, model.vocab)
    return Metrics(scores.tf_acc, reconstruction(model, corpus), scores.bpc, scores.min_p)
