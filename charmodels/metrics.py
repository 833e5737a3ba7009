"""What "trained" means: teacher-forced accuracy, free-run reconstruction, bits per
character and confidence (DESIGN.md, "Quality")."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch.nn import functional as F

from .corpora import Corpus
from .data import Batch, encode_corpus
from .model import CharModel
from .sampling import generate
from .vocab import Vocab

CONFIDENT = 0.9  # a model is confident when the right next character always gets at least this
EVAL_STREAMS = 32  # held-out streams read side by side (fixed, so recipes compare on the same reading)
EVAL_CHUNK = 256  # characters of each held-out stream per forward pass
EVAL_WARMUP = 100  # characters each held-out stream reads, uncounted, before its own part


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


def held_out_bpc(model: CharModel, ids: torch.Tensor, streams: int = EVAL_STREAMS, chunk: int = EVAL_CHUNK) -> float:
    """Teacher-forced bits per character over `ids` (every character but the first predicted once).

    Read as `streams` side-by-side streams, `chunk` characters at a time with the state
    carried; each stream first reads up to EVAL_WARMUP characters before its part, uncounted.
    """
    n = len(ids) - 1  # characters predicted
    if n < 1:
        raise ValueError("held-out text needs at least 2 characters")
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
    device = model.head.weight.device
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.inference_mode():
            state = model.init_state(len(rows))
            for col in range(0, width, chunk):
                x = inputs[:, col : col + chunk].long().to(device)
                y = targets[:, col : col + chunk].long().to(device)
                logits, state = model(x, state)  # (streams, chunk, vocab)
                nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), reduction="none")
                total += float(nll.double()[counted[:, col : col + chunk].reshape(-1).to(device)].sum())
    finally:
        model.train(was_training)
    return total / int(counted.sum()) / math.log(2)


# ---- progress and history -------------------------------------------------------------
