"""The numpy stepping engine (built on charmodels.cells) agrees with torch's forward for every cell,
layer count and input kind; it records what each step computed; generation holds numpy's BLAS
to one thread while it runs and gives it back after."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from charmodels import generate, load_checkpoint, next_char_probs
from charmodels.cells import GRUStep, LSTMStep, RNNStep
from charmodels.engine import Stepper
from charmodels.kernels import blas_limit
from charmodels.model import CharModel, ModelConfig
from charmodels.vocab import Vocab

TEXT = "hello world, hello there"
NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (a model trained with --device cuda)")


@pytest.fixture
def exact_gpu():
    """float32 on the GPU as on the CPU: no TF32 shortcuts in cuDNN's RNNs or in matmuls, for the test."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (2, 0), (2, 6)])
def test_stepper_distributions_equal_torch_forward(cell, layers, embedding_dim):
    torch.manual_seed(3)
    model = CharModel(ModelConfig(cell, 16, layers, embedding_dim), Vocab.from_text(TEXT))
    ids = model.vocab.encode(TEXT)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
        expected = torch.softmax(logits[0].double(), dim=-1).numpy()  # (time, vocab)
        _, state = model(torch.tensor([ids[:1]]))
    stepper = Stepper(model, state)
    for t in range(1, len(ids)):
        np.testing.assert_allclose(stepper.step(ids[t]), expected[t], atol=1e-6)
    fresh = Stepper(model)  # no state: a fresh one, as model(ids) starts from
    np.testing.assert_allclose(fresh.run(ids), expected, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recording_keeps_every_step_of_every_layer(cell):
    torch.manual_seed(0)
    model = CharModel(ModelConfig(cell, 8, 2), Vocab.from_text(TEXT))
    ids = model.vocab.encode("hello")
    plain, recording = Stepper(model), Stepper(model, record=True)
    for index in ids:
        np.testing.assert_array_equal(plain.step(index), recording.step(index))  # recording changes no number
    assert plain.recorded == [] and len(recording.recorded) == len(ids)
    kind = {"rnn": RNNStep, "lstm": LSTMStep, "gru": GRUStep}[cell]
    with torch.no_grad():
        outputs, _ = model.rnn(model.inputs(torch.tensor([ids])))
        logits, _ = model(torch.tensor([ids]))
    for t, record in enumerate(recording.recorded):
        assert record.index == ids[t]
        assert len(record.layers) == 2 and all(isinstance(s, kind) for s in record.layers)
        np.testing.assert_allclose(record.layers[-1].h, outputs[0, t].numpy(), atol=1e-6)
        np.testing.assert_allclose(record.logits, logits[0, t].numpy(), atol=1e-5)
        np.testing.assert_allclose(record.probs, torch.softmax(logits[0, t].double(), -1).numpy(), atol=1e-6)
        if t:  # each step starts from the state the previous one left
            np.testing.assert_array_equal(record.layers[0].h_prev, recording.recorded[t - 1].layers[0].h)
        # layer 2 reads layer 1's h_t: its W_xh x_t is W_xh applied to it
        w_ih = model.rnn.weight_ih_l1.detach().numpy()
        np.testing.assert_allclose(record.layers[1].W_xh_x, w_ih @ record.layers[0].h, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generate_writes_what_torch_stepping_writes(cell):
    model = load_checkpoint(f"anthem-{cell}")
    written = [step.char for step in generate(model, "O say", 300, temperature=0.9, seed=4)]
    # the same sampling, every step computed by torch from the carried state
    rng = np.random.default_rng(4)
    ids = model.vocab.encode("O say")
    with torch.no_grad():
        logits, state = model(torch.tensor([ids]))
        expected = []
        for _ in range(300):
            probs = torch.softmax(logits[0, -1].double(), -1).numpy()
            logp = np.log(np.maximum(probs, 1e-300)) / 0.9
            dist = np.exp(logp - logp.max())
            dist /= dist.sum()
            index = int(rng.choice(len(dist), p=dist))
            expected.append(model.vocab.chars[index])
            logits, state = model(torch.tensor([[index]]), state)
    assert written == expected


def test_generation_runs_on_one_blas_thread_and_gives_the_rest_back():
    model = load_checkpoint("anthem-gru")
    with blas_limit(2):  # as on a machine where numpy would use two
        before = blas_threads()
        seen = [blas_threads() for _ in generate(model, "O", 5)]
        assert all(threads == [1] * len(before) for threads in seen)  # while it writes
        assert blas_threads() == before  # after the last character
        steps = generate(model, "O", 50)
        next(steps), next(steps)
        assert blas_threads() == [1] * len(before)
        steps.close()  # a reader that stops early (the app's Stop button)
        assert blas_threads() == before


@NEEDS_CUDA
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_model_on_the_gpu_generates_what_it_writes_on_the_cpu(cell, exact_gpu):
    cpu = load_checkpoint(f"anthem-{cell}")
    gpu = load_checkpoint(f"anthem-{cell}").cuda()
    write = lambda model: "".join(s.char for s in generate(model, "O say", 100, temperature=0.8, seed=1))
    assert write(gpu) == write(cpu)
    assert [c for c, _ in next_char_probs(gpu, "O say")[:3]] == [c for c, _ in next_char_probs(cpu, "O say")[:3]]
    with torch.no_grad():
        _, state = gpu(torch.tensor([[0]], device="cuda"))
    np.testing.assert_allclose(Stepper(gpu, state).step(1), Stepper(cpu, tuple(s.cpu() for s in state)).step(1), atol=1e-5)
