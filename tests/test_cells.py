"""charmodels.cells: each cell's equations, written once in numpy, equal torch's nn.RNN / nn.LSTM / nn.GRU,
and every named quantity a step returns is the number its equation says."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from charmodels import CharModel, ModelConfig, Vocab
from charmodels.cells import (
    GATES,
    GRUStep,
    LSTMStep,
    RNNStep,
    Weights,
    gate_rows,
    gru_step,
    lstm_step,
    project,
    rnn_step,
    sigmoid,
    weights_of,
)

TEXT = "hello world, hello there"
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def run_cells(cell: str, weights: list[Weights], x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None):
    """The cells' equations over a sequence, layer after layer: x (..., time, input), h0/c0 (layers, ..., hidden)
    -> every layer's outputs (layers, ..., time, hidden), final h and c (layers, ..., hidden)."""
    outputs, finals_h, finals_c = [], [], []
    layer_input = x
    for n, w in enumerate(weights):
        h, c, hs = h0[n], (c0[n] if c0 is not None else None), []
        for t in range(layer_input.shape[-2]):
            W_xh_x = project(layer_input[..., t, :], w)
            if cell == "lstm":
                step = lstm_step(W_xh_x, h, c, w)
                c = step.c
            else:
                step = {"rnn": rnn_step, "gru": gru_step}[cell](W_xh_x, h, w)
            h = step.h
            hs.append(h)
        layer_input = np.stack(hs, axis=-2)
        outputs.append(layer_input)
        finals_h.append(h)
        finals_c.append(c)
    return outputs, np.stack(finals_h), (np.stack(finals_c) if cell == "lstm" else None)


def torch_layer_outputs(model: CharModel, vectors: torch.Tensor, state) -> list[np.ndarray]:
    """torch's own cells, one layer at a time, so every layer's outputs can be compared."""
    outputs, layer_input = [], vectors
    for n in range(model.config.layers):
        single = TORCH[model.config.cell](layer_input.shape[-1], model.config.hidden_size, batch_first=True)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").data.copy_(getattr(model.rnn, f"{name}_l{n}"))
        layer_state = tuple(part[n : n + 1] for part in state)
        layer_input, _ = single(layer_input, layer_state if model.is_lstm else layer_state[0])
        outputs.append(layer_input.numpy())
    return outputs


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("embedding_dim", [0, 6], ids=["one-hot", "embedding"])
@pytest.mark.parametrize("batch", [None, 3], ids=["single", "batch"])
def test_cells_equal_torch(cell, layers, embedding_dim, batch):
    torch.manual_seed(layers * 10 + embedding_dim)
    model = CharModel(ModelConfig(cell, 16, layers, embedding_dim), Vocab.from_text(TEXT))
    streams = batch or 1
    ids = torch.randint(0, len(model.vocab), (streams, 20), generator=torch.Generator().manual_seed(5))
    state = tuple(torch.randn(layers, streams, 16) for _ in model.init_state(streams))  # a carried, non-zero state
    with torch.no_grad():
        vectors = model.inputs(ids)
        want_out, want_state = model.rnn(vectors, state if model.is_lstm else state[0])
        want_layers = torch_layer_outputs(model, vectors, state)
    want_h = (want_state[0] if model.is_lstm else want_state).numpy()

    x, h0 = vectors.numpy(), state[0].numpy()
    c0 = state[1].numpy() if model.is_lstm else None
    if batch is None:  # one stream as plain vectors: (time, input), (layers, hidden)
        x, h0, c0 = x[0], h0[:, 0], (c0[:, 0] if c0 is not None else None)
        want_layers = [out[0] for out in want_layers]
        want_h = want_h[:, 0]
    outputs, h_n, c_n = run_cells(cell, weights_of(model.rnn), x, h0, c0)

    for got, want in zip(outputs, want_layers):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(outputs[-1], want_out.numpy()[0] if batch is None else want_out.numpy(), atol=1e-5)
    np.testing.assert_allclose(h_n, want_h, atol=1e-5)
    if cell == "lstm":
        want_c = want_state[1].numpy()
        np.testing.assert_allclose(c_n, want_c[:, 0] if batch is None else want_c, atol=1e-5)


