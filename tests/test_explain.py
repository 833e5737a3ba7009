"""charmodels.explain: the trace (computed by the engine through charmodels.cells) equals torch's cells;
saliency finds the character that matters; both work for a model on a GPU; step() explains one step
with numbers each recomputed here by torch."""

import numpy as np
import pytest
import torch

from charmodels import CORPORA, Corpus, ModelConfig, TrainConfig, explain, train
from charmodels.errors import CharmodelsError
from charmodels.explain import GATES, saliency, trace
from charmodels.model import CharModel
from charmodels.sampling import next_char_probs, reshape
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


# ---- step(): one step explained, every number recomputed with torch -------------------------



def torch_step(model, text, t, layer):
    """What torch computes at step t of layer `layer`: x_t, h_{t-1}, (c_{t-1}), the gates from torch's
    documented equations on the layer's own weights (float64), and nn.RNN/LSTM/GRU's h_t, c_t."""
    ids = torch.tensor([model.vocab.encode(text[: t + 1])])
    with torch.no_grad():
        inputs = model.inputs(ids)[0]  # (time, input)
        cell = model.config.cell
        for n in range(layer + 1):
            single = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](inputs.shape[-1], model.config.hidden_size)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(single, f"{name}_l0").copy_(getattr(model.rnn, f"{name}_l{n}"))
            outputs, _ = single(inputs[:, None])  # (time, 1, hidden)
            if cell == "lstm":  # c at t-1 and t: step by step
                state, cs = None, []
                for k in range(t + 1):
                    _, state = single(inputs[k : k + 1, None], state)
                    cs.append(state[1][0, 0])
            below, inputs = inputs, outputs[:, 0]
        x, h_seq = below[t].double(), inputs.double()  # this layer's input at t, its h at every step
        h_prev = h_seq[t - 1] if t else torch.zeros(model.config.hidden_size, dtype=torch.float64)
        W_ih, W_hh = (getattr(model.rnn, f"{k}_l{layer}").double() for k in ("weight_ih", "weight_hh"))
        b_ih, b_hh = (getattr(model.rnn, f"{k}_l{layer}").double() for k in ("bias_ih", "bias_hh"))
        out = {"x": x, "h_prev": h_prev, "h": h_seq[t], "Wx": W_ih @ x, "Wh": W_hh @ h_prev, "W_ih": W_ih, "W_hh": W_hh}
        H = model.config.hidden_size
        if cell == "rnn":
            out["pre"] = W_ih @ x + b_ih + W_hh @ h_prev + b_hh
        elif cell == "lstm":
            gates = W_ih @ x + b_ih + W_hh @ h_prev + b_hh
            for k, name in enumerate("ifgo"):
                out[f"pre_{name}"] = gates[k * H : (k + 1) * H]
                out[name] = torch.tanh(gates[k * H : (k + 1) * H]) if name == "g" else torch.sigmoid(gates[k * H : (k + 1) * H])
            out["c"] = cs[t].double()
            out["c_prev"] = cs[t - 1].double() if t else torch.zeros(H, dtype=torch.float64)
        else:  # torch's GRU: r, z from both sums; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
            gi, gh = W_ih @ x + b_ih, W_hh @ h_prev + b_hh
            out["pre_r"], out["pre_z"] = gi[:H] + gh[:H], gi[H : 2 * H] + gh[H : 2 * H]
            out["r"], out["z"] = torch.sigmoid(out["pre_r"]), torch.sigmoid(out["pre_z"])
            out["pre_n"] = gi[2 * H :] + out["r"] * gh[2 * H :]
            out["n"] = torch.tanh(out["pre_n"])
            out["b_in"], out["b_hn"] = b_ih[2 * H :], b_hh[2 * H :]
        out["bias"] = b_ih + b_hh
        logits, _ = model(torch.tensor([model.vocab.encode(text[: t + 1])]))
        out["logits"] = logits[0, t].double()
    return {k: v.numpy() for k, v in out.items()}


