"""Training: reaches the quality bar, is deterministic, can be stopped, keeps bounded histories."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import charmodels as cm
from charmodels.data import encode_corpus
from charmodels.training import CURVE_POINTS, SNAPSHOTS, Loop, Window, fit

CELLS = ["rnn", "lstm", "gru"]


@pytest.mark.parametrize("cell", CELLS)
def test_reaches_the_quality_bar_on_hihello(cell):
    corpus = cm.CORPORA["hihello"]
    model, history = cm.train(corpus, cm.ModelConfig(cell, 16))
    metrics = cm.evaluate(model, corpus)
    assert history.reached and not history.stopped
    assert metrics.meets_bar, metrics
    assert metrics.tf_acc == 1.0 and metrics.recon == 1.0 and metrics.min_p >= 0.9
    assert "".join(s.char for s in cm.generate(model, "h", 6)) == "ihello"
    assert history.snapshots[-1] == (history.steps, "hihello")
    assert not model.training


@pytest.mark.parametrize("cell", CELLS)
def test_reaches_the_bar_with_embedding_and_two_layers(cell):
    corpus = cm.CORPORA["hihello"]
    model, _ = cm.train(corpus, cm.ModelConfig(cell, 16, layers=2, embedding_dim=4))
    assert cm.evaluate(model, corpus).meets_bar


@pytest.mark.parametrize("corpus_name", ["hihello", "seoul"])
@pytest.mark.parametrize("cell", CELLS)
def test_same_seed_same_tensors(corpus_name, cell):
    corpus = cm.CORPORA[corpus_name]
    model_config, train_config = cm.ModelConfig(cell, 16), cm.TrainConfig(seed=5)
    first, first_history = cm.train(corpus, model_config, train_config)
    second, second_history = cm.train(corpus, model_config, train_config)
    a, b = first.state_dict(), second.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert first_history.steps == second_history.steps
    assert first_history.loss == second_history.loss
    # the seed matters: another one gives other weights
    other, _ = cm.train(corpus, model_config, dataclasses.replace(train_config, seed=6))
    assert not torch.equal(other.head.weight, first.head.weight)


def test_training_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    cm.train("hihello", cm.ModelConfig("rnn", 8))
    assert torch.equal(torch.rand(3), expected)


def test_on_step_returning_false_stops_at_once():
    seen: list[cm.Progress] = []

    def stop(progress):
        seen.append(progress)
        return False

    model, history = cm.train("hihello", cm.ModelConfig("lstm", 16), on_step=stop)
    assert history.stopped
    assert history.steps == 1 and history.attempts == 1
    assert not history.reached
    assert len(seen) == 1
    progress = seen[0]
    assert (progress.attempt, progress.step, progress.total_steps) == (1, 1, 1)
    assert len(progress.prediction) == len("hihello") and progress.prediction[0] == "h"
    assert 0.0 <= progress.tf_acc <= 1.0 and 0.0 <= progress.min_p <= 1.0
    assert isinstance(model, cm.CharModel)
    assert len(history.loss) == 1 and len(history.snapshots) == 1


def test_on_step_can_stop_later_and_none_means_go_on():
    calls = []

    def stop_at_five(progress):
        calls.append(progress.total_steps)
        return False if progress.total_steps == 5 else None

    _, history = cm.train("abcabcabd", cm.ModelConfig("gru", 8), cm.TrainConfig(lr=1e-4), on_step=stop_at_five)
    assert history.stopped and history.steps == 5
    assert calls == [1, 2, 3, 4, 5]


def test_history_is_bounded_on_a_long_run():
    # a learning rate this small cannot reach the bar: the run goes to max_steps
    config = cm.TrainConfig(lr=1e-6, max_steps=1000, attempts=1, patience=10_000)
    _, history = cm.train("hihello", cm.ModelConfig("rnn", 8), config)
    assert history.steps == 1000 and not history.reached and not history.stopped
    assert len(history.snapshots) <= 2 * SNAPSHOTS + 1
    assert len(history.loss) <= 2 * CURVE_POINTS + 1
    assert len(history.loss) < 1000  # it really was thinned
    for points in (history.snapshots, history.loss):
        steps = [step for step, _ in points]
        assert steps == sorted(set(steps))
        assert steps[0] == 1 and steps[-1] == 1000  # the start and the final state are kept
    assert all(len(text) == len("hihello") for _, text in history.snapshots)
    assert history.seconds > 0


def test_a_stalled_attempt_is_retried():
    config = cm.TrainConfig(lr=1e-6, max_steps=40, attempts=3, patience=5)
    _, history = cm.train("hihello", cm.ModelConfig("gru", 8), config)
    assert history.attempts == 3
    assert not history.reached
    assert 3 <= history.steps <= 120


def test_pets_trains_and_evaluates_after_the_two_word_prime():
    pets = cm.CORPORA["pets"]
    assert pets.lines
    assert pets.prime_length("you love milk\n") == len("you love ")
    assert pets.prime_length("i like dog\n") == len("i like ")
    model, history = cm.train(pets, cm.ModelConfig("lstm", 32))
    metrics = cm.evaluate(model, pets)
    assert history.reached and metrics.meets_bar
    for line in pets.text.split("\n"):
        prime = " ".join(line.split(" ")[:2]) + " "
        rest = line[len(prime) :] + "\n"
        assert "".join(s.char for s in cm.generate(model, prime, len(rest))) == rest
    # a lines text given as a string with lines=True is measured the same way
    assert cm.evaluate(model, pets.text, lines=True) == metrics
    # read as one running text, the first words are counted too and cannot all be right
    assert cm.evaluate(model, pets.text).tf_acc < 1.0


def test_a_lines_corpus_without_the_prime_cannot_be_perfect(shipped):
    # the shipped pets models reach 100% only because the first two words are given
    model = shipped("pets-lstm")
    as_lines = cm.evaluate(model, cm.CORPORA["pets"])
    assert as_lines.tf_acc == 1.0
    unprimed = cm.Corpus("pets1", cm.CORPORA["pets"].text, "", lines=False)
    assert cm.evaluate(model, unprimed).tf_acc < 1.0


@pytest.mark.parametrize(
    "field,value",
    [("lr", 0), ("lr", 2), ("max_steps", 0), ("attempts", 0), ("lr_decay", 0), ("patience", 0), ("clip", 0), ("seed", -1), ("target_min_p", 1.0)],
)
def test_train_config_is_validated(field, value):
    with pytest.raises(ValueError, match=field):
        cm.TrainConfig(**{field: value})


@pytest.mark.parametrize("text", ["", "a"])
def test_too_short_text_is_refused(text):
    with pytest.raises(ValueError, match="at least 2 characters"):
        cm.train(text, cm.ModelConfig("rnn", 8))


# ---- the one loop: divergence, best attempt, what a caller may pass ------------------------


@pytest.mark.parametrize("lr, at", [(1e18, "a later step"), (1e30, "the first step")])
def test_a_diverging_run_stops_names_the_step_and_keeps_its_last_finite_weights(lr, at):
    corpus = cm.CORPORA["avengers"]
    vocab = cm.Vocab.from_text(corpus.text)
    batch = encode_corpus(corpus, vocab)
    torch.manual_seed(0)
    model = cm.CharModel(cm.ModelConfig("rnn", 16), vocab)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    fitted = fit(model, optimizer, lambda step: Window(batch.inputs, batch.targets, batch.valid), Loop(50),
                 on_step=lambda s: losses.append(s.loss))
    assert fitted.reason == "diverged" and fitted.steps == fitted.diverged_at - 1 == len(losses), at
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the overflowing update was undone
    if lr == 1e30:
        assert fitted.diverged_at == 1  # the very first update overflows the weights: undone
    else:
        assert fitted.diverged_at > 2 and all(math.isfinite(x) for x in losses)


def test_train_returns_its_best_attempt_not_its_last():
    """Defect: each retry lowers the learning rate and train() returned the last attempt: on
    hihello a 2-unit LSTM came back with recon 0.33 although an earlier attempt recited the text."""
    corpus = cm.CORPORA["hihello"]
    model, history = cm.train(corpus, cm.ModelConfig("lstm", 2))
    assert not history.reached and history.attempts == 8
    best = history.best
    assert 1 <= best["attempt"] < history.attempts  # an earlier attempt was the best
    metrics = cm.evaluate(model, corpus)
    assert metrics.tf_acc == best["tf_acc"] and metrics.min_p == pytest.approx(best["min_p"], abs=1e-6)
    assert metrics.recon == 1.0  # the returned weights recite the text, though not confidently (min_p < 0.92)
    # and the history says so, and travels with the model
    assert model.info["history"]["best"] == best and model.info["corpus"]["text"] == corpus.text


def test_train_takes_a_cell_name_and_refuses_a_corpus_name_as_text():
    model, history = cm.train("hihello", "lstm")  # "hihello" is also that corpus's text: no ambiguity
    assert history.reached and model.config == cm.ModelConfig("lstm")
    with pytest.raises(cm.CharmodelsError, match="CORPORA\\['goethe'\\]") as caught:
        cm.train("goethe", "lstm")
    assert caught.value.code == "text_expected"
    with pytest.raises(TypeError, match="rnn, lstm, gru"):
        cm.train("abcabc", "transformer")
