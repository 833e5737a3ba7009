"""Learning a text by heart in windows (charmodels.memorize), with real training."""

from __future__ import annotations

import pytest
import torch

import charmodels as cm
from charmodels.corpora import CORPORA
from charmodels.data import corpus_vocab, encode_corpus
from charmodels.memorize import MemorizeConfig, cut, memorize, short_text
from charmodels.metrics import teacher_forced

TEXT = CORPORA["anthem"].text  # 440 characters: 14 streams of 2 windows of 16
SMALL = MemorizeConfig(window=16, windows_per_stream=2, max_passes=600, lr=0.02)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one intra-op thread is fastest, and a busy machine does not thrash it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_cut_reads_every_position_once_at_every_offset():
    ids = torch.arange(101)  # 100 positions
    for offset in (0, 8, 16, 24):
        reading = cut(ids, offset, 16, 2)
        read = torch.cat([reading.inputs[b, : reading.lengths[b]] for b in range(len(reading.starts))])
        assert read.tolist() == list(range(100))
        assert reading.valid.sum() == 100 and reading.inputs.shape[1] == 32
        for b, start in enumerate(reading.starts):
            assert reading.targets[b, : reading.lengths[b]].tolist() == list(range(start + 1, start + 1 + reading.lengths[b]))
        assert reading.starts[0] == 0 and all(s % 8 == 0 for s in reading.starts)


def test_it_learns_a_text_of_several_streams_to_the_bar():
    assert len(TEXT) > short_text(SMALL)  # read in windows, not whole
    seen = []
    model, history = memorize(TEXT, cm.ModelConfig("lstm", 32), SMALL, seen.append)
    assert history.reached and not history.stopped and history.steps < SMALL.max_passes
    assert cm.evaluate(model, TEXT).meets_bar
    assert [p.step for p in seen] == list(range(1, history.steps + 1))  # a step is a pass
    assert seen[-1].tf_acc == 1.0 and seen[-1].min_p >= 0.92 and seen[-1].prediction == TEXT
    assert model.info["train_config"]["recipe"] == "windows" and model.info["history"]["reached"]
    assert "".join(s.char for s in cm.generate(model, TEXT[0], len(TEXT) - 1)) == TEXT[1:]


def test_a_pass_scores_positions_as_a_whole_reading_does():
    """Each stream starts from the state the text had there: once trained, the windows' scores
    equal those of one reading of the whole text from its start."""
    model, history = memorize(TEXT, cm.ModelConfig("gru", 32), SMALL)
    corpus = cm.Corpus("t", TEXT, "")
    batch = encode_corpus(corpus, corpus_vocab(corpus))
    with torch.no_grad():
        logits, _ = model(batch.inputs)
    whole = teacher_forced(logits, batch, model.vocab)
    assert whole.prediction == TEXT and history.best["tf_acc"] == 1.0


def test_the_same_seed_gives_the_same_model_and_a_stop_keeps_the_weights():
    config = MemorizeConfig(window=16, windows_per_stream=2, max_passes=5)
    first, h1 = memorize(TEXT, cm.ModelConfig("rnn", 16), config)
    second, h2 = memorize(TEXT, cm.ModelConfig("rnn", 16), config)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert h1.steps == h2.steps == 5 and not h1.reached  # out of passes: saved as it is, not reached
    stopped, history = memorize(TEXT, cm.ModelConfig("rnn", 16), config, lambda p: p.step < 2)
    assert history.stopped and history.steps == 2


def test_short_texts_and_lines_are_read_whole_within_the_budget():
    model, history = memorize(CORPORA["pets"], "lstm", MemorizeConfig(max_passes=300))
    assert history.reached and cm.evaluate(model, CORPORA["pets"]).meets_bar
    assert model.info["train_config"]["whole"]["max_steps"] == 300
    never = cm.Corpus("never", "\n".join(["ab", "ac"] * 5), "", lines=True)
    _, history = memorize(never, cm.ModelConfig("gru", 8), MemorizeConfig(max_passes=7))
    assert history.steps == 7 and not history.reached and not history.stopped  # budget, not a Stop
    _, history = memorize("hihello", "rnn", MemorizeConfig(max_passes=300), lambda p: False)
    assert history.stopped and history.steps == 1


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_korean_in_windows(cell):
    text = ("나는 한국 사람이고, 중국 칭다오에 아주 오래 살다가 지금은 서울에 살고 있어. 어쨌든, 미국으로 유학을 갔다.\n"
            "순환 신경망은 이전 단계의 은닉 상태를 다음 단계로 넘겨서 문맥을 기억한다.\n")
    model, history = memorize(text, cm.ModelConfig(cell, 48), MemorizeConfig(window=16, windows_per_stream=2, max_passes=800, lr=0.02))
    assert history.reached, history.best
    assert cm.evaluate(model, text).meets_bar
