"""Characters <-> integer ids: the first thing a character-level model needs.

A vocabulary is a list of characters; a character's id is its position in that list, and
that order is the order of the model's one-hot inputs and output logits. `Vocab(chars)`
keeps the order it is given (course code often builds it with ``list(set(text))``, an
order that changes from run to run, so weights moved between projects need their
vocabulary moved in the same order). `Vocab.from_text(text)` is the one place that sorts:
the text's distinct characters in code-point order, the vocabulary charmodels trains with.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from .checks import shown
from .errors import CharmodelsError


def describe_char(char: str) -> str:
    """A character as a student can read it, even when it is invisible."""
    names = {" ": "space", "\n": "newline", "\t": "tab", "\r": "carriage return"}
    if char in names:
        return names[char]
    if not char.isprintable():
        return f"U+{ord(char):04X}"
    return repr(char)


def describe_chars(chars: Iterable[str]) -> str:
    """Characters as `describe_char` shows them, comma-separated."""
    return ", ".join(describe_char(c) for c in chars)


class UnknownCharacterError(CharmodelsError):
    """Text holds characters the model never saw; ``.chars`` lists them, each once, in order
    of appearance (code "unknown_chars")."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        super().__init__("unknown_chars", shown=describe_chars(self.chars), chars=self.chars)


class Vocab:
    """The characters a model reads and writes; a character's id is its position in `chars`.

    `Vocab(chars)` keeps the order given: ``Vocab("hleo").chars == ['h', 'l', 'e', 'o']``.
    Each character may appear once; a repeat is refused, since it would leave two ids for one
    character. `Vocab.from_text(text)` gives the sorted set of a text's characters instead.

    Raises CharmodelsError ("vocab_empty", "vocab_not_chars", "vocab_repeats") for an empty
    list, an entry that is not a single character, or a repeated character.
    """

    def __init__(self, chars: Iterable[str]):
        entries = list(chars)
        if not entries:
            raise CharmodelsError("vocab_empty")
        for entry in entries:
            if not isinstance(entry, str) or len(entry) != 1:
                raise CharmodelsError("vocab_not_chars", got=shown(entry))
        ids = {c: i for i, c in enumerate(entries)}
        if len(ids) != len(entries):
            repeated = [c for c in ids if entries.count(c) > 1]
            raise CharmodelsError("vocab_repeats", shown=describe_chars(repeated))
        self.chars: list[str] = entries
        self._ids: dict[str, int] = ids

    @classmethod
    def from_text(cls, text: Iterable[str]) -> Vocab:
        """The distinct characters of `text`, sorted by code point: charmodels' own vocabularies."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._ids

    def __eq__(self, other: object) -> bool:
        """Equal when the same characters are in the same order (the order is the ids)."""
        return isinstance(other, Vocab) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Vocab({''.join(self.chars)!r})"

    def unknown(self, text: str) -> list[str]:
        """The characters of ``text`` outside the vocabulary, each once, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._ids))

    def encode(self, text: str) -> list[int]:
        """The ids of `text`'s characters; UnknownCharacterError naming any the vocabulary lacks."""
        missing = self.unknown(text)
        if missing:
            raise UnknownCharacterError(missing)
        return [self._ids[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a sequence of ids (ints, numpy or torch integers); CharmodelsError
        ("bad_ids") for anything that is not an integer id of this vocabulary."""
        out = []
        for i in ids:
            try:
                index = operator.index(i)  # refuses floats, even 2.0: an id is never computed as a float
            except TypeError:
                index = -1
            if not 0 <= index < len(self.chars):
                raise CharmodelsError("bad_ids", high=len(self) - 1, got=shown(i))
            out.append(self.chars[index])
        return "".join(out)
