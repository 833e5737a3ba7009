"""charmodels.gradflow: the gradient of one prediction at every earlier step equals a direct autograd
computation, concentrates on the copied character of the lab's copy task, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from charmodels import CharModel, ModelConfig, Vocab
from charmodels.errors import CharmodelsError
from charmodels.explain import trace
from charmodels.gradflow import (
    MAX_FLOW_TEXT,
    compare_flow,
    gradient_flow,
    lab_flow,
    train_lab_model,
)
from charmodels.lab import LabConfig, held_out_lines, run_point

TEXT = "hihello hello"


def tiny(cell: str, layers: int = 1, embedding_dim: int = 0, seed: int = 0) -> CharModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CharModel(ModelConfig(cell, 6, layers, embedding_dim), Vocab.from_text(TEXT)).eval()


def restarted(model: CharModel, ids: torch.Tensor, t: int, position: int, state, index: int) -> torch.Tensor:
    """log p(target) when the model restarts after step t from `state` and reads on to `position`."""
    if t + 1 < position:
        out, _ = model.read(model.inputs(ids[:, t + 1 : position]), state)
        last = out[0, -1]
    else:
        last = model.head(state[0][-1, 0])  # the prediction reads the top layer's h
    return torch.log_softmax(last.double(), -1)[index]


def direct(model: CharModel, text: str, position: int, target: str):
    """The same norms without the module: the input gradient from one fused forward pass of torch's
    nn.RNN/LSTM/GRU, and each step's top-layer state gradients by restarting the model from that
    state as leaf tensors. For the LSTM's c_t the top h_t is rebuilt as o_t * tanh(c_t) (o_t from
    the trace), so that c_t's gradient takes its path through h_t too."""
    ids = torch.tensor([model.vocab.encode(text[:position])])
    index = model.vocab.encode(target)[0]
    x = model.inputs(ids).detach().requires_grad_(True)
    logits, _ = model.read(x)
    (gx,) = torch.autograd.grad(torch.log_softmax(logits[0, -1].double(), -1)[index], x)
    o = trace(model, text[:position]).layers[-1].gates.get("o")  # (time, hidden), LSTM only
    hidden, cell = [], []
    for t in range(position):
        with torch.no_grad():
            _, state = model(ids[:, : t + 1])
        leaves = tuple(part.clone().requires_grad_(True) for part in state)  # (layers, 1, hidden) each
        (gh,) = torch.autograd.grad(restarted(model, ids, t, position, leaves, index), [leaves[0]])
        hidden.append(float(gh[-1].double().norm()))
        if model.is_lstm:
            c = state[1].clone().requires_grad_(True)
            top_h = torch.tensor(o[t]) * torch.tanh(c[-1])  # h_t = o_t * tanh(c_t): equal to state[0][-1]
            assert torch.allclose(top_h, state[0][-1], atol=1e-6)
            h = torch.cat([state[0][:-1], top_h[None]])
            (gc,) = torch.autograd.grad(restarted(model, ids, t, position, (h, c), index), [c])
            cell.append(float(gc[-1].double().norm()))
    return gx[0].double().norm(dim=-1).numpy(), np.array(hidden), np.array(cell) if cell else None


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (2, 3)])
def test_equals_direct_autograd(cell, layers, embedding_dim):
    model = tiny(cell, layers, embedding_dim)
    weights_before = [p.detach().clone() for p in model.parameters()]
    flow = gradient_flow(model, TEXT, position=9, target="e")
    x, h, c = direct(model, TEXT, 9, "e")
    assert flow.text == TEXT[:9] and flow.target == "e" and flow.position == 9
    assert list(flow.distance) == list(range(9, 0, -1))
    np.testing.assert_allclose(flow.input_norms, x, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(flow.hidden_norms, h, rtol=1e-4, atol=1e-9)
    if cell == "lstm":
        np.testing.assert_allclose(flow.cell_norms, c, rtol=1e-4, atol=1e-9)
        assert flow.cell_norms[-1] > 0  # the last c_t reaches the prediction through its own h_t
    else:
        assert flow.cell_norms is None
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([model.vocab.encode(TEXT[:9])]))[0][0, -1].double(), -1)
    assert flow.target_prob == pytest.approx(float(probs[model.vocab.encode("e")[0]]), rel=1e-6)
    assert all(p.grad is None for p in model.parameters())  # the weights' gradients are left alone
    assert all(torch.equal(a, b) for a, b in zip(weights_before, model.parameters()))
    assert flow.norm == "l2" and flow.of.startswith("log p")


