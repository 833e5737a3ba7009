"""Reading a prompt and writing a continuation, one character at a time.

The recurrent state is carried from step to step: the prompt is read once, then each
new character costs one step of the cell, never a re-read of everything before it.

One contract for the library, the command line and the app: `check_sampling` checks the
sampling arguments and gives them one meaning everywhere (top_k 0 or None = off, top_p 1
or None = off, seed -1 or None = random); the app calls it with narrower bounds of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from . import checks
from .checkpoint import as_model
from .engine import Stepper
from .errors import CharmodelsError
from .kernels import blas_limit
from .model import CharModel

MAX_LENGTH = 10_000  # characters one generate() call may write
MAX_PROMPT = 1_000_000  # characters a prompt may have
MAX_TEMPERATURE = 10.0  # beyond this every distribution is flat noise
MAX_TOP_K = 0x110000  # every Unicode code point: no vocabulary is larger, so any larger k is "off"
MAX_SEED = 2**63 - 1  # a seed fits a signed 64-bit integer, as JSON clients and numpy hold it


@dataclass(frozen=True)
class Step:
    """One character `generate` wrote, and where it came from.

    Fields:
        char: the character written.
        index: its id in the vocabulary: ``chars[index] == char``.
        prob: the probability the model gave it, ``model_dist[index]``, before temperature,
            top-k or top-p (when greedy, `dist` puts all its mass on it instead).
        dist: (vocab,) float64, the distribution it was drawn from: the model's, reshaped
            by temperature, then top-k, then top-p. Sums to 1.
        model_dist: (vocab,) float64, the model's own softmax at this step. Sums to 1.
        chars: the vocabulary, so a distribution reads as characters: dist[i] belongs to chars[i].
    """

    char: str
    index: int
    prob: float
    dist: np.ndarray
    model_dist: np.ndarray
    chars: tuple[str, ...]

    def top(self, k: int = 10, *, model: bool = False) -> list[tuple[str, float]]:
        """The k most likely (char, prob) pairs of `dist`, or of `model_dist` with model=True."""
        return top_chars(self.model_dist if model else self.dist, self.chars, k)


def top_chars(dist: np.ndarray, chars: tuple[str, ...] | list[str], k: int | None = None) -> list[tuple[str, float]]:
    """(char, prob) pairs, most likely first; ties keep vocabulary order."""
    order = np.argsort(-dist, kind="stable")
    if k is not None:
        order = order[:k]
    return [(chars[i], float(dist[i])) for i in order]


@dataclass(frozen=True)
class SamplingRequest:
    """Sampling arguments as `check_sampling` passed them, with "off" and "random" as None.

    Fields:
        length: characters to write.
        temperature: 0 = greedy (always the most likely character); above 0, characters are
            drawn from softmax(logits / temperature): below 1 sharper, above 1 flatter.
        top_k: draw only from the k most likely characters; None = off.
        top_p: draw only from the fewest most likely characters whose probabilities reach
            top_p (nucleus sampling); None = off.
        seed: seeds the draws, so the same seed writes the same text; None = a fresh random seed.
    """

    length: int
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int | None

    @property
    def greedy(self) -> bool:
        """Temperature 0: no randomness, so top_k, top_p and seed change nothing."""
        return self.temperature == 0


def check_sampling(
    length: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    *,
    max_length: int = MAX_LENGTH,
    max_temperature: float = MAX_TEMPERATURE,
) -> SamplingRequest:
    """Check sampling arguments once, with one meaning everywhere; CharmodelsError names the first bad one.

    length: a whole number from 0 to `max_length`.
    temperature: from 0 (greedy) to `max_temperature`.
    top_k: 0 or None = off, else 1 to MAX_TOP_K.
    top_p: 1 or None = off, else above 0 and below 1.
    seed: -1 or None = random, else 0 to MAX_SEED.

    A whole number may arrive as a float (5.0), as JSON and sliders send it. The library's
    bounds are the defaults; the app passes its own narrower ones.
    """
    length = checks.whole("length", length, 0, max_length)
    temperature = checks.number("temperature", temperature, 0.0, max_temperature)
    if top_k is not None:
        top_k = checks.whole("top_k", top_k, 0, MAX_TOP_K) or None  # 0 = off
    if top_p is not None:
        top_p = checks.number("top_p", top_p, 0.0, 1.0, above_low=True)
        top_p = None if top_p == 1 else top_p  # 1 = off: the whole distribution
    if seed is not None:
        seed = checks.whole("seed", seed, -1, MAX_SEED)
        seed = None if seed == -1 else seed  # -1 = random
    return SamplingRequest(length, temperature, top_k, top_p, seed)


def check_prompt(model: CharModel, prompt: str) -> list[int]:
    """The prompt's ids; CharmodelsError for a prompt that is not text, empty or longer than
    MAX_PROMPT, UnknownCharacterError naming characters the model does not know."""
    checks.text("prompt", prompt)
    if not prompt:
        raise CharmodelsError("empty_prompt")
    if len(prompt) > MAX_PROMPT:
        raise CharmodelsError("prompt_too_long", n=len(prompt), limit=MAX_PROMPT)
    return model.vocab.encode(prompt)


@torch.inference_mode()
def _read(model: CharModel, ids: list[int], state=None):
    """Feed ids through the model; return the last position's softmax (float64, numpy) and the
    state (on the model's device, which may be a GPU)."""
    x = torch.tensor([ids], dtype=torch.long, device=model.device)  # (1, time)
    logits, state = model(x, state)  # (1, time, vocab)
    probs = torch.softmax(logits[0, -1].double(), dim=-1)  # (vocab,)
    return probs.cpu().numpy(), state


def next_char_probs(model: CharModel | str | os.PathLike, prompt: str) -> list[tuple[str, float]]:
    """The model's distribution over the character after `prompt`: (char, probability) for
    every character of the vocabulary, most likely first.

    model: a CharModel, or a checkpoint name or path ("goethe-lstm"), loaded first.
    prompt: checked as for `generate`.
    """
    model = as_model(model)
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
    model: CharModel | str | os.PathLike,
    prompt: str,
    length: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Iterator[Step]:
    """Continue `prompt` by `length` characters, yielding a `Step` for each new character.

    The prompt is read, not repeated: the steps are only the new characters, so the whole
    text is ``prompt + "".join(step.char for step in steps)``. Characters are made as the
    steps are iterated; the arguments are checked at the call, before any is made.

    model: a CharModel, or a checkpoint name or path ("goethe-lstm"), loaded first.
    prompt: at least one character, all in the model's vocabulary (up to MAX_PROMPT).
    length: characters to write, 0 to MAX_LENGTH (10,000).
    temperature: 0 (the default) is greedy: always the most likely character, the same
        text every time. Above 0, up to MAX_TEMPERATURE (10), each character is drawn at
        random from softmax(logits / temperature): below 1 sharper, 1 the model's own
        distribution, above 1 flatter.
    top_k: draw only from the k most likely characters; 0 or None = off.
    top_p: draw only from the fewest most likely characters whose probabilities together
        reach top_p, above 0 and at most 1 (nucleus sampling); 1 or None = off.
    seed: the same seed draws the same text, 0 to MAX_SEED (2**63 - 1); -1 or None = random.

    Temperature comes first, then top-k, then top-p. When greedy, top_k, top_p and seed
    change nothing: the most likely character survives every cut.

    Each Step holds the character (`char`, its vocabulary id `index`), the probability the
    model gave it (`prob`), the distribution it was drawn from (`dist`) beside the model's
    own (`model_dist`), and the vocabulary (`chars`); ``step.top(5)`` lists the five most
    likely characters.

    Raises CharmodelsError naming the first bad argument (the same checks as
    `check_sampling` and `check_prompt`, which the command line and the app use too),
    UnknownCharacterError for prompt characters the model does not know.

    >>> "K" + "".join(step.char for step in generate("goethe-lstm", "K", 20))
    'Knowing is not enough'
    """
    request = check_sampling(length, temperature, top_k, top_p, seed)
    model = as_model(model)
    ids = check_prompt(model, prompt)
    rng = np.random.default_rng(request.seed)  # None: seeded from the operating system's entropy
    return _steps(model, ids, request.length, request.temperature, request.top_k, request.top_p, rng)


def _steps(model, ids, length, temperature, top_k, top_p, rng) -> Iterator[Step]:
    chars = tuple(model.vocab.chars)
    probs, state = _read(model, ids)  # the prompt is read once, by torch in one call
    stepper = Stepper(model, state) if length > 1 else None  # then numpy, one character at a time
    index = -1  # the character written last, which the next step reads
    with blas_limit(1):  # one stream: one BLAS thread (see charmodels.engine); as before once done or closed
        for n in range(length):
            if n:
                probs = stepper.step(index)  # one step of the cell
            dist = reshape(probs, temperature, top_k, top_p)
            if temperature == 0:
                index = int(np.argmax(dist))
            else:
                index = int(rng.choice(len(dist), p=dist))
            yield Step(chars[index], index, float(probs[index]), dist, probs, chars)
