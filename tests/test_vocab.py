"""Vocab: sorted characters <-> ids, unknown characters named, bad ids refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from charmodels import UnknownCharacterError, Vocab


def test_chars_are_sorted_and_unique_and_ids_are_positions():
    vocab = Vocab("hello")
    assert vocab.chars == ["e", "h", "l", "o"]
    assert len(vocab) == 4
    assert vocab.encode("hello") == [1, 0, 2, 2, 3]
    assert Vocab.from_text("hello") == vocab
    assert "l" in vocab and "z" not in vocab


def test_korean_and_typographic_characters_sort_by_code_point():
    text = "O\u2019er 칭다오\n"
    vocab = Vocab(text)
    assert vocab.chars == sorted(set(text))
    assert vocab.chars[0] == "\n"
    assert vocab.decode(vocab.encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_encode_decode_round_trip(text):
    vocab = Vocab(text)
    ids = vocab.encode(text)
    assert len(ids) == len(text)
    assert all(0 <= i < len(vocab) for i in ids)
    assert vocab.decode(ids) == text
    assert vocab.chars == sorted(set(text))


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
    assert isinstance(error, ValueError)
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
    with pytest.raises(ValueError, match="ids must be integers from 0 to 2"):
        vocab.decode([0, bad])


def test_decode_accepts_numpy_and_torch_integers():
    vocab = Vocab("abc")
    assert vocab.decode(np.array([2, 0, 1])) == "cab"
    assert vocab.decode(torch.tensor([1, 1, 0]).tolist()) == "bba"
    assert vocab.decode(list(torch.tensor([0, 2]))) == "ac"
    assert vocab.decode([]) == ""


@pytest.mark.parametrize("chars", ["", [], set()])
def test_empty_vocab_raises(chars):
    with pytest.raises(ValueError, match="at least one character"):
        Vocab(chars)


def test_multi_character_entries_raise():
    with pytest.raises(ValueError, match="exactly one character"):
        Vocab(["a", "bc"])


def test_equality_is_by_characters():
    assert Vocab("cab") == Vocab(["a", "b", "c"])
    assert Vocab("ab") != Vocab("abc")
    assert Vocab("ab") != "ab"
