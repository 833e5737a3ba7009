"""The built-in corpora, copied verbatim from the course materials (``seeds/``).

Text is data: typographic apostrophes, leading spaces and the seeds' typos are kept
exactly as the seed documents have them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .errors import CharmodelsError


@dataclass(frozen=True)
class Corpus:
    """A text to train on or measure against, with where it comes from.

    Fields:
        name: a short identifier, used in checkpoint names (``<name>-<cell>``).
        text: the exact text.
        source: where it comes from (a seed document, "user text", a file name).
        lines: False: the text is one sequence, read from start to end. True: each line is
            its own sequence, read from a fresh state and ended by a newline (see `sequences`).
    """

    name: str
    text: str
    source: str
    lines: bool = False

    @property
    def sha256(self) -> str:
        """The SHA-256 of the text's UTF-8 bytes: how a checkpoint names the text it was trained on."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def sequences(self) -> list[str]:
        r"""What training reads: ``[text]``, or with `lines` each line that is not empty, ending in a newline.

        Every line ends in a newline, the last one too, whether or not the text ends with one,
        so a model learns where each line stops: ``"i like dog\nyou hate milk"`` and the same text
        with a final newline both give ``["i like dog\n", "you hate milk\n"]``. Empty lines (a
        final newline, or blank lines between) give nothing to predict and are left out.
        """
        if self.lines:
            return [line + "\n" for line in self.text.split("\n") if line]
        return [self.text]

    def prime_length(self, sequence: str) -> int:
        """How many leading characters of a sequence are given, not predicted.

        A plain corpus is primed with its first character. A corpus of lines is
        primed with the first two words and a space (``you love `` -> ``milk``),
        the way seed 003 asks for the third word.
        """
        if not self.lines:
            return 1
        words = sequence.split(" ")
        if len(words) < 3:
            return 1
        return len(words[0]) + len(words[1]) + 2


_ANTHEM = "\n".join(
    [
        "O say can you see, by the dawn\u2019s early light,",
        "What so proudly we hail\u2019d at the twilight\u2019s last gleaming,",
        "Whose broad stripes and bright stars through the perilous fight",
        "O\u2019er the ramparts we watch\u2019d were so gallantly streaming?",
        "And the rocket\u2019s red glare, the bombs bursting in air,",
        "Gave proof through the night that our flag was still there,",
        "O say does that star-spangled banner yet wave",
        "O\u2019er the land of the free and the home of the brave?",
    ]
)

_PETS = "\n".join(
    ["i like dog", "i love coffee", "i hate milk", "you like cat", "you love milk", "you hate coffee"]
)

_TSINGTAO = (
    "나는 한국 사람이고, 중국 칭다오에 아주 오래 살다가 지금은 서울에 살고 있어. ... "
    "어쨎든, 미국으로 유학을 다녀왔지만 영어는 잘 못해, 하지만 중국어는 잘해!"
)

_ALL = [
    Corpus(
        "goethe",
        "Knowing is not enough; we must apply. Willing is not enough; we must do",
        "seed 000 (Seminar 7: RNN and LSTM), the CharRNN example",
    ),
    Corpus("anthem", _ANTHEM, "seed 000 (Seminar 7: RNN and LSTM), the CharLSTM example"),
    Corpus(
        "seoul",
        " seoul is the capital of south korea",
        "seed 001 (character prediction with an RNN), with its leading space",
    ),
    Corpus("hihello", "hihello", "seed 002 (RNN basics), the hihello example"),
    Corpus("pets", _PETS, "seed 003 (LSTM), the TextLSTM sentences", lines=True),
    Corpus(
        "avengers",
        "We are going to watch Avengers End Game",
        "seed 004 (RNN and LSTM), the sentence the model learns to output",
    ),
    Corpus(
        "boat",
        "The boat is on the water. A sailor is driving that.",
        "seed 002 (RNN basics), its long-term-dependency example",
    ),
    Corpus("tsingtao", _TSINGTAO, "seed 004 (RNN and LSTM), its Korean long-term-dependency example"),
]

CORPORA: dict[str, Corpus] = {corpus.name: corpus for corpus in _ALL}


def corpus_from_text(name: str, text: str, source: str = "user text") -> Corpus:
    """A user's own text as a corpus; CharmodelsError ("corpus_name", "text_too_short") for
    a name that cannot be part of a file name or a text too short to learn from."""
    if not name or not name.replace("_", "").replace(".", "").isalnum():
        raise CharmodelsError("corpus_name", got=repr(name))
    if len(text) < 2:
        raise CharmodelsError("text_too_short")
    return Corpus(name, text, source)


def as_corpus(text: str | Corpus, lines: bool = False) -> Corpus:
    """A Corpus as given, or a plain text as an anonymous corpus.

    A string that is the name of a built-in corpus but not its text ("goethe") is refused:
    it would silently train on, or score, the six letters of the name.
    """
    if isinstance(text, Corpus):
        return text
    if not isinstance(text, str):
        raise CharmodelsError("not_text", name="text", got=type(text).__name__)
    if text in CORPORA and CORPORA[text].text != text:
        raise CharmodelsError("text_expected", got=text)
    return Corpus("text", text, "", lines)
