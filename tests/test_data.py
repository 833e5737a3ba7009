"""Texts as tensors: a corpus of lines (with or without newlines), the padded batch and its
counted positions, ids for a vocabulary in any order, a long text's split and streams."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import charmodels as cm
from charmodels.corpora import Corpus
from charmodels.data import Streams, corpus_vocab, encode_corpus, encode_ids, split_text
from charmodels.errors import CharmodelsError

# ---------------------------------------------------------------- a corpus of lines


def test_one_line_without_a_newline_trains_as_lines():
    # regression: a text trained as separate lines that has no newline failed with
    # UnknownCharacterError: newline (the vocabulary came from the text, the newline from sequences())
    corpus = Corpus("one", "you love milk", "", lines=True)
    assert corpus.sequences() == ["you love milk\n"]
    vocab = corpus_vocab(corpus)
    assert "\n" in vocab and vocab == cm.Vocab.from_text("you love milk\n")
    batch = encode_corpus(corpus, vocab)
    assert batch.inputs.shape == (1, 13)
    assert vocab.decode(batch.targets[0].tolist()) == "ou love milk\n"
    assert batch.counted[0].tolist() == [False] * 8 + [True] * 5  # primed with "you love "


def test_a_final_newline_adds_no_empty_line():
    # regression: "a\nb\n" gave a third, empty sequence "\n"
    with_newline = Corpus("t", "i like dog\nyou hate milk\n", "", lines=True)
    without = Corpus("t", "i like dog\nyou hate milk", "", lines=True)
    assert with_newline.sequences() == without.sequences() == ["i like dog\n", "you hate milk\n"]
    batch = encode_corpus(with_newline, corpus_vocab(with_newline))
    assert batch.inputs.shape[0] == 2 and batch.first == ["i", "y"]


def test_blank_lines_are_left_out():
    corpus = Corpus("t", "\n\nab cd ef\n\n\ngh\n", "", lines=True)
    assert corpus.sequences() == ["ab cd ef\n", "gh\n"]


def test_a_text_of_only_newlines_is_refused():
    corpus = Corpus("t", "\n\n\n", "", lines=True)
    with pytest.raises(CharmodelsError) as info:
        encode_corpus(corpus, cm.Vocab("\n"))
    assert info.value.code == "no_lines"


def test_the_shipped_lines_corpus_reads_as_before():
    # pets ends without a newline; its six lines each end in one, as its shipped checkpoints were trained
    pets = cm.CORPORA["pets"]
    assert pets.sequences() == [line + "\n" for line in pets.text.split("\n")]
    assert corpus_vocab(pets) == cm.Vocab.from_text(pets.text)  # its text has newlines already


@pytest.mark.parametrize("text", ["you love milk", "i like dog\nyou hate milk\n", "ab\n\ncd ef gh"])
def test_a_text_of_lines_trains_and_evaluates(text):
    corpus = Corpus("mine", text, "", lines=True)
    model, history = cm.train(corpus, cm.ModelConfig("gru", 32), cm.TrainConfig(max_steps=400))
    assert "\n" in model.vocab
    metrics = cm.evaluate(model, corpus)
    assert history.reached and metrics.tf_acc == 1.0 and metrics.recon == 1.0


def test_plain_corpus_reads_the_whole_text_primed_with_its_first_character():
    corpus = Corpus("t", "hihello", "")
    vocab = corpus_vocab(corpus)
    batch = encode_corpus(corpus, vocab)
    assert vocab.decode(batch.inputs[0].tolist()) == "hihell"
    assert vocab.decode(batch.targets[0].tolist()) == "ihello"
    assert batch.valid.all() and batch.counted.all() and batch.first == ["h"]


def test_rows_are_padded_and_padding_is_neither_trained_nor_counted():
    corpus = Corpus("t", "ab cd efgh\nx\n", "", lines=True)
    batch = encode_corpus(corpus, corpus_vocab(corpus))
    assert batch.inputs.shape == (2, 10)
    assert batch.valid[1].tolist() == [True] + [False] * 9
    assert batch.counted[1].tolist() == [True] + [False] * 9  # "x\n": too few words to prime, primed with "x"
    assert not (batch.counted & ~batch.valid).any()


@pytest.mark.parametrize("text", ["", "a"])
def test_a_plain_text_with_nothing_to_predict_is_refused(text):
    with pytest.raises(CharmodelsError) as info:
        encode_corpus(Corpus("t", text, ""), cm.Vocab("a"))
    assert info.value.code == "text_too_short"


# ---------------------------------------------------------------- ids of a long text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30, unique=True), st.data())
def test_encode_ids_follows_a_vocabulary_in_any_order(chars, data):
    # regression guard: encode_ids relied on vocabularies in code-point order
    vocab = cm.Vocab(data.draw(st.permutations(chars)))
    text = "".join(data.draw(st.lists(st.sampled_from(chars), max_size=60)))
    ids = encode_ids(text, vocab)
    assert ids.dtype == torch.int32
    assert ids.tolist() == vocab.encode(text)


def test_encode_ids_names_unknown_characters():
    vocab = cm.Vocab(["한", "c", "a", "b"])
    assert encode_ids("cab한a", vocab).tolist() == [1, 2, 3, 0, 2]
    with pytest.raises(cm.UnknownCharacterError, match="'z'") as info:
        encode_ids("abz", vocab)
    assert info.value.code == "unknown_chars"


def test_split_holds_out_the_end_with_the_whole_texts_sorted_vocabulary():
    text = "the cat sat on the mat. " * 10 + "Zebra!"
    split = split_text(text, 0.1)
    assert split.vocab == cm.Vocab.from_text(text) and "Z" in split.vocab
    assert split.vocab.decode(split.train.tolist()) + split.vocab.decode(split.val.tolist()) == text
    assert len(split.val) == round(len(text) * 0.1)


@pytest.mark.parametrize("text,fraction,code", [("abc", 0.1, "long_text_too_short"), ("abcdef", 0.9, "hold_out_too_much")])
def test_split_refuses_too_little_on_either_side(text, fraction, code):
    with pytest.raises(CharmodelsError) as info:
        split_text(text, fraction)
    assert info.value.code == code


def test_streams_need_a_character_each():
    with pytest.raises(CharmodelsError, match="lower the batch size") as info:
        Streams(torch.arange(5, dtype=torch.int32), batch_size=8, seq_len=3)
    assert info.value.code == "too_many_streams"
