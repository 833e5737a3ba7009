"""evaluate(): recon read from the teacher-forced argmaxes equals the old generation-based
recon on every shipped checkpoint, any length of text evaluates, a corpus name is never
scored as a text, a checkpoint name works as the model; held_out_bpc; help() shows the fields."""

from __future__ import annotations

import dataclasses
import math
import pydoc
import time

import pytest
import torch
from torch.nn import functional as F

import charmodels as cm
from charmodels.corpora import Corpus
from charmodels.data import encode_corpus
from charmodels.errors import CharmodelsError
from charmodels.metrics import held_out_bpc, teacher_forced

NAMES = ["goethe", "anthem", "seoul", "hihello", "pets", "avengers", "boat", "tsingtao"]
SHIPPED = [f"{corpus}-{cell}" for corpus in NAMES for cell in ("rnn", "lstm", "gru")]


def recon_by_generating(model: cm.CharModel, corpus: Corpus) -> float:
    """The old definition, kept here as the reference: prime each sequence, generate greedily,
    count the characters right before the first mistake (generate() caps it at 10,000)."""
    right = total = 0
    for sequence in corpus.sequences():
        prime = corpus.prime_length(sequence)
        rest = sequence[prime:]
        total += len(rest)
        for step, expected in zip(cm.generate(model, sequence[:prime], len(rest)), rest):
            if step.char != expected:
                break
            right += 1
    return right / total if total else 1.0


