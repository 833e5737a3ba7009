"""Reading a prompt and writing a continuation, one character at a time.

The recurrent state is carried from step to step: the prompt is read once, then each
new character costs one step of the cell, never a re-read of everything before it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .engine import Stepper
from .model import CharModel

MAX_LENGTH = 10_000  # characters one generate() call may write
MAX_PROMPT = 1_000_000  # characters a prompt may have
MAX_TEMPERATURE = 10.0  # beyond this every distribution is flat noise


@dataclass(frozen=True)
class Step:
    """One generated character and where it came from."""

    char: str  # the character written
    index: int  # its id in the vocabulary
    prob: float  # the probability the model gave it (from `model_dist`: with greedy decoding `dist` is all on it)
    dist: np.ndarray  # (vocab,) the distribution it was drawn from (after temperature/top-k/top-p)
    model_dist: np.ndarray  # (vocab,) the model's own softmax, before any reshaping
    chars: tuple[str, ...]  # the vocabulary, so a distribution can be read as characters

    def top(self, k: int = 10, *, model: bool = False) -> list[tuple[str, float]]:
        return top_chars(self.model_dist if model else self.dist, self.chars, k)


def top_chars(dist: np.ndarray, chars: tuple[str, ...] | list[str], k: int | None = None) -> list[tuple[str, float]]:
    """(char, prob) pairs, most likely first; ties keep vocabulary order."""
    order = np.argsort(-dist, kind="stable")
    if k is not None:
        order = order[:k]
    return [(chars[i], float(dist[i])) for i in order]


def check_prompt(model: CharModel, prompt: str) -> list[int]:
    if not isinstance(prompt, str):
        raise ValueError(f"the prompt must be text, got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("the prompt is empty: give at least one character for the model to read")
    if len(prompt) > MAX_PROMPT:
        raise ValueError(f"the prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT:,}")
    return model.vocab.encode(prompt)  # names any unknown characters


def check_sampling(length: int, temperature: float, top_k: int | None, top_p: float | None) -> None:
    if isinstance(length, bool) or not isinstance(length, int):
        raise ValueError(f"length must be a whole number, got {length!r}")
    if not 0 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be from 0 to {MAX_LENGTH:,}, got {length:,}")
    # `temperature != temperature` tests for NaN: math.isnan(10**400) would raise OverflowError
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or temperature != temperature:
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    if not 0 <= temperature <= MAX_TEMPERATURE:
        try:
            shown = f"{temperature:g}"
        except OverflowError:  # an int too large for a float
            shown = f"about {'-' if temperature < 0 else ''}10^{int(abs(temperature).bit_length() * math.log10(2))}"
        raise ValueError(f"temperature must be from 0 (greedy) to {MAX_TEMPERATURE:g}, got {shown}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a whole number of at least 1 (or None for off), got {top_k!r}")
    if top_p is not None:
        if not isinstance(top_p, (int, float)) or isinstance(top_p, bool) or not 0 < top_p <= 1:
            raise ValueError(f"top_p must be above 0 and at most 1 (or None for off), got {top_p!r}")


@torch.inference_mode()
def _read(model: CharModel, ids: list[int], state=None):
    """Feed ids through the model; return the last position's softmax (float64) and the state."""
    x = torch.tensor([ids], dtype=torch.long)  # (1, time)
    logits, state = model(x, state)  # (1, time, vocab)
    probs = torch.softmax(logits[0, -1].double(), dim=-1)  # (vocab,)
    return probs.numpy(), state


def next_char_probs(model: CharModel, prompt: str) -> list[tuple[str, float]]:
    """The model's distribution over the character after `prompt`, most likely first."""
    probs, _ = _read(model, check_prompt(model, prompt))
    return top_chars(probs, model.vocab.chars)


def reshape(probs: np.ndarray, temperature: float, top_k: int | None, top_p: float | None) -> np.ndarray:
    """The distribution a character is drawn from: temperature, then top-k, then top-p.

    Temperature 0 puts all mass on the most likely character (greedy decoding).
    """
    if temperature == 0:
        out = np.zeros_like(probs)
        out[int(np.argmax(probs))] = 1.0
        return out
    # p ** (1/T), renormalised, is softmax(logits / T); done in log space so tiny T cannot overflow:
    # the maximum is subtracted before dividing, so the top character stays at exp(0) = 1 and a
    # tiny T (1e-310) sends the others to exp(-inf) = 0 instead of -inf - -inf = NaN
    logp = np.log(np.maximum(probs, 1e-300))
    with np.errstate(over="ignore", divide="ignore"):
        logp = (logp - logp.max()) / temperature
    out = np.exp(logp)
    out /= out.sum()
    order = np.argsort(-out, kind="stable")  # most likely first
    keep = np.zeros(out.shape, dtype=bool)
    if top_k is not None:
        keep[order[:top_k]] = True
    else:
        keep[:] = True
    if top_p is not None:
        cumulative = np.cumsum(out[order])
        # the smallest set of top characters whose mass reaches top_p (always at least one)
        cutoff = int(np.searchsorted(cumulative, top_p - 1e-12)) + 1
        nucleus = np.zeros(out.shape, dtype=bool)
        nucleus[order[:cutoff]] = True
        keep &= nucleus
    out = np.where(keep, out, 0.0)
    return out / out.sum()


def generate(
    model: CharModel,
    prompt: str,
    length: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Iterator[Step]:
    """Continue `prompt` by `length` characters, yielding each step as it is made.

    Arguments are checked before anything runs, so a bad call fails at once.
    """
    check_sampling(length, temperature, top_k, top_p)
    ids = check_prompt(model, prompt)
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError):  # numpy refuses 1.5, -1, "abc" with a TypeError or its own wording
        raise ValueError(f"seed must be a whole number from 0 (or None for a random seed), got {seed!r}") from None
    return _steps(model, ids, length, temperature, top_k, top_p, rng)


def _steps(model, ids, length, temperature, top_k, top_p, rng) -> Iterator[Step]:
    chars = tuple(model.vocab.chars)
    probs, state = _read(model, ids)  # the prompt is read once, by torch in one call
    stepper = Stepper(model, state) if length > 1 else None  # then numpy, one character at a time
    for n in range(length):
        if n:
            probs = stepper.step(index)  # one step of the cell
        dist = reshape(probs, temperature, top_k, top_p)
        if temperature == 0:
            index = int(np.argmax(dist))
        else:
            index = int(rng.choice(len(dist), p=dist))
        yield Step(chars[index], index, float(probs[index]), dist, probs, chars)
