"""charmodels.surprise: per-character surprisal and rank under the model, a unigram and a bigram model;
the model's surprisals average to its bpc (charmodels.metrics), unknown characters are refused by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from charmodels import CORPORA, CharModel, ModelConfig, Vocab, evaluate, load_checkpoint
from charmodels.errors import CharmodelsError
from charmodels.surprise import SMOOTHING, surprisal
from charmodels.vocab import UnknownCharacterError

GOETHE = CORPORA["goethe"].text


def test_model_surprisal_sums_to_its_bpc():
    model = load_checkpoint("goethe-lstm")
    typo = GOETHE.replace("enough; we must do", "enoguh; we must do")  # a typo in the second sentence
    for text in (GOETHE, typo, "we must apply. Knowing"):
        read = surprisal(model, text)
        assert len(read.chars) == len(text) - 1 == len(read.model.bits) == len(read.bigram.ranks)
        assert read.model.bits.sum() / len(read.chars) == pytest.approx(evaluate(model, text).bpc, rel=1e-9)
        assert read.model.bpc == pytest.approx(evaluate(model, text).bpc, rel=1e-9)
        for scores in (read.model, read.unigram, read.bigram):
            np.testing.assert_allclose(scores.bits, -np.log2(scores.probs))
            assert scores.bpc == pytest.approx(scores.bits.mean())
            assert scores.ranks.min() >= 1 and scores.ranks.max() <= len(read.vocab)
    # the model recites its own text: every character its top guess; the typo is a surprise
    clean = surprisal(model, GOETHE)
    assert (clean.model.ranks == 1).all() and clean.model.bpc < clean.bigram.bpc < clean.unigram.bpc
    marked = surprisal(model, typo)
    g = typo.index("oguh") + 1  # the 'g' where the text has 'u'
    assert marked.chars[g - 1] == "g" and marked.model.ranks[g - 1] > 1 and marked.model.bits[g - 1] > 5


def test_ngram_models_count_the_training_text_with_add_one():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CharModel(ModelConfig("gru", 4), Vocab("abc"))
    read = surprisal(model, "abca", training_text="aab")  # counts: a 2, b 1, c 0; pairs aa, ab
    assert read.smoothing == SMOOTHING == "add-one" and read.training_chars == 3
    # unigram: (count + 1) / (3 + 3)
    assert list(read.unigram.probs) == pytest.approx([2 / 6, 1 / 6, 3 / 6])  # b, c, a
    # bigram after a: (aa 1 + 1, ab 1 + 1, ac 0 + 1) / (2 + 3); after b and after c: nothing counted, uniform
    assert list(read.bigram.probs) == pytest.approx([2 / 5, 1 / 3, 1 / 3])
    assert list(read.bigram.ranks) == [1, 1, 1]  # ties share the top rank
    assert list(read.unigram.ranks) == [2, 3, 1]
    assert read.unigram.bpc == pytest.approx(-sum(math.log2(p) for p in (2 / 6, 1 / 6, 3 / 6)) / 3)


def test_unknown_characters_and_bad_input_are_named():
    model = load_checkpoint("goethe-lstm")
    with pytest.raises(UnknownCharacterError) as error:
        surprisal(model, "Knowing is not enough, Zed")
    assert error.value.code == "unknown_chars" and error.value.chars == [",", "Z"]
    with pytest.raises(UnknownCharacterError) as error:
        surprisal(model, "we must", training_text="we must zap")
    assert error.value.chars == ["z"]
    with pytest.raises(CharmodelsError) as error:
        surprisal(model, "K")
    assert error.value.code == "text_too_short"
    with pytest.raises(CharmodelsError) as error:
        surprisal(model, "")
    assert error.value.code == "empty_prompt"
    fresh = CharModel(ModelConfig("rnn", 4), Vocab("ab"))  # carries no training text
    with pytest.raises(CharmodelsError) as error:
        surprisal(fresh, "abab")
    assert error.value.code == "surprise_no_training_text"
    assert surprisal(fresh, "abab", training_text="abba").training_chars == 4


def test_a_corpus_of_lines_counts_each_line_with_its_newline():
    model = load_checkpoint("pets-lstm")
    read = surprisal(model, "i like dog\nyou love milk", CORPORA["pets"])
    assert read.training_chars == sum(len(line) for line in CORPORA["pets"].sequences())
    assert read.to_dict()["model"]["bpc"] == read.model.bpc