def check_dot(dot, W, v, row, total, listed=None):
    """Each listed term is W[row, j] * v[j]; the terms and the rest add up to the total, the torch number."""
    for term in dot.terms:
        assert term.weight == pytest.approx(W[row, term.index], abs=1e-7)
        assert term.value == pytest.approx(v[term.index], abs=1e-6)
        assert term.product == pytest.approx(term.weight * term.value, abs=1e-12)
    assert sum(term.product for term in dot.terms) + dot.rest == pytest.approx(dot.total, abs=1e-9)
    assert dot.total == pytest.approx(total, abs=2e-5)
    assert dot.length == W.shape[1]
    if listed is not None:
        assert len(dot.terms) == min(listed, W.shape[1])
    shown = [abs(term.product) for term in dot.terms]
    if dot.rest_count == 0:  # every term: in the order of the sum, as a student writes it out
        assert [term.index for term in dot.terms] == list(range(W.shape[1]))
    else:
        assert shown == sorted(shown, reverse=True)  # the largest first
    hidden = np.abs(W[row] * v)
    if dot.rest_count:  # nothing left out is larger than what is listed
        assert np.sort(hidden)[: dot.rest_count].max() <= min(shown) + 1e-7


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (2, 0), (2, 5)])
def test_step_every_number_equals_torch(cell, layers, embedding_dim):
    torch.manual_seed(3)
    model = CharModel(ModelConfig(cell, 6, layers, embedding_dim), Vocab.from_text(TEXT))
    for t in (0, 4, len(TEXT) - 1):
        for layer in range(layers):
            got = explain.step(model, TEXT, t, layer=layer, temperature=0.7, top_k=3)
            want = torch_step(model, TEXT, t, layer)
            assert got.t == t and got.char == TEXT[t] and got.layer == layer and got.prompt == TEXT and got.left_out == 0
            assert got.cell == cell and got.layers == layers and got.hidden == 6
            # the input: the one-hot position or the embedding row
            assert got.input.char == TEXT[t] and got.input.index == model.vocab.encode(TEXT[t])[0]
            assert got.input.one_hot == (embedding_dim == 0)
            first = model.inputs(torch.tensor([[got.input.index]]))[0, 0].detach().numpy()
            np.testing.assert_array_equal(got.input.vector, first)
            if embedding_dim == 0:
                assert got.input.vector.sum() == 1 and got.input.vector[got.input.index] == 1
            np.testing.assert_allclose(got.x, want["x"], atol=1e-6)
            # the layer's whole step (cells' named quantities) and its full matrices
            np.testing.assert_array_equal(got.weights.W_xh, want["W_ih"].astype(np.float32))
            np.testing.assert_array_equal(got.weights.W_hh, want["W_hh"].astype(np.float32))
            np.testing.assert_allclose(got.step.h_prev, want["h_prev"], atol=1e-6)
            np.testing.assert_allclose(got.step.h, want["h"], atol=1e-6)
            np.testing.assert_allclose(got.step.W_xh_x, want["Wx"], atol=1e-5)
            np.testing.assert_allclose(got.step.W_hh_h, want["Wh"], atol=1e-5)
            if cell == "lstm":
                np.testing.assert_allclose(got.step.c, want["c"], atol=1e-6)
                np.testing.assert_allclose(got.step.c_prev, want["c_prev"], atol=1e-6)
            # every unit of a tiny model, every term of each of its dot products
            assert [u.unit for u in got.units] == list(range(6))
            for u in got.units:
                assert u.h_prev == pytest.approx(want["h_prev"][u.unit], abs=1e-6)
                assert u.h == pytest.approx(want["h"][u.unit], abs=1e-6)
                if cell == "lstm":
                    assert u.c == pytest.approx(want["c"][u.unit], abs=1e-6)
                    assert u.c_prev == pytest.approx(want["c_prev"][u.unit], abs=1e-6)
                else:
                    assert u.c is None and u.c_prev is None
                assert [g.gate for g in u.gates] == (["h"] if cell == "rnn" else list(GATES[cell]))
                for g in u.gates:
                    assert g.unit == u.unit
                    check_dot(g.x_part, want["W_ih"], want["x"], g.row, want["Wx"][g.row], listed=want["W_ih"].shape[1])
                    check_dot(g.h_part, want["W_hh"], want["h_prev"], g.row, want["Wh"][g.row], listed=6)
                    if cell == "rnn":
                        assert g.row == u.unit
                        assert g.pre == pytest.approx(want["pre"][u.unit], abs=1e-5)
                        assert g.pre == pytest.approx(g.x_part.total + g.h_part.total + g.bias, abs=1e-5)
                        assert g.value == pytest.approx(want["h"][u.unit], abs=1e-6)
                        assert g.bias == pytest.approx(want["bias"][u.unit], abs=1e-6)
                        continue
                    assert g.pre == pytest.approx(want[f"pre_{g.gate}"][u.unit], abs=1e-5)
                    assert g.value == pytest.approx(want[g.gate][u.unit], abs=1e-6)
                    if cell == "gru" and g.gate == "n":  # the candidate keeps its two biases apart
                        assert g.bias == pytest.approx(want["b_in"][u.unit], abs=1e-6)
                        assert g.bias_h == pytest.approx(want["b_hn"][u.unit], abs=1e-6)
                        r = u.gates[0].value
                        assert g.pre == pytest.approx(g.x_part.total + g.bias + r * (g.h_part.total + g.bias_h), abs=1e-5)
                    else:
                        assert g.bias == pytest.approx(want["bias"][g.row], abs=1e-6) and g.bias_h is None
                        assert g.pre == pytest.approx(g.x_part.total + g.h_part.total + g.bias, abs=1e-5)
            # the head, the softmax walk and the bars
            np.testing.assert_allclose(got.head.logits, want["logits"], atol=1e-5)
            probs = torch.softmax(torch.tensor(want["logits"]), -1).numpy()
            np.testing.assert_allclose(got.softmax.probs, probs, atol=1e-6)
            tempered = torch.softmax(torch.tensor(want["logits"]) / 0.7, -1).numpy()
            np.testing.assert_allclose(got.softmax.tempered, tempered, atol=1e-6)
            np.testing.assert_allclose(got.softmax.scaled, want["logits"] / 0.7, atol=1e-5)
            np.testing.assert_allclose(got.softmax.exp / got.softmax.total, got.softmax.tempered, atol=1e-12)
            np.testing.assert_array_equal(got.softmax.final, reshape(got.softmax.probs, 0.7, 3, None))
            assert got.softmax.kept.sum() == 3
            h_top = got.head.h
            W_hy = model.head.weight.detach().double().numpy()
            for c in got.head.candidates:
                check_dot(c.dot, W_hy, h_top, c.index, want["logits"][c.index] - model.head.bias[c.index].item(), listed=6)
                assert c.logit == pytest.approx(c.dot.total + c.bias, abs=1e-5)
                assert c.prob == pytest.approx(probs[c.index], abs=1e-6) and c.final == got.softmax.final[c.index]
            listed = [c.prob for c in got.head.candidates]
            assert listed == sorted(listed, reverse=True) and len(listed) == explain.DEFAULT_CANDIDATES


