"""demo/lessons.py: the guided lesson as data. Every card's view is one the page can open (its
checkpoint is shipped, its prompt in that model's vocabulary, its step inside the prompt), every
card is a link, says what to look at in English and Korean, and highlights an element of the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from charmodels import load_checkpoint, next_char_probs, serving
from demo import lessons, service, urlstate
from demo.i18n import TABLES, say
from demo.lessons import LESSONS, TOPICS, card, card_markdown, link, view_of
from demo.urlstate import View, parse

APP = (Path(__file__).resolve().parent.parent / "demo" / "app.py").read_text(encoding="utf-8")
NUMBERS = list(range(1, len(LESSONS) + 1))


def test_the_cards_follow_the_seeds_order():
    topics = [lesson.topic for lesson in LESSONS]
    assert set(topics) == set(TOPICS)
    firsts = sorted(set(topics), key=topics.index)
    assert firsts == list(TOPICS)  # each topic's cards together, the topics in the seeds' order
    assert topics == sorted(topics, key=TOPICS.index)
    assert len({lesson.key for lesson in LESSONS}) == len(LESSONS)


@pytest.mark.parametrize("n", NUMBERS)
def test_each_card_is_a_link_that_opens_its_view(n):
    assert link(n) == f"?lesson={n}"
    assert parse(link(n, "https://example.org/")) == (View(lesson=n), [])
    view = view_of(n)
    assert view.lesson == n
    assert parse(urlstate.build(view)) == (view, [])  # every field valid under the app's bounds


@pytest.mark.parametrize("n", NUMBERS)
def test_each_cards_model_prompt_and_step_are_real(n):
    view = view_of(n)
    if view.text is None:
        return  # the card keeps the page's text (the Memory lab has its own task)
    assert view.text in service.texts() and view.cell in ("rnn", "lstm", "gru")
    checkpoint = urlstate.checkpoint_of(view)
    assert checkpoint in serving.shipped()
    model = load_checkpoint(checkpoint)
    assert model.config.hidden_size == view.size
    if view.prompt is not None:
        assert model.vocab.unknown(view.prompt) == [], (checkpoint, view.prompt)
    if view.step is not None:
        assert view.prompt and 1 <= view.step <= min(len(view.prompt), service.MAX_INSIDE)


@pytest.mark.parametrize("n", NUMBERS)
def test_each_card_speaks_both_languages(n):
    lesson = card(n)
    for part in ("title", "look"):
        key = f"lesson_{lesson.key}_{part}"
        en, ko = TABLES["en"][key], TABLES["ko"][key]
        assert en and ko and en != ko
        assert re.search("[가-힣]", ko) and not re.search("[가-힣]", en)
    look = TABLES["en"][f"lesson_{lesson.key}_look"]
    assert 2 <= look.count(". ") + look.count("? ") + 1 <= 4  # two or three sentences (a formula may add a stop)
    for lang in ("en", "ko"):
        text = card_markdown(lang, n)
        assert text.startswith("### ") and say(lang, f"lesson_{lesson.key}_title") in text
        assert f"{n}" in text.splitlines()[0] and f"{len(LESSONS)}" in text.splitlines()[0]


@pytest.mark.parametrize("n", NUMBERS)
def test_each_card_highlights_an_element_of_the_page(n):
    highlight = card(n).highlight
    assert highlight in lessons.PAGE_IDS + lessons.PLANNED_IDS
    if highlight in lessons.PAGE_IDS:
        assert f'elem_id="{highlight}"' in APP


def test_the_page_ids_are_in_the_page():
    for elem_id in lessons.PAGE_IDS:  # a planned id moves here once demo/app.py has it
        assert f'elem_id="{elem_id}"' in APP
    assert not set(lessons.PAGE_IDS) & set(lessons.PLANNED_IDS)


def test_a_card_does_not_inherit_the_card_before():
    assert view_of(3).temperature == 1.0 and view_of(4).temperature == 0.0
    assert view_of(5).seed == 1 and view_of(7).seed == 0


def test_card_numbers_outside_the_lesson_are_refused():
    for n in (0, len(LESSONS) + 1, -1):
        with pytest.raises(IndexError):
            card(n)


def test_the_picker_lists_every_card_in_the_pages_language():
    ko = lessons.choices("ko")
    assert [n for _, n in ko] == NUMBERS
    assert ko[0][0] == f"1. {say('ko', 'lesson_one_hot_title')}"


def test_what_the_cards_say_is_what_the_models_do():
    """A lesson shown is a lesson measured: the claims of the cards, checked on their models."""
    # memory: after the first l of hihell the model predicts l, after the second o
    tiny = load_checkpoint(urlstate.checkpoint_of(view_of(2)))
    assert next_char_probs(tiny, "hihel")[0][0] == "l" and next_char_probs(tiny, "hihell")[0][0] == "o"
    # softmax: the shakespeare model is unsure: several characters keep a real share
    unsure = load_checkpoint(urlstate.checkpoint_of(view_of(3)))
    top = next_char_probs(unsure, view_of(3).prompt)
    assert top[0][1] < 0.5 and sum(p > 0.05 for _, p in top) >= 3
    # cross-entropy: the typo is the goethe model's biggest surprise
    from charmodels.surprise import surprisal

    read = surprisal(urlstate.checkpoint_of(view_of(4)), view_of(4).prompt)
    worst = max(range(len(read.chars)), key=lambda i: read.model.bits[i])
    assert view_of(4).prompt[worst + 1 - 3 : worst + 3].count("g") >= 1 and read.model.ranks[worst] > 1
    assert read.model.bpc < read.bigram.bpc < read.unigram.bpc
    # gradient flow: the prompt's next character is d, decided 28 characters back (Willing)
    prompt = view_of(10).prompt
    assert prompt.endswith("we must ") and prompt[-28] == "l" and prompt[-31:-24] == "Willing"
    assert next_char_probs(load_checkpoint(urlstate.checkpoint_of(view_of(10))), prompt)[0][0] == "d"
