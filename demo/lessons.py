"""The guided lesson as data: one list of cards, in the order of the seeds' lessons.

Each card sets a view of the page (a `demo.urlstate.View`: text, cell, size, prompt, tab,
step, temperature, ...), names the element to highlight, and says in two or three sentences
what to look at (demo/i18n.py: ``lesson_<key>_title`` and ``lesson_<key>_look``, English and
Korean). A card is a link: ``link(n)`` opens the page on card n, and the page applies
``view_of(n)`` (the card's view over `RESET`, so nothing of the card before leaks into it).

The order follows the seeds: one-hot input (seed 001); the hidden state as memory (001, 002);
the softmax and cross-entropy (001); argmax against sampling and temperature (000, 002);
training, replayed (000); the LSTM's gates and cell state (003); the GRU (004); the long-term
dependency (002, 003, 004): gradient flow, the Memory lab, the course's own recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

from demo.i18n import say
from demo.service import DEFAULT_PROMPTS, LONG_CONTEXT_EXAMPLE
from demo.urlstate import View, build

TOPICS = ("one_hot", "memory", "softmax", "sampling", "training", "lstm", "gru", "long_term")
# The page's sampling settings as it opens (demo/app.py): a card that does not set them gets these.
RESET = View(temperature=0.0, top_k=0, top_p=1.0, seed=0)
# Elements a card may highlight, each an elem_id of demo/app.py (tests/test_lessons.py checks them);
# PLANNED_IDS: ids a card may name before the page has them (none now).
PAGE_IDS = ("cm-bars", "cm-temperature", "cm-snapshot", "cm-loss-plot", "cm-lab-plot", "cm-heat", "cm-prompt", "cm-flow",
            "cm-surprise", "cm-recital", "cm-course", "cm-explain-input", "cm-explain-card", "cm-explain-diagram")
PLANNED_IDS: tuple[str, ...] = ()
HIHELLO = "hihell"  # hihello's models predict the o: the second l is where memory shows
SHAKESPEARE = DEFAULT_PROMPTS["shakespeare"]
GOETHE_TYPO = "Knowing is not enoguh; we must apply."  # a swapped "ug": the surprise lights up
LONG = LONG_CONTEXT_EXAMPLE[1]  # "... Willing is not enough; we must " -> d, decided 28 characters back


@dataclass(frozen=True)
class Lesson:
    """One card: its i18n key, the seeds' topic it belongs to, the view it sets, what it highlights."""

    key: str  # lesson_<key>_title, lesson_<key>_look in demo/i18n.py
    topic: str  # one of TOPICS
    view: View
    highlight: str  # an elem_id of the page


LESSONS: tuple[Lesson, ...] = (
    Lesson("one_hot", "one_hot",
           View(text="hihello", cell="rnn", size=2, prompt=HIHELLO, tab="inside", step=1), "cm-explain-input"),
    Lesson("memory", "memory",
           View(text="hihello", cell="rnn", size=2, prompt=HIHELLO, tab="inside", step=6), "cm-explain-card"),
    Lesson("softmax", "softmax",
           View(text="shakespeare", cell="lstm", size=128, prompt=SHAKESPEARE, tab="inside", step=len(SHAKESPEARE),
                temperature=1.0), "cm-explain-card"),
    Lesson("cross_entropy", "softmax",
           View(text="goethe", cell="lstm", size=128, prompt=GOETHE_TYPO, tab="time"), "cm-surprise"),
    Lesson("temperature", "sampling",
           View(text="shakespeare", cell="lstm", size=128, prompt=SHAKESPEARE, tab="predict", temperature=1.0, seed=1),
           "cm-temperature"),
    Lesson("recital", "sampling",
           View(text="anthem", cell="lstm", size=128, prompt="O say can you see", tab="time", temperature=1.5, seed=1),
           "cm-recital"),
    Lesson("replay", "training", View(text="goethe", cell="rnn", size=128, tab="card"), "cm-snapshot"),
    Lesson("lstm", "lstm",
           View(text="hihello", cell="lstm", size=4, prompt=HIHELLO, tab="inside", step=6), "cm-explain-diagram"),
    Lesson("gru", "gru",
           View(text="hihello", cell="gru", size=2, prompt=HIHELLO, tab="inside", step=6), "cm-explain-diagram"),
    Lesson("gradient_flow", "long_term",
           View(text="goethe", cell="rnn", size=128, prompt=LONG, tab="inside", step=len(LONG)), "cm-flow"),
    Lesson("lab", "long_term", View(cell="rnn", tab="lab"), "cm-lab-plot"),
    Lesson("course", "long_term", View(text="goethe", cell="rnn", size=128, tab="time"), "cm-course"),
)


def card(n: int) -> Lesson:
    """Card n, from 1 (IndexError outside 1..len(LESSONS): the page's controls stay inside)."""
    if not 1 <= n <= len(LESSONS):
        raise IndexError(n)
    return LESSONS[n - 1]


def view_of(n: int) -> View:
    """What the page shows on card n: the card's view over RESET, with lesson = n."""
    lesson = card(n)
    return View(**{**RESET.set_fields(), **lesson.view.set_fields(), "lesson": n})


def link(n: int, base: str = "") -> str:
    """The link a teacher hands out for card n: ``?lesson=n`` (the page applies the card)."""
    card(n)
    return build(View(lesson=n), base)


def card_markdown(lang: str | None, n: int) -> str:
    """Card n in the page's language: `n / total · title`, then what to look at."""
    lesson = card(n)
    title = say(lang, f"lesson_{lesson.key}_title")
    look = say(lang, f"lesson_{lesson.key}_look")
    heading = say(lang, "lesson_heading", n=n, total=len(LESSONS), title=title)
    return f"### {heading}\n\n{look}"


def choices(lang: str | None) -> list[tuple[str, int]]:
    """The card picker's choices: (`n. title`, n) for a teacher to jump to any card."""
    return [(f"{n}. {say(lang, f'lesson_{lesson.key}_title')}", n) for n, lesson in enumerate(LESSONS, start=1)]
