"""charmodels.fastcells: the hand-written RNN/GRU layers equal nn.RNN / nn.GRU in outputs, final
states and every gradient, and CharModel's training path uses them (and only it)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import charmodels as cm
from charmodels import kernels as fastcells
from charmodels.explain import saliency
from charmodels.data import encode_corpus

MODULES = {"rnn": nn.RNN, "gru": nn.GRU}


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Equal up to float32 rounding: within 1e-5 of the largest magnitude, or 1e-4 relative."""
    return got.shape == want.shape and torch.allclose(got, want, rtol=1e-4, atol=1e-5 * float(want.detach().abs().max()) + 1e-7)


def gradients(outputs: torch.Tensor, final: torch.Tensor, leaves: list[torch.Tensor], seed: int = 0) -> list[torch.Tensor]:
    """Gradients of a random linear function of the outputs and the final state, so every
    output position and every layer's final state sends a gradient back."""
    generator = torch.Generator().manual_seed(seed)
    w_out = torch.randn(outputs.shape, generator=generator)
    w_final = torch.randn(final.shape, generator=generator)
    loss = (outputs * w_out).sum() + (final * w_final).sum()
    return list(torch.autograd.grad(loss, leaves))


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("batch,layers,time", [(1, 1, 40), (4, 1, 23), (3, 2, 17), (2, 3, 9), (5, 2, 1)])
def test_outputs_final_state_and_all_gradients_equal_torch(cell, batch, layers, time):
    torch.manual_seed(batch * 10 + layers)
    rnn = MODULES[cell](6, 12, num_layers=layers, batch_first=True)
    x = torch.randn(batch, time, 6, requires_grad=True)
    h0 = torch.randn(layers, batch, 12, requires_grad=True)  # a non-zero initial state
    leaves = [x, h0, *rnn.parameters()]
    assert fastcells.supports(rnn, x, h0)

    want_out, want_final = rnn(x, h0)
    got_out, got_final = fastcells.run(rnn, x, h0)
    assert close(got_out, want_out) and close(got_final, want_final)

    names = ["input", "initial state"] + [name for name, _ in rnn.named_parameters()]
    want = gradients(want_out, want_final, leaves)
    got = gradients(got_out, got_final, leaves)
    for name, g, w in zip(names, got, want):
        assert close(g, w), (name, float((g - w).abs().max()), float(w.abs().max()))


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_long_sequence_with_large_weights_stays_equal(cell):
    # 400 steps, gates driven into saturation by large input weights: nothing may drift.
    # (Large recurrent weights would make the recurrence chaotic: then any two summation
    # orders, torch's own included, part ways after enough steps.)
    torch.manual_seed(1)
    rnn = MODULES[cell](10, 32, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.mul_(8)
    x = F.one_hot(torch.randint(0, 10, (1, 400)), 10).float()
    h0 = torch.zeros(1, 1, 32)
    leaves = list(rnn.parameters())
    want_out, want_final = rnn(x, h0)
    got_out, got_final = fastcells.run(rnn, x, h0)
    assert close(got_out, want_out)
    for g, w in zip(gradients(got_out, got_final, leaves), gradients(want_out, want_final, leaves)):
        assert close(g, w)


def reference_logits(model: cm.CharModel, ids: torch.Tensor, state=None) -> tuple[torch.Tensor, torch.Tensor]:
    """What CharModel.read computed before fastcells: the model's own nn.RNN / nn.GRU."""
    h0 = model.init_state(ids.shape[0])[0] if state is None else state[0]
    outputs, final = model.rnn(model.inputs(ids), h0)
    return model.head(outputs), final


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (2, 0), (1, 5), (2, 5)])
def test_model_training_path_equals_the_torch_modules(make_model, cell, layers, embedding_dim):
    model = make_model(cell, hidden_size=16, chars="abcdefg", layers=layers, embedding_dim=embedding_dim, seed=2)
    ids = torch.randint(0, 7, (3, 13), generator=torch.Generator().manual_seed(0))
    state = (torch.randn(layers, 3, 16, requires_grad=True),)  # a carried state, as in chunked reading
    params = [p for _, p in model.named_parameters()]
    names = [name for name, _ in model.named_parameters()] + ["state"]

    got_logits, (got_final,) = model(ids, state)
    want_logits, want_final = reference_logits(model, ids, state)
    assert close(got_logits, want_logits) and close(got_final, want_final)
    got = gradients(got_logits, got_final, params + [state[0]])
    want = gradients(want_logits, want_final, params + [state[0]])
    for name, g, w in zip(names, got, want):
        assert close(g, w), name
    if embedding_dim:
        assert "embed.weight" in names  # the embedding's gradient comes through the inputs' gradient


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_input_gradient_for_saliency(make_model, cell):
    model = make_model(cell, hidden_size=16, chars="abcdefg", seed=4)
    ids = torch.tensor([[0, 3, 1, 6, 2, 2, 5]])
    vectors = model.inputs(ids).detach()
    fast_x = vectors.clone().requires_grad_(True)
    torch.log_softmax(model.read(fast_x)[0][0, -1], -1)[2].backward()
    ref_x = vectors.clone().requires_grad_(True)
    torch.log_softmax(reference_logits_from_vectors(model, ref_x)[0, -1], -1)[2].backward()
    assert close(fast_x.grad, ref_x.grad)
    assert saliency(model, "adbgcc", method="gradient").scores.shape == (6,)