def torch_weights(model: CharModel, layer: int = 0) -> tuple[torch.Tensor, ...]:
    return tuple(getattr(model.rnn, f"{name}_l{layer}").detach() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def one_step(cell: str, seed: int = 0):
    """A random model, one input vector and a random previous state, as numpy and as torch."""
    torch.manual_seed(seed)
    model = CharModel(ModelConfig(cell, 8), Vocab.from_text("abcdef"))
    x = torch.randn(2, 6)  # (batch, input): any vector, not only one-hot
    h = torch.randn(2, 8)
    c = torch.randn(2, 8)
    return model, x, h, c


def test_rnn_named_quantities_are_the_equation():
    model, x, h, _ = one_step("rnn")
    w_ih, w_hh, b_ih, b_hh = torch_weights(model)
    s = rnn_step(project(x.numpy(), weights_of(model.rnn)[0]), h.numpy(), weights_of(model.rnn)[0])
    assert isinstance(s, RNNStep)
    np.testing.assert_allclose(s.W_xh_x, (x @ w_ih.T).numpy(), atol=1e-6)
    np.testing.assert_allclose(s.W_hh_h, (h @ w_hh.T).numpy(), atol=1e-6)
    np.testing.assert_allclose(s.b, (b_ih + b_hh).numpy(), atol=1e-7)  # torch's two biases, the seeds' one b
    np.testing.assert_allclose(s.pre, (x @ w_ih.T + h @ w_hh.T + b_ih + b_hh).numpy(), atol=1e-6)
    np.testing.assert_allclose(s.h, torch.tanh(torch.from_numpy(s.pre)).numpy(), atol=1e-7)
    np.testing.assert_array_equal(s.h_prev, h.numpy())


def test_lstm_gates_are_torch_formulas():
    model, x, h, c = one_step("lstm")
    w_ih, w_hh, b_ih, b_hh = torch_weights(model)
    w = weights_of(model.rnn)[0]
    s = lstm_step(project(x.numpy(), w), h.numpy(), c.numpy(), w)
    assert isinstance(s, LSTMStep)
    # torch's documented equations, gate by gate, rows in the order i, f, g, o
    W_ii, W_if, W_ig, W_io = w_ih.chunk(4)
    W_hi, W_hf, W_hg, W_ho = w_hh.chunk(4)
    b = (b_ih + b_hh).chunk(4)
    i = torch.sigmoid(F.linear(x, W_ii) + F.linear(h, W_hi) + b[0])
    f = torch.sigmoid(F.linear(x, W_if) + F.linear(h, W_hf) + b[1])
    g = torch.tanh(F.linear(x, W_ig) + F.linear(h, W_hg) + b[2])
    o = torch.sigmoid(F.linear(x, W_io) + F.linear(h, W_ho) + b[3])
    c_new = f * c + i * g
    for name, want in {"i": i, "f": f, "g": g, "o": o, "c": c_new, "h": o * torch.tanh(c_new)}.items():
        np.testing.assert_allclose(getattr(s, name), want.numpy(), atol=1e-6, err_msg=name)
    for k, gate in enumerate(GATES["lstm"]):
        rows = gate_rows("lstm", gate, 8)
        assert rows == slice(8 * k, 8 * (k + 1))
        pre = s.W_xh_x[:, rows] + s.W_hh_h[:, rows] + s.b[rows]
        np.testing.assert_allclose(getattr(s, f"pre_{gate}"), pre, atol=1e-6)
    np.testing.assert_array_equal(s.c_prev, c.numpy())


def test_gru_gates_are_torch_formulas():
    model, x, h, _ = one_step("gru")
    w_ih, w_hh, b_ih, b_hh = torch_weights(model)
    w = weights_of(model.rnn)[0]
    s = gru_step(project(x.numpy(), w), h.numpy(), w)
    assert isinstance(s, GRUStep)
    W_ir, W_iz, W_in = w_ih.chunk(3)
    W_hr, W_hz, W_hn = w_hh.chunk(3)
    b_ir, b_iz, b_in = b_ih.chunk(3)
    b_hr, b_hz, b_hn = b_hh.chunk(3)
    r = torch.sigmoid(F.linear(x, W_ir, b_ir) + F.linear(h, W_hr, b_hr))
    z = torch.sigmoid(F.linear(x, W_iz, b_iz) + F.linear(h, W_hz, b_hz))
    hn = F.linear(h, W_hn, b_hn)
    n = torch.tanh(F.linear(x, W_in, b_in) + r * hn)
    want = {"r": r, "z": z, "hn": hn, "n": n, "h": (1 - z) * n + z * h, "b_xn": b_in, "b_hn": b_hn}
    for name, value in want.items():
        np.testing.assert_allclose(getattr(s, name), value.numpy(), atol=1e-6, err_msg=name)
    np.testing.assert_allclose(s.b_r, (b_ir + b_hr).numpy(), atol=1e-7)
    np.testing.assert_allclose(s.b_z, (b_iz + b_hz).numpy(), atol=1e-7)


def test_gru_z_keeps_the_old_state_in_torchs_convention():
    # torch's h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}: with z driven to 1 the state is kept as it was
    model, x, h, _ = one_step("gru")
    w = weights_of(model.rnn)[0]
    b_hh = w.b_hh.copy()
    b_hh[gate_rows("gru", "z", 8)] = 50.0
    kept = gru_step(project(x.numpy(), w), h.numpy(), Weights(w.W_xh, w.W_hh, w.b_xh, b_hh))
    np.testing.assert_allclose(kept.z, 1.0)
    np.testing.assert_allclose(kept.h, h.numpy(), atol=1e-6)


def test_one_hot_projection_is_a_column_of_W_xh():
    model, *_ = one_step("lstm")
    w = weights_of(model.rnn)[0]
    one_hot = np.eye(6, dtype=np.float32)
    np.testing.assert_array_equal(project(one_hot, w), w.W_xh.T)


def test_sigmoid_is_exact_enough_and_never_overflows():
    a = np.array([-1000, -30, -5, -0.5, 0, 0.5, 5, 30, 1000], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from exp
        got = sigmoid(a)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, torch.sigmoid(torch.from_numpy(a)).numpy(), atol=1e-7)


def test_weights_come_from_any_device_as_float32_copies():
    model, *_ = one_step("gru")
    model.double()
    w = weights_of(model.rnn)[0]
    assert all(a.dtype == np.float32 for a in (w.W_xh, w.W_hh, w.b_xh, w.b_hh, w.b))
    w.W_hh[0, 0] = 123.0  # a copy: the model's weights are untouched
    assert float(model.rnn.weight_hh_l0.detach()[0, 0]) != 123.0


def test_gates_are_names_only():
    assert GATES == {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
    for cell, names in GATES.items():
        fields = {"rnn": RNNStep, "lstm": LSTMStep, "gru": GRUStep}[cell]._fields
        assert set(names) <= set(fields)