def test_step_final_probabilities_are_the_bars():
    model = cm_load("hihello-rnn")
    got = explain.step(model, "hihell")
    bars = next_char_probs(model, "hihell")
    for char, prob in bars:
        assert got.softmax.final[model.vocab.encode(char)[0]] == pytest.approx(prob, abs=1e-6)
    assert got.head.candidates[0].char == "o" and got.softmax.temperature == 1.0


def test_step_greedy_and_nucleus():
    model = cm_load("goethe-lstm")
    greedy = explain.step(model, "Knowing is", temperature=0)
    assert greedy.softmax.scaled is None and greedy.softmax.exp is None and greedy.softmax.tempered is None
    assert greedy.softmax.final.max() == 1.0 and greedy.softmax.kept.sum() == 1
    nucleus = explain.step(model, "Knowing is", temperature=2.0, top_p=0.5)
    np.testing.assert_array_equal(nucleus.softmax.final, reshape(nucleus.softmax.probs, 2.0, None, 0.5))
    assert 1 <= nucleus.softmax.kept.sum() < len(model.vocab)


def cm_load(name):
    from charmodels import load_checkpoint

    return load_checkpoint(name)


def test_step_of_a_large_model_summarises_its_dot_products():
    model = cm_load("goethe-lstm")  # 128 units
    got = explain.step(model, "Knowing is not enough; we must")
    assert len(got.units) == explain.DEFAULT_UNITS
    biggest = np.argsort(-np.abs(got.step.h), kind="stable")[: explain.DEFAULT_UNITS]
    assert [u.unit for u in got.units] == sorted(biggest.tolist())
    for u in got.units:
        for g in u.gates:
            assert len(g.h_part.terms) == explain.DEFAULT_TERMS and g.h_part.rest_count == 128 - explain.DEFAULT_TERMS
            assert sum(t.product for t in g.h_part.terms) + g.h_part.rest == pytest.approx(g.h_part.total, abs=1e-9)
            assert g.h_part.total == pytest.approx(got.step.W_hh_h[g.row], abs=1e-5)
    chosen = explain.step(model, "Knowing", units=[7, 3, 7], top=2)
    assert [u.unit for u in chosen.units] == [7, 3] and all(len(g.h_part.terms) == 2 for g in chosen.units[0].gates)
    # a one-hot x_t: the one term that is not 0 is listed, its zeros summed as the rest (exactly 0)
    for g in chosen.units[0].gates:
        assert [t.index for t in g.x_part.terms] == [chosen.input.index] and g.x_part.terms[0].value == 1
        assert g.x_part.rest == 0 and g.x_part.rest_count == len(model.vocab) - 1