def test_defaults_explain_the_next_character():
    model = tiny("gru")
    inside = gradient_flow(model, TEXT, position=4)
    assert inside.target == TEXT[4] and inside.text == TEXT[:4]  # the text's own character at the position
    after = gradient_flow(model, TEXT)
    assert after.position == len(TEXT)
    with torch.no_grad():
        logits, _ = model(torch.tensor([model.vocab.encode(TEXT)]))
    assert after.target == model.vocab.chars[int(logits[0, -1].argmax())]  # after the text: the model's choice
    data = after.to_dict()
    assert len(data["hidden_norms"]) == len(TEXT) and data["cell_norms"] is None


@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread (two threads on a busy two-core machine thrash)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_copy_task_concentrates_on_the_copied_character(one_thread):
    """The lab's task: a or b, four fillers, the first letter again. A GRU that learned it predicts the
    answer from the first character: its input gradient is largest there, well above the fillers'."""
    model = train_lab_model(LabConfig(cell="gru", gap=4, steps=300, seed=0))
    flow = lab_flow({"gru": model}, gap=4, lines=64)["gru"]
    assert flow.target_prob > 0.95 and flow.lines == 64  # the copy is learned
    norms = flow.input_norms  # distance 5 (the copied letter) down to 1
    assert int(np.argmax(norms)) == 0, norms
    assert norms[0] > 2 * np.median(norms[1:]), norms
    assert list(flow.distance) == [5, 4, 3, 2, 1]


def test_compare_side_by_side_and_bad_input():
    models = {cell: tiny(cell) for cell in ("rnn", "lstm", "gru")}
    flows = compare_flow(models, TEXT, position=5)
    assert list(flows) == ["rnn", "lstm", "gru"] and {f.cell for f in flows.values()} == {"rnn", "lstm", "gru"}
    model = models["rnn"]
    with pytest.raises(CharmodelsError) as error:
        gradient_flow(model, TEXT, position=0)
    assert error.value.code == "not_whole"
    with pytest.raises(CharmodelsError) as error:
        gradient_flow(model, TEXT, position=len(TEXT) + 1)
    assert error.value.code == "not_whole"
    with pytest.raises(CharmodelsError) as error:
        gradient_flow(model, TEXT, target="z")
    assert error.value.code == "not_choice"
    with pytest.raises(CharmodelsError) as error:
        gradient_flow(model, "hiz")
    assert error.value.code == "unknown_chars"
    with pytest.raises(CharmodelsError) as error:
        gradient_flow(model, "")
    assert error.value.code == "empty_prompt"
    with pytest.raises(CharmodelsError) as error:
        gradient_flow(model, "h" * (MAX_FLOW_TEXT + 1))
    assert error.value.code == "prompt_too_long"
    with pytest.raises(CharmodelsError) as error:
        compare_flow({}, TEXT)
    assert error.value.code == "model_expected"


def test_lab_model_trains_as_run_point_does(one_thread):
    """train_lab_model repeats run_point's training: the same config measures the same on the held-out lines."""
    config = LabConfig(cell="rnn", gap=3, steps=40, seed=2)
    model = train_lab_model(config)
    ids = torch.tensor([model.vocab.encode(line) for line in held_out_lines(config.gap, config.eval_lines)])
    with torch.no_grad():
        logits, _ = model(ids[:, :-1])
    accuracy = float((logits[:, -1].argmax(-1) == ids[:, -1]).double().mean())
    eval_loss = round(float(torch.nn.functional.cross_entropy(logits[:, -1].double(), ids[:, -1])), 5)
    point = run_point(config)
    assert (accuracy, eval_loss) == (point.accuracy, point.eval_loss)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_on_the_gpu_gives_the_cpu_numbers():
    model = tiny("lstm", layers=2)
    on_cpu = gradient_flow(model, TEXT, position=9)
    on_gpu = gradient_flow(tiny("lstm", layers=2).cuda(), TEXT, position=9)
    np.testing.assert_allclose(on_gpu.hidden_norms, on_cpu.hidden_norms, rtol=1e-5)
    np.testing.assert_allclose(on_gpu.cell_norms, on_cpu.cell_norms, rtol=1e-5)
    np.testing.assert_allclose(on_gpu.input_norms, on_cpu.input_norms, rtol=1e-5)