def reference_logits_from_vectors(model: cm.CharModel, vectors: torch.Tensor) -> torch.Tensor:
    outputs, _ = model.rnn(vectors, model.init_state(vectors.shape[0])[0])
    return model.head(outputs)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_one_padded_training_step_on_pets_equals_torch(cell):
    # pets trains its six lines as one padded batch: padding positions run through the
    # recurrence, the loss mask leaves them out
    corpus = cm.CORPORA["pets"]
    vocab = cm.Vocab.from_text(corpus.text)
    batch = encode_corpus(corpus, vocab)
    assert batch.inputs.shape[0] == 6 and not batch.valid.all()
    torch.manual_seed(0)
    model = cm.CharModel(cm.ModelConfig(cell, 32), vocab)
    grads = {}
    for way in ("fast", "torch"):
        logits = model(batch.inputs)[0] if way == "fast" else reference_logits(model, batch.inputs)[0]
        loss = F.cross_entropy(logits[batch.valid], batch.targets[batch.valid])
        grads[way] = torch.autograd.grad(loss, list(model.parameters()))
    for g, w in zip(grads["fast"], grads["torch"]):
        assert close(g, w)


class CountingRun:
    def __init__(self):
        self.calls = 0
        self.original = fastcells.run

    def __call__(self, *args):
        self.calls += 1
        return self.original(*args)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_training_uses_the_fast_layers_and_inference_does_not(make_model, monkeypatch, cell):
    counter = CountingRun()
    monkeypatch.setattr(fastcells, "run", counter)
    model = make_model(cell, hidden_size=8, layers=2)
    ids = torch.randint(0, 8, (2, 6))

    logits, _ = model(ids)  # gradients on, parameters require them: the training path
    assert counter.calls == 1
    layer_nodes, stack = set(), [logits.grad_fn]
    while stack:  # the autograd graph holds one hand-written node per layer
        node = stack.pop()
        if node is not None:
            layer_nodes.add(type(node).__name__)
            stack += [next_node for next_node, _ in node.next_functions]
    assert f"_{cell.upper()}LayerBackward" in layer_nodes

    with torch.no_grad():
        model(ids)
    with torch.inference_mode():
        model(ids)
    model.double()  # float64: nn.RNN / nn.GRU handle it
    model(ids, (torch.zeros(2, 2, 8, dtype=torch.float64),))
    assert counter.calls == 1

    cm.evaluate(make_model(cell, hidden_size=8), "abcabc")  # metrics come from nn.RNN / nn.GRU
    assert counter.calls == 1


def test_lstm_and_unsupported_modules_fall_back(make_model):
    x = torch.randn(2, 5, 4, requires_grad=True)
    h0 = torch.zeros(1, 2, 8)
    assert not fastcells.supports(nn.LSTM(4, 8, batch_first=True), x, (h0, h0))
    assert fastcells.supports(nn.GRU(4, 8, batch_first=True), x, h0)
    assert not fastcells.supports(nn.RNN(4, 8, nonlinearity="relu", batch_first=True), x, h0)
    assert not fastcells.supports(nn.GRU(4, 8), x, h0)  # time first
    assert not fastcells.supports(nn.GRU(4, 8, batch_first=True, bias=False), x, h0)
    assert not fastcells.supports(nn.GRU(4, 8, batch_first=True), x[:, :0], h0)  # no time steps
    assert not fastcells.supports(nn.GRU(4, 8, batch_first=True), x, torch.zeros(1, 3, 8))  # wrong state
    assert not fastcells.supports(nn.GRU(4, 8, num_layers=2, dropout=0.5, batch_first=True), x, torch.zeros(2, 2, 8))
    assert not fastcells.supports(nn.GRU(4, 8, batch_first=True).double(), x.double(), h0.double())
    with torch.no_grad():
        assert not fastcells.supports(nn.GRU(4, 8, batch_first=True), x, h0)
    frozen = nn.GRU(4, 8, batch_first=True).requires_grad_(False)
    assert not fastcells.supports(frozen, x.detach(), h0)  # nothing wants a gradient
    assert make_model("lstm", hidden_size=8)(torch.zeros(1, 3, dtype=torch.long))[0].shape == (1, 3, 8)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_training_still_reaches_the_bar_and_is_deterministic(cell):
    config = cm.ModelConfig(cell, 32)
    first, history = cm.train("hihello", config)
    second, _ = cm.train("hihello", config)
    assert history.reached and cm.evaluate(first, "hihello").meets_bar
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name


def test_bench_train_step_quick_rows():
    from bench import train_step

    threads = torch.get_num_threads()
    rows = {r["name"]: r for r in train_step.run(quick=True)}
    assert torch.get_num_threads() == threads  # restored after measuring on one thread
    assert rows["train_step.lstm.ms"]["value"] > 0
    for cell in ("rnn", "gru"):
        vs_lstm = rows[f"train_step.{cell}.fast_vs_lstm"]
        assert vs_lstm["value"] > 0 and vs_lstm["baseline"] == rows["train_step.lstm.ms"]["value"]
        assert isinstance(vs_lstm["meets_target"], bool)  # reported, not judged here
        assert rows[f"train_step.{cell}.fast_vs_nn"]["baseline"] == rows[f"train_step.{cell}.nn_vs_lstm"]["value"]
        assert rows[f"train_step.{cell}.same_gradients"]["value"] is True