def test_step_reads_a_bounded_prompt():
    model = cm_load("hihello-gru")
    prompt = "hihello" * 200  # 1,400 characters
    got = explain.step(model, prompt)
    assert got.left_out == len(prompt) - explain.MAX_STEP_PROMPT
    assert got.prompt == prompt[-explain.MAX_STEP_PROMPT:] and got.t == explain.MAX_STEP_PROMPT - 1
    assert explain.step(model, "hihe", t=-2).t == 2 and explain.step(model, "hihe", t=-2).char == "h"


@pytest.mark.parametrize(
    "kwargs,code,name",
    [
        ({"t": 4}, "not_whole", "t"),
        ({"t": -5}, "not_whole", "t"),
        ({"t": 1.5}, "not_whole", "t"),
        ({"layer": 1}, "not_whole", "layer"),
        ({"units": [2]}, "not_whole", "unit"),
        ({"units": []}, "not_units", None),
        ({"units": "0"}, "not_units", None),
        ({"temperature": -1}, "not_number", "temperature"),
        ({"top_p": 0}, "not_number_above", "top_p"),
        ({"top": 0}, "not_whole", "top"),
    ],
)
def test_step_refuses_bad_arguments_by_code(kwargs, code, name):
    model = CharModel(ModelConfig("gru", 2), Vocab("hi"))
    with pytest.raises(CharmodelsError) as info:
        explain.step(model, "hihi", **kwargs)
    assert info.value.code == code
    if name:
        assert info.value.params["name"] == name


def test_step_refuses_prompts_like_generate():
    model = CharModel(ModelConfig("rnn", 2), Vocab("hi"))
    with pytest.raises(CharmodelsError) as info:
        explain.step(model, "")
    assert info.value.code == "empty_prompt"
    with pytest.raises(ValueError, match="'z'"):
        explain.step(model, "hz")
