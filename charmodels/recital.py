"""Memory marked in samples: which stretches of a generated text the model recites from its
training text, and which it invents.

A character is *recited* when it lies inside a stretch of at least `min_length` characters
(8 by default) of the text that occurs verbatim in the training text; every other character
is *invented*. (Two recited stretches that touch may come from different places of the
training text: each character's own stretch is verbatim, the run of them need not be.) A
text shorter than `min_length` is all invented: it cannot hold such a stretch.

Greedy decoding of a model that learned its text by heart recites; a higher temperature
invents more (`sample_and_mark` shows it for one setting).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import checks
from .checkpoint import as_model, corpus_of
from .corpora import Corpus
from .errors import CharmodelsError
from .model import CharModel
from .sampling import generate

MIN_LENGTH = 8  # characters a verbatim stretch needs to count as recited
MAX_MIN_LENGTH = 1_000
RECITED, INVENTED, PROMPT = "recited", "invented", "prompt"  # Span.kind

__all__ = ["INVENTED", "MIN_LENGTH", "PROMPT", "RECITED", "Recital", "Span", "mark_recited", "sample_and_mark"]


@dataclass(frozen=True)
class Span:
    """A run of characters of one kind: ``text[start:end]``."""

    start: int
    end: int
    kind: str  # RECITED, INVENTED, or PROMPT (the given start, not counted in the shares)
    text: str


@dataclass(frozen=True)
class Recital:
    """A text marked recited and invented.

    Fields:
        text: the text marked (a prompt, if any, then what was generated).
        spans: the text cut into runs of one kind, in order; their texts join to `text`.
        recited: characters marked recited, after the prompt.
        invented: characters marked invented, after the prompt.
        recited_share, invented_share: their shares of the characters after the prompt (0 when none).
        min_length: the verbatim stretch a character needs to count as recited.
    """

    text: str
    spans: list[Span]
    recited: int
    invented: int
    recited_share: float
    invented_share: float
    min_length: int

    def to_dict(self) -> dict:
        return {"text": self.text, "spans": [[s.start, s.end, s.kind] for s in self.spans], "recited": self.recited,
                "invented": self.invented, "recited_share": self.recited_share,
                "invented_share": self.invented_share, "min_length": self.min_length}


def mark_recited(text: str, training_text: str | Corpus, min_length: int = MIN_LENGTH, prompt_length: int = 0) -> Recital:
    """Mark each character of `text` recited (inside a stretch of at least `min_length` characters
    found verbatim in `training_text`) or invented.

    prompt_length: the first characters of `text` were given, not generated: they may belong to a
        recited stretch with what follows, but are marked PROMPT and left out of the shares.
    Raises CharmodelsError ("not_text", "not_whole").
    """
    text = checks.text("text", text)
    training = training_text.text if isinstance(training_text, Corpus) else checks.text("training_text", training_text)
    k = checks.whole("min_length", min_length, 1, MAX_MIN_LENGTH)
    prompt_length = checks.whole("prompt_length", prompt_length, 0, len(text))
    stretches = {training[i : i + k] for i in range(len(training) - k + 1)}  # every verbatim stretch of k
    cover = [0] * (len(text) + 1)  # +1 at a found stretch's start, -1 after its end
    for i in range(len(text) - k + 1):
        if text[i : i + k] in stretches:
            cover[i] += 1
            cover[i + k] -= 1
    kinds, depth = [], 0
    for i in range(len(text)):
        depth += cover[i]
        kinds.append(PROMPT if i < prompt_length else RECITED if depth > 0 else INVENTED)
    spans: list[Span] = []
    for i, kind in enumerate(kinds):
        if spans and spans[-1].kind == kind:
            last = spans[-1]
            spans[-1] = Span(last.start, i + 1, kind, text[last.start : i + 1])
        else:
            spans.append(Span(i, i + 1, kind, text[i]))
    recited, invented = kinds.count(RECITED), kinds.count(INVENTED)
    counted = recited + invented
    return Recital(text, spans, recited, invented, recited / counted if counted else 0.0,
                   invented / counted if counted else 0.0, k)


def sample_and_mark(
    model: CharModel | str | os.PathLike,
    prompt: str,
    length: int,
    temperature: float = 0.0,
    seed: int | None = None,
    min_length: int = MIN_LENGTH,
    training_text: str | Corpus | None = None,
) -> Recital:
    """Generate `length` characters after `prompt` (charmodels.generate, its checks and meaning of
    temperature and seed) and mark them against the training text (default: the one the
    checkpoint carries; CharmodelsError "recital_no_training_text" when it carries none)."""
    model = as_model(model)
    if training_text is None:
        training_text = corpus_of(model)
        if training_text is None:
            raise CharmodelsError("recital_no_training_text")
    steps = generate(model, prompt, length, temperature=temperature, seed=seed)
    written = prompt + "".join(step.char for step in steps)
    return mark_recited(written, training_text, min_length, prompt_length=len(prompt))
