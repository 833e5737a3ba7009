"""bench/held_out.py: the breakdown of a held-out text's bits and dynamic evaluation."""

from __future__ import annotations

import math

import pytest
import torch

from bench.held_out import KINDS, dynamic_bpc, kinds_of, where_the_bits_go
from charmodels import CORPORA, CharModel, ModelConfig, Vocab, load_checkpoint
from charmodels.surprise import surprisal

TRAINING = "ALICE:\nhello there, bob\n\nBOB:\nhi alice\n\n"
HELD_OUT = "ALICE:\nhello zed\n\nZED:\nqux\n"


def weights(model: CharModel) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_each_character_is_put_under_its_kind() -> None:
    kind = dict(zip(range(len(HELD_OUT)), kinds_of(HELD_OUT, TRAINING), strict=True))
    at = HELD_OUT.index
    assert {kind[i] for i in range(0, at("\n"))} == {KINDS.index("speaker seen in training")}  # "ALICE:"
    assert {kind[i] for i in range(at("ZED:"), at("ZED:") + 4)} == {KINDS.index("speaker never seen in training")}
    assert {kind[i] for i in range(at("zed"), at("zed") + 3)} == {KINDS.index("word never seen in training")}
    assert {kind[i] for i in range(at("qux"), at("qux") + 3)} == {KINDS.index("word never seen in training")}
    assert {kind[i] for i in range(at("hello"), at("hello") + 6)} == {KINDS.index("the rest")}  # a known word and its space


def test_the_kinds_share_out_exactly_the_models_bits() -> None:
    torch.manual_seed(0)
    model = CharModel(ModelConfig("lstm", 8), Vocab.from_text(TRAINING + HELD_OUT))
    parts = where_the_bits_go(model, HELD_OUT, TRAINING)
    read = surprisal(model, HELD_OUT, TRAINING).model
    assert sum(parts[kind]["chars"] for kind in KINDS) == len(HELD_OUT) - 1
    assert sum(parts[kind]["bits"] for kind in KINDS) == pytest.approx(read.bits.sum(), abs=0.5)
    assert sum(parts[kind]["share"] for kind in KINDS) == pytest.approx(1.0, abs=1e-3)
    assert parts["bpc"] == pytest.approx(read.bpc, abs=1e-4)
    new = parts["speaker never seen in training"]
    known = parts["speaker seen in training"]
    expected = (read.bits.sum() - new["bits"] + new["chars"] * known["bpc"]) / (len(HELD_OUT) - 1)
    assert parts["bpc_if_new_speakers_cost_as_known"] == pytest.approx(expected, abs=1e-3)


def test_dynamic_evaluation_without_learning_is_the_static_reading() -> None:
    model = load_checkpoint("goethe-lstm")
    text = CORPORA["goethe"].text
    ids = torch.tensor(model.vocab.encode(text))
    assert dynamic_bpc(model, ids, 0.0, window=7) == pytest.approx(surprisal(model, text).model.bpc, abs=1e-4)


def test_dynamic_evaluation_predicts_each_window_before_learning_from_it_and_leaves_the_model_alone() -> None:
    torch.manual_seed(0)
    text = "the cat sat on the mat. " * 8
    model = CharModel(ModelConfig("gru", 16), Vocab.from_text(text))
    before = weights(model)
    ids = torch.tensor(model.vocab.encode(text))
    one_window = ids[:11]  # ten characters predicted: one window of 10
    assert dynamic_bpc(model, one_window, 1.0, window=10) == dynamic_bpc(model, one_window, 0.0, window=10)
    static, learning = dynamic_bpc(model, ids, 0.0, window=10), dynamic_bpc(model, ids, 0.5, window=10)
    assert math.isfinite(learning) and learning < static - 0.25, (static, learning)  # it learns the repeated sentence as it reads (3.53 -> 3.17)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
