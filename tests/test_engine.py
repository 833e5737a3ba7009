"""The numpy stepping engine agrees with torch's forward for every cell, layer count and input kind."""

import numpy as np
import pytest
import torch

from charmodels import generate, load_checkpoint
from charmodels.engine import Stepper
from charmodels.model import CharModel, ModelConfig
from charmodels.vocab import Vocab

TEXT = "hello world, hello there"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (2, 0), (2, 6)])
def test_stepper_distributions_equal_torch_forward(cell, layers, embedding_dim):
    torch.manual_seed(3)
    model = CharModel(ModelConfig(cell, 16, layers, embedding_dim), Vocab(TEXT))
    ids = model.vocab.encode(TEXT)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
        expected = torch.softmax(logits[0].double(), dim=-1).numpy()  # (time, vocab)
        _, state = model(torch.tensor([ids[:1]]))
    stepper = Stepper(model, state)
    for t in range(1, len(ids)):
        np.testing.assert_allclose(stepper.step(ids[t]), expected[t], atol=1e-6)


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
