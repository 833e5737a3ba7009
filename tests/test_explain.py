"""charmodels.explain: the trace (computed by the engine through charmodels.cells) equals torch's cells;
saliency finds the character that matters; both work for a model on a GPU."""

import numpy as np
import pytest
import torch

from charmodels import CORPORA, Corpus, ModelConfig, TrainConfig, train
from charmodels.errors import CharmodelsError
from charmodels.explain import GATES, saliency, trace
from charmodels.model import CharModel
from charmodels.vocab import Vocab

TEXT = "hihello hello"
NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (a model trained with --device cuda)")


@pytest.fixture
def exact_gpu():
    """float32 on the GPU as on the CPU: no TF32 shortcuts in cuDNN's RNNs or in matmuls, for the test."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (2, 0), (2, 5)])
def test_trace_equals_torch(cell, layers, embedding_dim):
    torch.manual_seed(1)
    model = CharModel(ModelConfig(cell, 12, layers, embedding_dim), Vocab.from_text(TEXT))
    got = trace(model, TEXT)
    ids = torch.tensor([model.vocab.encode(TEXT)])
    with torch.no_grad():
        layer_input = model.inputs(ids)
        expected_h, expected_c = [], []
        for layer in range(layers):  # torch's own cells, one layer at a time, to compare every layer
            single = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
                layer_input.shape[-1], 12, batch_first=True
            )
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(single, f"{name}_l0").copy_(getattr(model.rnn, f"{name}_l{layer}"))
            if cell == "lstm":
                outputs, _ = single(layer_input)
                # c at every step: run step by step, carrying the state
                state, cs = None, []
                for t in range(layer_input.shape[1]):
                    _, state = single(layer_input[:, t : t + 1], state)
                    cs.append(state[1][0, 0])
                expected_c.append(torch.stack(cs).numpy())
            else:
                outputs, _ = single(layer_input)
            expected_h.append(outputs[0].numpy())
            layer_input = outputs
        logits, _ = model(ids)
    for layer in range(layers):
        np.testing.assert_allclose(got.layers[layer].h, expected_h[layer], atol=1e-5)
        if cell == "lstm":
            np.testing.assert_allclose(got.layers[layer].c, expected_c[layer], atol=1e-5)
        else:
            assert got.layers[layer].c is None
        assert sorted(got.layers[layer].gates) == sorted(GATES[cell])
        for values in got.layers[layer].gates.values():
            assert values.shape == (len(TEXT), 12)
    np.testing.assert_allclose(got.probs, torch.softmax(logits[0].double(), -1).numpy(), atol=1e-5)
    assert got.inputs.shape == (len(TEXT), embedding_dim or len(model.vocab))
    assert got.chars == list(TEXT)


def test_gates_lie_in_their_ranges():
    torch.manual_seed(0)
    model = CharModel(ModelConfig("lstm", 8), Vocab.from_text(TEXT))
    gates = trace(model, TEXT).layers[0].gates
    for name in "ifo":
        assert (gates[name] > 0).all() and (gates[name] < 1).all()
    assert (np.abs(gates["g"]) < 1).all()


def test_trace_rejects_unknown_characters():
    model = CharModel(ModelConfig("gru", 4), Vocab("ab"))
    with pytest.raises(ValueError, match="'z'"):
        trace(model, "abz")


@pytest.fixture(scope="module")
def copy_task_model():
    """Lines whose last character repeats the first, after the same filler: only the first character decides it."""
    corpus = Corpus("copy", "a-----a\nb-----b", "test", lines=True)
    model, history = train(corpus, ModelConfig("lstm", 16), TrainConfig(seed=0))
    assert history.reached
    return model


@pytest.mark.parametrize("method", ["occlusion", "gradient"])
@pytest.mark.parametrize("first", ["a", "b"])
def test_saliency_points_at_the_character_the_answer_depends_on(copy_task_model, method, first):
    result = saliency(copy_task_model, f"{first}-----", method=method)
    assert result.target == first
    assert int(np.argmax(np.abs(result.scores))) == 0
    assert np.abs(result.scores).max() == pytest.approx(1.0)


def test_saliency_arguments():
    model = CharModel(ModelConfig("rnn", 4), Vocab("ab"))
    with pytest.raises(CharmodelsError, match="method") as info:
        saliency(model, "ab", method="magic")
    assert info.value.code == "not_choice" and info.value.params["name"] == "method"
    with pytest.raises(CharmodelsError, match="target") as info:
        saliency(model, "ab", target="z")
    assert info.value.code == "not_choice" and info.value.params["name"] == "target"
    assert saliency(model, "ab", target="a").target == "a"


def test_gradient_saliency_leaves_the_weights_gradients_alone():
    # the app shares one model between requests: explaining must not leave .grad behind
    torch.manual_seed(0)
    model = CharModel(ModelConfig("gru", 8), Vocab("ab"))
    saliency(model, "abab", method="gradient")
    assert all(p.grad is None for p in model.parameters())


def test_gate_names_carry_no_ui_text():
    # what a gate means is said by the app (demo/i18n.py), in the reader's language
    assert GATES == {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def test_goethe_lstm_saliency_is_normalised_and_explains_its_prediction():
    from charmodels import load_checkpoint

    model = load_checkpoint("goethe-lstm")
    text = CORPORA["goethe"].text[:-2]  # "...Willing is not enough; we must "
    result = saliency(model, text)
    assert result.target == "d" and result.target_prob > 0.9
    assert result.scores.shape == (len(text),)
    assert np.abs(result.scores).max() == pytest.approx(1.0)


@NEEDS_CUDA
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_trace_and_saliency_of_a_model_on_the_gpu(cell, exact_gpu):
    torch.manual_seed(0)
    cpu = CharModel(ModelConfig(cell, 12, 2), Vocab.from_text(TEXT))
    gpu = CharModel(ModelConfig(cell, 12, 2), Vocab.from_text(TEXT))
    gpu.load_state_dict(cpu.state_dict())
    gpu.cuda()
    want, got = trace(cpu, TEXT), trace(gpu, TEXT)
    np.testing.assert_allclose(got.probs, want.probs, atol=1e-5)
    np.testing.assert_allclose(got.layers[-1].h, want.layers[-1].h, atol=1e-5)
    for method in ("occlusion", "gradient"):
        np.testing.assert_allclose(saliency(gpu, TEXT, method=method).scores, saliency(cpu, TEXT, method=method).scores, atol=1e-4)
