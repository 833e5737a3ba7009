"""Vocab: characters <-> ids in the order given (from_text sorts), repeats refused,
unknown characters named, bad ids refused; every error a CharmodelsError with a code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from charmodels import UnknownCharacterError, Vocab
from charmodels.errors import CharmodelsError


def test_from_text_is_the_sorted_set_and_ids_are_positions():
    vocab = Vocab.from_text("hello")
    assert vocab.chars == ["e", "h", "l", "o"]
    assert len(vocab) == 4
    assert vocab.encode("hello") == [1, 0, 2, 2, 3]
    assert "l" in vocab and "z" not in vocab


def test_the_order_given_is_kept():
    # regression: Vocab(['h', 'e', 'l', 'o']) silently re-sorted, so weights from course code
    # (whose vocabulary is list(set(text))) read the wrong characters
    vocab = Vocab(["h", "e", "l", "o"])
    assert vocab.chars == ["h", "e", "l", "o"]
    assert vocab.encode("hello") == [0, 1, 2, 2, 3]
    assert vocab.decode([3, 1]) == "oe"
    assert Vocab("hleo").chars == ["h", "l", "e", "o"]
    assert vocab != Vocab.from_text("hello")  # the same characters in another order are other ids


def test_repeated_characters_are_refused_by_name():
    with pytest.raises(CharmodelsError) as info:
        Vocab("hello")
    assert info.value.code == "vocab_repeats"
    assert "'l'" in str(info.value) and "from_text" in str(info.value)
    with pytest.raises(CharmodelsError, match="space"):
        Vocab(["a", " ", "b", " "])


def test_korean_and_typographic_characters_sort_by_code_point():
    text = "O\u2019er 칭다오\n"
    vocab = Vocab.from_text(text)
    assert vocab.chars == sorted(set(text))
    assert vocab.chars[0] == "\n"
    assert vocab.decode(vocab.encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_encode_decode_round_trip(text):
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    assert len(ids) == len(text)
    assert all(0 <= i < len(vocab) for i in ids)
    assert vocab.decode(ids) == text
    assert vocab.chars == sorted(set(text))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.characters(), min_size=1, max_size=50, unique=True))
def test_any_order_round_trips_and_ids_follow_the_order(chars):
    vocab = Vocab(chars)
    assert vocab.chars == chars
    assert vocab.encode("".join(chars)) == list(range(len(chars)))
    assert vocab.decode(range(len(chars))) == "".join(chars)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abc", min_size=1), st.text(alphabet="xyz \n", min_size=1))
def test_unknown_characters_are_listed_once_in_order(known, extra):
    vocab = Vocab("abc")
    text = known + extra
    with pytest.raises(UnknownCharacterError) as info:
        vocab.encode(text)
    assert info.value.chars == list(dict.fromkeys(extra))
    assert vocab.unknown(text) == info.value.chars


def test_unknown_characters_are_reported_by_name():
    vocab = Vocab("abc")
    with pytest.raises(UnknownCharacterError) as info:
        vocab.encode("ab x\nz\x00x")
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, CharmodelsError)
    assert error.code == "unknown_chars" and error.params["chars"] == error.chars
    assert error.chars == [" ", "x", "\n", "z", "\x00"]
    message = str(error)
    for shown in ("space", "'x'", "newline", "'z'", "U+0000"):
        assert shown in message
    assert "vocabulary" in message


def test_known_text_has_no_unknown_characters():
    assert Vocab("abc").unknown("cab") == []


@pytest.mark.parametrize("bad", [-1, 3, 100, 1.5, "a", None, 2.0])
def test_decode_of_bad_ids_raises_value_error(bad):
    vocab = Vocab("abc")
    with pytest.raises(CharmodelsError, match="ids must be integers from 0 to 2") as info:
        vocab.decode([0, bad])
    assert info.value.code == "bad_ids"


def test_decode_accepts_numpy_and_torch_integers():
    vocab = Vocab("abc")
    assert vocab.decode(np.array([2, 0, 1])) == "cab"
    assert vocab.decode(torch.tensor([1, 1, 0]).tolist()) == "bba"
    assert vocab.decode(list(torch.tensor([0, 2]))) == "ac"
    assert vocab.decode([]) == ""


@pytest.mark.parametrize("chars", ["", [], set()])
def test_empty_vocab_raises(chars):
    with pytest.raises(CharmodelsError, match="at least one character") as info:
        Vocab(chars)
    assert info.value.code == "vocab_empty"


@pytest.mark.parametrize("entries", [["a", "bc"], ["a", ""], ["a", 1], ["a", None]])
def test_entries_that_are_not_one_character_raise(entries):
    with pytest.raises(CharmodelsError, match="exactly one character") as info:
        Vocab(entries)
    assert info.value.code == "vocab_not_chars"


def test_equality_is_by_characters_in_order():
    assert Vocab("abc") == Vocab(["a", "b", "c"])
    assert Vocab("cab") != Vocab("abc")
    assert Vocab("ab") != Vocab("abc")
    assert Vocab("ab") != "ab"
