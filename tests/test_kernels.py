"""charmodels.kernels: the fast RNN/GRU training layers compute cells.py's equations in the forward and
equal nn.RNN / nn.GRU in outputs, final states and every gradient, with dropout between stacked layers
too; fast_training swaps them in for its block only; numpy's BLAS follows torch's thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info
from torch import nn
from torch.nn import functional as F

import charmodels as cm
from charmodels.cells import gru_step, project, rnn_step, weights_of
from charmodels.data import encode_corpus
from charmodels.explain import saliency
from charmodels.kernels import FastGRU, FastRNN, applies, blas_limit, fast_training

MODULES = {"rnn": nn.RNN, "gru": nn.GRU}
FAST = {"rnn": FastRNN, "gru": FastGRU}


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


def node_names(output: torch.Tensor) -> set[str]:
    """The types of the autograd graph's nodes behind `output`."""
    names, stack, seen = set(), [output.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            names.add(type(node).__name__)
            stack += [next_node for next_node, _ in node.next_functions]
    return names


def uses_kernels(output: torch.Tensor) -> bool:
    return any(name.startswith(("_RNNLayer", "_GRULayer")) for name in node_names(output))


def fast_copy(rnn: nn.Module, cell: str) -> nn.Module:
    """A FastRNN / FastGRU with `rnn`'s configuration and weights."""
    fast = FAST[cell](rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers, dropout=rnn.dropout, batch_first=True)
    fast.load_state_dict(rnn.state_dict())
    return fast.train(rnn.training)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("batch,layers,time", [(1, 1, 40), (4, 1, 23), (3, 2, 17), (2, 3, 9), (5, 2, 1)])
def test_outputs_final_state_and_all_gradients_equal_torch(cell, batch, layers, time):
    torch.manual_seed(batch * 10 + layers)
    rnn = MODULES[cell](6, 12, num_layers=layers, batch_first=True)
    fast = fast_copy(rnn, cell)
    x = torch.randn(batch, time, 6, requires_grad=True)
    h0 = torch.randn(layers, batch, 12, requires_grad=True)  # a non-zero initial state
    assert applies(fast, x, h0)

    want_out, want_final = rnn(x, h0)
    got_out, got_final = fast(x, h0)
    assert uses_kernels(got_out)
    assert close(got_out, want_out) and close(got_final, want_final)

    names = ["input", "initial state"] + [name for name, _ in rnn.named_parameters()]
    want = gradients(want_out, want_final, [x, h0, *rnn.parameters()])
    got = gradients(got_out, got_final, [x, h0, *fast.parameters()])
    for name, g, w in zip(names, got, want):
        assert close(g, w), (name, float((g - w).abs().max()), float(w.abs().max()))


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_computes_the_cells_equations(cell, layers):
    torch.manual_seed(layers)
    fast = FAST[cell](5, 10, num_layers=layers, batch_first=True)
    x = torch.randn(3, 12, 5, requires_grad=True)
    h0 = torch.randn(layers, 3, 10)
    got, got_final = fast(x, h0)
    assert uses_kernels(got)
    # charmodels.cells, step by step on (batch, hidden) rows, layer after layer
    step = {"rnn": rnn_step, "gru": gru_step}[cell]
    layer_input, finals = x.detach().numpy(), []
    for n, w in enumerate(weights_of(fast)):
        h, hs = h0[n].numpy(), []
        for t in range(layer_input.shape[1]):
            h = step(project(layer_input[:, t], w), h, w).h
            hs.append(h)
        layer_input = np.stack(hs, axis=1)
        finals.append(h)
    np.testing.assert_allclose(got.detach().numpy(), layer_input, atol=1e-5)
    np.testing.assert_allclose(got_final.detach().numpy(), np.stack(finals), atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_long_sequence_with_large_weights_stays_equal(cell):
    # 400 steps, gates driven into saturation by large input weights: nothing may drift.
    # (Large recurrent weights would make the recurrence chaotic: then any two summation
    # orders, torch's own included, part ways after enough steps.)
    torch.manual_seed(1)
    rnn = MODULES[cell](10, 32, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.mul_(8)
    fast = fast_copy(rnn, cell)
    x = F.one_hot(torch.randint(0, 10, (1, 400)), 10).float()
    h0 = torch.zeros(1, 1, 32)
    want_out, want_final = rnn(x, h0)
    got_out, got_final = fast(x, h0)
    assert uses_kernels(got_out) and close(got_out, want_out)
    for g, w in zip(gradients(got_out, got_final, list(fast.parameters())), gradients(want_out, want_final, list(rnn.parameters()))):
        assert close(g, w)


def reference_with_dropout(rnn: nn.Module, cell: str, x: torch.Tensor, h0: torch.Tensor):
    """Stacked layers built from plain torch pieces: one single-layer nn.RNN / nn.GRU per layer,
    holding rnn's own parameters (so gradients reach them), and F.dropout on each output but the last."""
    layer_input, finals = x, []
    for n in range(rnn.num_layers):
        with torch.random.fork_rng(devices=[]):  # initialising it must not take dropout's draws
            single = MODULES[cell](layer_input.shape[-1], rnn.hidden_size, batch_first=True)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            setattr(single, f"{name}_l0", getattr(rnn, f"{name}_l{n}"))
        out, h_n = single(layer_input, h0[n : n + 1])
        finals.append(h_n[0])
        layer_input = F.dropout(out, rnn.dropout, training=True) if n < rnn.num_layers - 1 else out
    return layer_input, torch.stack(finals)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("layers", [2, 3])
def test_dropout_between_layers_equals_torch(cell, layers):
    torch.manual_seed(layers)
    rnn = MODULES[cell](6, 12, num_layers=layers, dropout=0.5, batch_first=True).train()
    fast = fast_copy(rnn, cell)
    x = torch.randn(4, 15, 6, requires_grad=True)
    h0 = torch.randn(layers, 4, 12, requires_grad=True)
    assert applies(fast, x, h0)  # dropout no longer sends training to the slow path

    torch.manual_seed(7)
    got_out, got_final = fast(x, h0)
    assert uses_kernels(got_out)
    got = gradients(got_out, got_final, [x, h0, *fast.parameters()])
    for way, forward in (("nn module", lambda: rnn(x, h0)), ("plain ops", lambda: reference_with_dropout(rnn, cell, x, h0))):
        torch.manual_seed(7)  # the same draws: the same dropout masks
        want_out, want_final = forward()
        assert close(got_out, want_out) and close(got_final, want_final), way
        want = gradients(want_out, want_final, [x, h0, *rnn.parameters()])
        for name, g, w in zip(["input", "initial state", *dict(rnn.named_parameters())], got, want):
            assert close(g, w), (way, name)

    # and dropout did happen: without it (eval mode) the outputs differ, the final states of
    # the first layer (before any dropout) do not
    with torch.no_grad():
        plain_out, plain_final = fast.eval()(x, h0)
    assert not torch.allclose(plain_out, got_out.detach(), atol=1e-3)
    assert torch.allclose(plain_final[0], got_final[0].detach(), atol=1e-6)


def test_fast_training_swaps_the_layers_for_its_block_only(make_model):
    for cell, fast in (("rnn", FastRNN), ("gru", FastGRU)):
        model = make_model(cell, hidden_size=8, layers=2)
        rnn, plain = model.rnn, type(model.rnn)
        parameters = dict(model.named_parameters())
        keys = list(model.state_dict())
        with fast_training(model) as inside:
            assert inside is model and model.rnn is rnn and type(model.rnn) is fast
            assert dict(model.named_parameters()) == parameters and list(model.state_dict()) == keys
            with fast_training(model):  # nested: nothing more to swap
                assert type(model.rnn) is fast
            assert type(model.rnn) is fast
        assert type(model.rnn) is plain
        with pytest.raises(RuntimeError, match="inside"), fast_training(model):
            raise RuntimeError("a failure inside the block")
        assert type(model.rnn) is plain  # restored on the way out of an exception too
    lstm = make_model("lstm", hidden_size=8)
    with fast_training(lstm):
        assert type(lstm.rnn) is nn.LSTM  # torch's fused kernel is the fast one


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_only_training_inside_the_block_uses_the_kernels(make_model, cell):
    model = make_model(cell, hidden_size=8, layers=2)
    ids = torch.randint(0, 8, (2, 6), generator=torch.Generator().manual_seed(0))
    assert not uses_kernels(model(ids)[0])  # outside the block: plain torch, even with gradients
    with fast_training(model):
        logits, _ = model(ids)
        assert uses_kernels(logits)
        with torch.no_grad():  # inference inside the block: torch's module, same numbers
            plain, _ = model(ids)
        assert torch.allclose(plain, logits.detach(), atol=1e-5)
        model.double()  # float64: the module's own forward
        assert not uses_kernels(model(ids, (torch.zeros(2, 2, 8, dtype=torch.float64),))[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (training with --device cuda)")
@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_on_the_gpu_fast_training_leaves_torch_its_own_kernels(make_model, cell):
    model = make_model(cell, hidden_size=8, layers=2).cuda()
    ids = torch.zeros(2, 5, dtype=torch.long, device="cuda")
    with fast_training(model):
        logits, _ = model(ids)
        assert not uses_kernels(logits) and logits.device.type == "cuda"
        logits.sum().backward()
    assert model.rnn.weight_hh_l0.grad is not None


def test_lstm_and_unsupported_modules_fall_back():
    x = torch.randn(2, 5, 4, requires_grad=True)
    h0 = torch.zeros(1, 2, 8)
    assert applies(nn.GRU(4, 8, batch_first=True), x, h0)
    assert applies(nn.GRU(4, 8, batch_first=True), x, None)  # no state: zeros
    assert applies(nn.GRU(4, 8, num_layers=2, dropout=0.5, batch_first=True), x, torch.zeros(2, 2, 8))
    assert not applies(nn.LSTM(4, 8, batch_first=True), x, h0)
    assert not applies(nn.RNN(4, 8, nonlinearity="relu", batch_first=True), x, h0)
    assert not applies(nn.GRU(4, 8), x, h0)  # time first
    assert not applies(nn.GRU(4, 8, batch_first=True, bias=False), x, h0)
    assert not applies(nn.GRU(4, 8, batch_first=True), x[:, :0], h0)  # no time steps
    assert not applies(nn.GRU(4, 8, batch_first=True), x[0], h0)  # unbatched
    assert not applies(nn.GRU(4, 8, batch_first=True), x, torch.zeros(1, 3, 8))  # wrong state
    assert not applies(nn.GRU(4, 8, batch_first=True).double(), x.double(), h0.double())
    with torch.no_grad():
        assert not applies(nn.GRU(4, 8, batch_first=True), x, h0)
    frozen = nn.GRU(4, 8, batch_first=True).requires_grad_(False)
    assert not applies(frozen, x.detach(), h0)  # nothing wants a gradient
    # where they do not apply, the fast layers are their parent: a relu RNN still runs
    relu = FastRNN(4, 8, nonlinearity="relu", batch_first=True)
    assert relu(x, h0)[0].shape == (2, 5, 8)


def test_under_cpu_autocast_the_kernels_compute_in_float32():
    torch.manual_seed(0)
    rnn = nn.GRU(6, 12, batch_first=True)
    fast = fast_copy(rnn, "gru")
    x = torch.randn(2, 9, 6, requires_grad=True)
    h0 = torch.zeros(1, 2, 12)
    want, _ = rnn(x, h0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert applies(fast, x, h0)
        got, _ = fast(x, h0)
    assert got.dtype == torch.float32 and uses_kernels(got) and close(got, want)


def model_logits(model: cm.CharModel, ids: torch.Tensor, state=None):
    logits, (final,) = model(ids, state)
    return logits, final


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("layers,embedding_dim,dropout", [(1, 0, 0.0), (2, 0, 0.0), (1, 5, 0.0), (2, 5, 0.0), (2, 0, 0.25)])
def test_model_training_path_equals_the_torch_modules(make_model, cell, layers, embedding_dim, dropout):
    model = make_model(cell, hidden_size=16, chars="abcdefg", layers=layers, embedding_dim=embedding_dim, seed=2)
    model.rnn.dropout = dropout
    model.train()
    ids = torch.randint(0, 7, (3, 13), generator=torch.Generator().manual_seed(0))
    state = (torch.randn(layers, 3, 16, requires_grad=True),)  # a carried state, as in chunked reading
    leaves = [p for _, p in model.named_parameters()] + [state[0]]
    names = [name for name, _ in model.named_parameters()] + ["state"]

    torch.manual_seed(3)
    want_logits, want_final = model_logits(model, ids, state)
    with fast_training(model):
        torch.manual_seed(3)
        got_logits, got_final = model_logits(model, ids, state)
    assert uses_kernels(got_logits) and not uses_kernels(want_logits)
    assert close(got_logits, want_logits) and close(got_final, want_final)
    for name, g, w in zip(names, gradients(got_logits, got_final, leaves), gradients(want_logits, want_final, leaves)):
        assert close(g, w), name


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_input_gradient_for_saliency(make_model, cell):
    model = make_model(cell, hidden_size=16, chars="abcdefg", seed=4)
    ids = torch.tensor([[0, 3, 1, 6, 2, 2, 5]])
    vectors = model.inputs(ids).detach()
    ref_x = vectors.clone().requires_grad_(True)
    torch.log_softmax(model.read(ref_x)[0][0, -1], -1)[2].backward()
    with fast_training(model):
        fast_x = vectors.clone().requires_grad_(True)
        torch.log_softmax(model.read(fast_x)[0][0, -1], -1)[2].backward()
        assert saliency(model, "adbgcc", method="gradient").scores.shape == (6,)
    assert close(fast_x.grad, ref_x.grad)


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
        with fast_training(model) if way == "fast" else torch.enable_grad():
            logits = model(batch.inputs)[0]
            assert uses_kernels(logits) == (way == "fast")
            loss = F.cross_entropy(logits[batch.valid], batch.targets[batch.valid])
            grads[way] = torch.autograd.grad(loss, list(model.parameters()))
    for g, w in zip(grads["fast"], grads["torch"]):
        assert close(g, w)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_training_steps_with_dropout_give_torchs_weights(cell):
    # twenty Adam steps of a 2-layer model with dropout 0.25, the long-text default: with the
    # same random draws, the fast layers and nn.RNN / nn.GRU end at the same weights
    vocab = cm.Vocab.from_text(cm.CORPORA["anthem"].text)
    ids = torch.tensor([vocab.encode(cm.CORPORA["anthem"].text[:121])])
    finals = {}
    for way in ("fast", "torch"):
        torch.manual_seed(0)
        model = cm.CharModel(cm.ModelConfig(cell, 32, layers=2), vocab)
        model.rnn.dropout = 0.25
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        with fast_training(model) if way == "fast" else torch.enable_grad():
            for _ in range(20):
                logits, _ = model(ids[:, :-1])
                assert uses_kernels(logits) == (way == "fast")
                loss = F.cross_entropy(logits[0], ids[0, 1:])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        finals[way] = model.state_dict()
    for name, value in finals["torch"].items():
        assert torch.allclose(finals["fast"][name], value, atol=1e-4), name


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_numpy_blas_follows_torchs_thread_count_inside_the_kernels(make_model):
    model = make_model("gru", hidden_size=8)
    ids = torch.zeros(1, 4, dtype=torch.long)
    threads = torch.get_num_threads()
    try:
        with blas_limit(2):  # numpy's own choice on a two-core machine
            before = blas_threads()
            torch.set_num_threads(1)
            with fast_training(model):
                assert blas_threads() == [1] * len(before)  # set on the way in
                torch.set_num_threads(2)  # a caller changing its mind inside the block
                logits, _ = model(ids)
                assert uses_kernels(logits)
                assert blas_threads() == [2] * len(before)  # the forward followed torch
                torch.set_num_threads(1)
                logits.sum().backward()
                assert blas_threads() == [1] * len(before)  # and so did the backward
            assert blas_threads() == before  # as the caller had it, after the block
    finally:
        torch.set_num_threads(threads)


def test_bench_train_step_quick_rows():
    from bench import train_step

    threads = torch.get_num_threads()
    rows = {r["name"]: r for r in train_step.run(quick=True)}
    assert torch.get_num_threads() == threads  # restored after measuring on one thread
    assert rows["train_step.lstm.ms"]["value"] > 0
    for cell in ("rnn", "gru"):
        vs_lstm = rows[f"train_step.{cell}.fast_vs_lstm"]
        assert vs_lstm["value"] > 0 and vs_lstm["baseline"] == rows["train_step.lstm.ms"]["value"]
        assert rows[f"train_step.{cell}.fast_vs_nn"]["baseline"] == rows[f"train_step.{cell}.nn_vs_lstm"]["value"]
        assert rows[f"train_step.{cell}.same_gradients"]["value"] is True
        dropout = rows[f"train_step.{cell}.dropout.fast_vs_nn"]
        assert dropout["value"] > 0 and dropout["baseline"] > 0
        assert rows[f"train_step.{cell}.dropout.uses_kernels"]["value"] is True
