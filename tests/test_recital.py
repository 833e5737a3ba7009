"""charmodels.recital: stretches of a text found verbatim in the training text (>= 8 characters) marked
recited, the rest invented, with the share of each; greedy recites and a hot temperature invents."""

from __future__ import annotations

import pytest

from charmodels import CORPORA, CharModel, ModelConfig, Vocab
from charmodels.errors import CharmodelsError
from charmodels.recital import INVENTED, PROMPT, RECITED, mark_recited, sample_and_mark

TRAINING = "the cat sat on the mat. the dog ran."


def test_constructed_case():
    # "the cat sat on " (15) is verbatim in the training text; " on a hat" is not, nor any 8 of it after
    # "sat on "; "the dog ran" (11) is verbatim again; "xx" is not.
    text = "the cat sat on a hat, the dog ran xx"
    marked = mark_recited(text, TRAINING)
    kinds = [(s.text, s.kind) for s in marked.spans]
    assert kinds == [("the cat sat on ", RECITED), ("a hat,", INVENTED), (" the dog ran", RECITED), (" xx", INVENTED)]
    assert "".join(s.text for s in marked.spans) == text
    assert all(text[s.start : s.end] == s.text for s in marked.spans)
    assert marked.recited == 15 + 12 and marked.invented == 6 + 3
    assert marked.recited_share == pytest.approx(27 / 36) and marked.invented_share == pytest.approx(9 / 36)
    assert marked.min_length == 8


def test_min_length_edges():
    # a stretch of exactly min_length counts; one character shorter does not
    assert mark_recited("zzdog ran.zz", TRAINING, min_length=8).recited == 8  # "dog ran." is 8
    assert mark_recited("zzdog ranzz", TRAINING, min_length=8).recited == 0  # "dog ran" is 7
    assert mark_recited("dog", TRAINING).invented_share == 1.0  # shorter than min_length: invented
    assert mark_recited("", TRAINING).spans == [] and mark_recited("", TRAINING).recited_share == 0.0
    # touching stretches from two places of the training text are each verbatim: all recited
    assert mark_recited("the dog ran.the cat sat", TRAINING).invented == 0


def test_prompt_takes_part_but_is_not_counted():
    marked = mark_recited("the cat sat on xyz", TRAINING, prompt_length=4)
    assert [(s.text, s.kind) for s in marked.spans] == [("the ", PROMPT), ("cat sat on ", RECITED), ("xyz", INVENTED)]
    assert marked.recited == 11 and marked.invented == 3 and marked.recited_share == pytest.approx(11 / 14)
    assert marked.to_dict()["spans"][0] == [0, 4, PROMPT]


def test_temperature_greedy_recites_hot_invents():
    greedy = sample_and_mark("anthem-lstm", "O", 300, temperature=0.0)
    hot = sample_and_mark("anthem-lstm", "O", 300, temperature=2.0, seed=1)
    assert greedy.recited_share == 1.0
    assert hot.recited_share < 0.5 < hot.invented_share
    assert sample_and_mark("anthem-lstm", "O", 300, temperature=2.0, seed=1) == hot  # seeded: the same marking


def test_bad_input():
    for call, code in (
        (lambda: mark_recited(3, TRAINING), "not_text"),
        (lambda: mark_recited("abc", None), "not_text"),
        (lambda: mark_recited("abc", TRAINING, min_length=0), "not_whole"),
        (lambda: mark_recited("abc", TRAINING, prompt_length=4), "not_whole"),
        (lambda: sample_and_mark(CharModel(ModelConfig("rnn", 4), Vocab("ab")), "a", 5), "recital_no_training_text"),
        (lambda: sample_and_mark("goethe-lstm", "K", 5, temperature=-1), "not_number"),
    ):
        with pytest.raises(CharmodelsError) as error:
            call()
        assert error.value.code == code
    assert mark_recited("we must apply", CORPORA["goethe"]).recited == 13  # a Corpus gives its text
