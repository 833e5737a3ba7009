"""Characters <-> integer ids: the first thing a character-level model needs."""

from __future__ import annotations

import operator
from collections.abc import Iterable


class UnknownCharacterError(ValueError):
    """Text holds characters the model never saw; ``.chars`` lists them."""

    def __init__(self, chars: list[str]):
        self.chars = chars
        shown = ", ".join(describe_char(c) for c in chars)
        super().__init__(f"not in the model's vocabulary: {shown}")


def describe_char(char: str) -> str:
    """A character as a student can read it, even when it is invisible."""
    names = {" ": "space", "\n": "newline", "\t": "tab", "\r": "carriage return"}
    if char in names:
        return names[char]
    if not char.isprintable():
        return f"U+{ord(char):04X}"
    return repr(char)


class Vocab:
    """The sorted set of characters of a text; ids are positions in that order."""

    def __init__(self, chars: Iterable[str]):
        unique = sorted(set(chars))
        if not unique:
            raise ValueError("a vocabulary needs at least one character")
        if any(len(c) != 1 for c in unique):
            raise ValueError("every vocabulary entry must be exactly one character")
        self.chars: list[str] = unique
        self._ids: dict[str, int] = {c: i for i, c in enumerate(unique)}

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(text)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Vocab({''.join(self.chars)!r})"

    def unknown(self, text: str) -> list[str]:
        """The characters of ``text`` outside the vocabulary, each once, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._ids))

    def encode(self, text: str) -> list[int]:
        missing = self.unknown(text)
        if missing:
            raise UnknownCharacterError(missing)
        return [self._ids[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        out = []
        for i in ids:
            try:
                index = operator.index(i)
            except TypeError:
                index = -1
            if not 0 <= index < len(self.chars):
                raise ValueError(f"ids must be integers from 0 to {len(self) - 1}, got {i!r}")
            out.append(self.chars[index])
        return "".join(out)