def texts_for(model: cm.CharModel, corpus: Corpus) -> list[Corpus]:
    """The corpus, and texts the model recites only in part: the corpus read from a few
    characters in, the other corpora's characters that the model knows, and the model's own
    greedy run from an arbitrary character with one character changed (off its corpus, so
    the argmaxes of free-running and teacher forcing are compared where the model is unsure)."""
    vocab = model.vocab
    texts = [corpus.text]
    texts += ["\n".join(line[3:] for line in corpus.text.split("\n"))]  # each line from a few characters in
    texts += ["".join(c for c in other.text if c in vocab) for other in cm.CORPORA.values() if other != corpus]
    for prime in vocab.chars[:: max(1, len(vocab) // 3)]:
        run = prime + "".join(step.char for step in cm.generate(model, prime, 40))
        changed = vocab.chars[(vocab.chars.index(run[30]) + 1) % len(vocab)]
        texts.append(run[:30] + changed + run[31:])
    return [Corpus("t", text, "", corpus.lines) for text in texts if len(text.replace("\n", "")) >= 2]


# ---------------------------------------------------------------- recon without generating


@pytest.mark.parametrize("name", SHIPPED)
def test_recon_from_logits_equals_recon_by_generating(shipped, name):
    model = shipped(name)
    texts = texts_for(model, cm.CORPORA[name.split("-")[0]])
    recons = []
    for corpus in texts:
        recon = cm.evaluate(model, corpus).recon
        assert recon == recon_by_generating(model, corpus), corpus.text[:40]
        recons.append(recon)
    assert recons[0] == 1.0  # its own corpus, recited
    assert any(0 < r < 1 for r in recons)  # and texts it recites only in part: the comparison is not all 1.0


def test_a_60000_character_text_evaluates(shipped):
    # regression: recon generated the text, and generate() writes at most 10,000 characters,
    # so evaluate() (and the training recipe after it) failed on any text over 10,001 characters
    model = shipped("goethe-lstm")
    corpus = cm.CORPORA["goethe"]
    text = ((corpus.text + " ") * (60_000 // len(corpus.text) + 1))[:60_000]
    started = time.perf_counter()
    metrics = cm.evaluate(model, text)
    assert time.perf_counter() - started < 30
    assert 0 < metrics.recon < 1 and 0 < metrics.tf_acc < 1 and metrics.bpc > 0
    # it recites the first copy of the corpus and misses at its end: "do" is followed by " K" here
    first_miss = len(corpus.text) - 1
    assert metrics.recon == pytest.approx(first_miss / (len(text) - 1))


def test_recon_counts_each_row_up_to_its_first_wrong_argmax():
    vocab = cm.Vocab.from_text("ab \n")
    corpus = Corpus("t", "aaaa b\nab ab ab", "", lines=True)
    batch = encode_corpus(corpus, vocab)
    logits = F.one_hot(batch.targets, len(vocab)).float() * 5  # the argmax is the target everywhere
    counted = [batch.counted[row].nonzero().flatten().tolist() for row in range(2)]
    assert len(counted[0]) == 6 and len(counted[1]) == 3  # "aaaa b\n" primed with "a", "ab ab ab\n" with "ab ab "
    assert teacher_forced(logits, batch, vocab).recon == 1.0

    def miss(row: int, position: int) -> None:  # make the argmax at one position a wrong character
        logits[row, position] = F.one_hot((batch.targets[row, position] + 1) % len(vocab), len(vocab)).float() * 9

    miss(0, counted[0][2])  # row 0 recites two counted characters, then misses
    miss(0, counted[0][4])  # a later miss changes nothing
    miss(1, counted[1][0])  # row 1 misses at once
    miss(1, 0)  # a miss among the priming characters is not counted
    scores = teacher_forced(logits, batch, vocab)
    assert scores.recon == pytest.approx((2 + 0) / 9)
    assert scores.tf_acc == pytest.approx((9 - 3) / 9)


# ---------------------------------------------------------------- what evaluate accepts


def test_a_corpus_name_is_not_scored_as_a_text(shipped):
    # regression: evaluate(m, "goethe") scored the six letters "goethe" (tf_acc 0.2)
    model = shipped("goethe-lstm")
    with pytest.raises(CharmodelsError) as info:
        cm.evaluate(model, "goethe")
    assert info.value.code == "text_expected"
    assert "CORPORA['goethe']" in str(info.value) and "Corpus(" in str(info.value)
    assert cm.evaluate(model, cm.CORPORA["goethe"]).meets_bar
    assert cm.evaluate(model, Corpus("mine", "goethe", "")).tf_acc < 1  # the word itself, asked for plainly


def test_a_corpus_name_equal_to_its_own_text_is_no_surprise(shipped):
    model = shipped("hihello-gru")  # "hihello" is both the corpus name and its text: either reading is the same
    assert cm.evaluate(model, "hihello") == cm.evaluate(model, cm.CORPORA["hihello"])


def test_a_checkpoint_name_works_as_the_model(shipped):
    assert cm.evaluate("goethe-lstm", cm.CORPORA["goethe"]) == cm.evaluate(shipped("goethe-lstm"), cm.CORPORA["goethe"])
    with pytest.raises(CharmodelsError) as info:
        cm.evaluate(None, cm.CORPORA["goethe"])
    assert info.value.code == "model_expected"


def test_lines_for_a_plain_text_and_a_conflicting_lines_for_a_corpus(shipped):
    model = shipped("pets-lstm")
    pets = cm.CORPORA["pets"]
    assert cm.evaluate(model, pets.text, lines=True) == cm.evaluate(model, pets) == cm.evaluate(model, pets, lines=True)
    with pytest.raises(CharmodelsError) as info:
        cm.evaluate(model, pets, lines=False)  # a Corpus brings its own lines
    assert info.value.code == "lines_conflict"


@pytest.mark.parametrize("text,code", [("a", "text_too_short"), ("", "text_too_short")])
def test_texts_with_nothing_to_predict_are_refused(make_model, text, code):
    with pytest.raises(CharmodelsError) as info:
        cm.evaluate(make_model(), text)
    assert info.value.code == code


def test_unknown_characters_are_named(shipped):
    with pytest.raises(cm.UnknownCharacterError, match="'☃'"):
        cm.evaluate(shipped("goethe-lstm"), "Know☃")


def test_evaluate_reads_without_dropout_and_leaves_the_mode_as_it_was(make_model):
    model = make_model("gru", hidden_size=16, layers=2, seed=2)
    model.rnn.dropout = 0.5
    expected = cm.evaluate(model, "abcdefgh" * 4)
    model.train()
    assert cm.evaluate(model, "abcdefgh" * 4) == expected  # no dropout noise in a measure
    assert model.training


# ---------------------------------------------------------------- held-out bpc


def test_held_out_bpc_of_one_stream_is_the_plain_cross_entropy(make_model):
    model = make_model("lstm", hidden_size=8, seed=4)
    ids = torch.tensor(model.vocab.encode("abcabdbcahgfedcbaabc" * 3), dtype=torch.int32)
    with torch.no_grad():
        logits, _ = model(ids[:-1].long()[None])
    expected = F.cross_entropy(logits[0].double(), ids[1:].long()).item() / math.log(2)
    assert held_out_bpc(model, ids, streams=1, chunk=7) == pytest.approx(expected, rel=1e-6)
    # side by side streams read a warm-up before their part, so they differ a little, never wildly
    assert held_out_bpc(model, ids, streams=4, chunk=5) == pytest.approx(expected, rel=0.05)


def test_held_out_bpc_needs_two_characters(make_model):
    with pytest.raises(CharmodelsError) as info:
        held_out_bpc(make_model(), torch.tensor([1], dtype=torch.int32))
    assert info.value.code == "text_too_short"


# ---------------------------------------------------------------- help()


def test_help_of_metrics_shows_every_field():
    text = pydoc.render_doc(cm.Metrics, renderer=pydoc.plaintext)
    for field in dataclasses.fields(cm.Metrics):
        assert f"{field.name}:" in text, field.name
    assert "greedy" in text and "0.9" in text


def test_help_of_evaluate_says_how_to_pass_a_corpus():
    text = pydoc.render_doc(cm.evaluate, renderer=pydoc.plaintext)
    assert 'CORPORA["goethe"]' in text and "goethe-lstm" in text


@pytest.mark.parametrize("module", ["metrics", "data", "corpora", "vocab", "checks", "sampling", "cli"])
def test_no_docstring_cites_a_design_file_the_project_lacks(module):
    import importlib

    text = pydoc.render_doc(importlib.import_module(f"charmodels.{module}"), renderer=pydoc.plaintext)
    assert "DESIGN.md" not in text
