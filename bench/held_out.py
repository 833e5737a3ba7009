"""What the held-out end of a long text asks of a model: where its bits go, and what it would
gain by learning while it reads. Used by bench/shakespeare.py to explain its figure.

- `where_the_bits_go`: each held-out character's surprisal (charmodels.surprise) summed by
  kind: speaker names (a line such as "PROSPERO:") that the training part has, speaker names
  it never has, words it never has, and everything else. Tiny Shakespeare's last 5% holds
  the start of The Tempest, whose speakers never appear before it.
- `dynamic_bpc`: dynamic evaluation (Krause et al., 2018). A copy of the model reads the
  held-out text once, in order, window by window; it predicts a window, is scored on it, and
  only then takes one SGD step on that window's loss. Every character is still predicted
  before the model has seen it, but the model adapts to the text as it goes (new names, a
  new play). It is a different measure from the static one the issue's target and its
  references (char-rnn, nanoGPT) use, so it is reported beside them, never in their place.
"""

from __future__ import annotations

import copy
import math
import re

import torch
import torch.nn.functional as F

from charmodels.model import CharModel
from charmodels.surprise import surprisal

SPEAKER = re.compile(r"^([A-Z][A-Za-z ]*):$", re.MULTILINE)  # a speaker's line in a play: "KING RICHARD III:"
WORD = re.compile(r"[A-Za-z]+")
KINDS = ("speaker seen in training", "speaker never seen in training", "word never seen in training", "the rest")


def kinds_of(held_out: str, training: str) -> list[int]:
    """The kind (an index into KINDS) of every character of `held_out`."""
    speakers = set(SPEAKER.findall(training))
    words = set(WORD.findall(training))
    kind = [3] * len(held_out)
    for match in SPEAKER.finditer(held_out):
        kind[match.start() : match.end()] = [0 if match.group(1) in speakers else 1] * (match.end() - match.start())
    for match in WORD.finditer(held_out):
        if kind[match.start()] == 3 and match.group(0) not in words:
            kind[match.start() : match.end()] = [2] * (match.end() - match.start())
    return kind


def where_the_bits_go(model: CharModel, held_out: str, training: str) -> dict:
    """The model's bits over `held_out` (read from a fresh state, every character after the
    first predicted) by kind: {kind: {"chars", "bits", "share", "bpc"}}, plus "bpc" (all) and
    "bpc_if_new_speakers_cost_as_known" (the unseen speakers' characters priced at the seen
    speakers' mean: what a model that already knew the new names might score)."""
    bits = torch.from_numpy(surprisal(model, held_out, training).model.bits)  # one per held_out[1:]
    kind = torch.tensor(kinds_of(held_out, training)[1:])
    total = float(bits.sum())
    parts = {}
    for k, name in enumerate(KINDS):
        chosen = bits[kind == k]
        parts[name] = {
            "chars": len(chosen),
            "bits": round(float(chosen.sum()), 1),
            "share": round(float(chosen.sum()) / total, 4),
            "bpc": round(float(chosen.mean()), 4) if len(chosen) else None,
        }
    repriced = bits.clone()
    if (kind == 0).any():
        repriced[kind == 1] = bits[kind == 0].mean()
    return {**parts, "bpc": round(total / len(bits), 4), "bpc_if_new_speakers_cost_as_known": round(float(repriced.mean()), 4)}


def dynamic_bpc(model: CharModel, ids: torch.Tensor, lr: float, window: int = 50) -> float:
    """Bits per character of `ids` (every id after the first predicted once, from a fresh
    state, the state carried) by a copy of `model` that takes one plain SGD step at `lr` on
    each window's loss after scoring it. lr 0 is the static reading; `model` is never changed."""
    reader = copy.deepcopy(model).float().cpu()
    reader.train()  # gradients; the module itself has no dropout (training.fit sets it only while fitting)
    optimizer = torch.optim.SGD(reader.parameters(), lr=lr)
    ids = ids.long()
    state, nats, n = None, 0.0, len(ids) - 1
    for start in range(0, n, window):
        inputs = ids[start : min(start + window, n)][None]
        targets = ids[start + 1 : start + 1 + inputs.shape[1]]
        logits, state = reader(inputs, state)
        loss = F.cross_entropy(logits[0], targets)
        nats += loss.item() * len(targets)  # scored before the model learns from it
        if lr:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        state = tuple(s.detach() for s in state)
    return nats / n / math.log(2)
