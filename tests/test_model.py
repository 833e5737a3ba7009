"""CharModel: one contract for every cell; stepping with a carried state equals a whole-sequence read."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from charmodels import CELLS, CharModel, ModelConfig, Vocab
from charmodels.model import MAX_HIDDEN_SIZE, MAX_LAYERS

CELL_NAMES = ["rnn", "lstm", "gru"]


def test_registry_holds_the_three_cells():
    assert set(CELLS) == set(CELL_NAMES)
    assert CELLS["rnn"] is nn.RNN and CELLS["lstm"] is nn.LSTM and CELLS["gru"] is nn.GRU


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers,embedding_dim", [(1, 0), (1, 5), (2, 0), (2, 5)])
def test_stepping_with_carried_state_equals_whole_sequence(make_model, cell, layers, embedding_dim):
    model = make_model(cell, hidden_size=16, chars="abcdefg", layers=layers, embedding_dim=embedding_dim, seed=3)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 7, (2, 15), generator=generator)  # (batch, time)
    with torch.no_grad():
        whole, whole_state = model(ids)
        state = None
        stepped = []
        for t in range(ids.shape[1]):
            logits, state = model(ids[:, t : t + 1], state)  # one character, state carried
            stepped.append(logits)
        stepped = torch.cat(stepped, dim=1)
        # two chunks carry the state too
        first, mid = model(ids[:, :6])
        second, chunk_state = model(ids[:, 6:], mid)
    assert stepped.shape == whole.shape == (2, 15, 7)
    assert torch.allclose(stepped, whole, atol=1e-5)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-5)
    assert len(state) == len(whole_state) == len(chunk_state)
    for a, b, c in zip(state, whole_state, chunk_state):
        assert torch.allclose(a, b, atol=1e-5) and torch.allclose(c, b, atol=1e-5)
    # the state matters: reading the second chunk from a fresh state gives other logits
    fresh, _ = model(ids[:, 6:])
    assert not torch.allclose(fresh, second, atol=1e-5)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("batch", [1, 4])
def test_init_state_shapes(make_model, cell, layers, batch):
    model = make_model(cell, hidden_size=12, layers=layers)
    state = model.init_state(batch)
    assert len(state) == (2 if cell == "lstm" else 1)
    for part in state:
        assert part.shape == (layers, batch, 12)
        assert torch.count_nonzero(part) == 0
    if cell == "lstm":
        assert state[0] is not state[1]
    ids = torch.zeros(batch, 5, dtype=torch.long)
    with torch.no_grad():
        logits, new_state = model(ids)
        explicit, _ = model(ids, model.init_state(batch))
    assert logits.shape == (batch, 5, len(model.vocab))
    assert [p.shape for p in new_state] == [p.shape for p in state]
    assert torch.equal(logits, explicit)


def test_default_init_state_is_batch_one(make_model):
    assert make_model("lstm", hidden_size=8).init_state()[0].shape == (1, 1, 8)


@pytest.mark.parametrize("cell", ["transformer", "LSTM", "", "tanh"])
def test_unknown_cell_raises_listing_the_valid_ones(cell):
    with pytest.raises(ValueError) as info:
        ModelConfig(cell=cell)
    message = str(info.value)
    assert repr(cell) in message
    for name in CELL_NAMES:
        assert name in message


@pytest.mark.parametrize(
    "field,value",
    [
        ("hidden_size", 0),
        ("hidden_size", -1),
        ("hidden_size", 1.5),
        ("hidden_size", True),
        ("hidden_size", "8"),
        ("hidden_size", MAX_HIDDEN_SIZE + 1),
        ("layers", 0),
        ("layers", MAX_LAYERS + 1),
        ("layers", 2.0),
        ("embedding_dim", -1),
        ("embedding_dim", None),
    ],
)
def test_invalid_sizes_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})


def test_valid_edges_are_accepted():
    ModelConfig(hidden_size=1, layers=1, embedding_dim=0)
    ModelConfig(hidden_size=MAX_HIDDEN_SIZE, layers=MAX_LAYERS, embedding_dim=MAX_HIDDEN_SIZE)


def test_config_is_frozen_and_serialisable():
    config = ModelConfig("gru", 16, 2, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden_size = 32  # type: ignore[misc]
    assert config.to_dict() == {"cell": "gru", "hidden_size": 16, "layers": 2, "embedding_dim": 4}
    assert ModelConfig(**config.to_dict()) == config


def test_input_layer_one_hot_or_embedding():
    vocab = Vocab("abcde")
    one_hot = CharModel(ModelConfig("rnn", 8), vocab)
    assert one_hot.embed is None and one_hot.rnn.input_size == 5
    embedded = CharModel(ModelConfig("rnn", 8, embedding_dim=3), vocab)
    assert embedded.embed is not None and tuple(embedded.embed.weight.shape) == (5, 3)
    assert embedded.rnn.input_size == 3
    assert tuple(one_hot.head.weight.shape) == (5, 8)


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3), ()])
def test_forward_refuses_ids_that_are_not_batch_by_time(make_model, shape):
    model = make_model("lstm")
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        model(torch.zeros(shape, dtype=torch.long))


def autograd_node_names(output: torch.Tensor) -> set[str]:
    names, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and type(node).__name__ not in names:
            names.add(type(node).__name__)
            stack += [next_node for next_node, _ in node.next_functions]
    return names


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_forward_runs_torchs_own_module_in_every_grad_mode(make_model, cell):
    # a plain nn.Module: no faster layer chosen inside forward (trainers swap those in, see
    # charmodels.kernels.fast_training), and the same numbers with and without gradients
    model = make_model(cell, hidden_size=8, layers=2)
    assert type(model.rnn) is CELLS[cell]
    ids = torch.randint(0, 8, (2, 6), generator=torch.Generator().manual_seed(0))
    with_grad, _ = model(ids)
    nodes = autograd_node_names(with_grad)
    assert not any(name.startswith(("_RNNLayer", "_GRULayer")) for name in nodes)
    with torch.no_grad():
        without_grad, _ = model(ids)
    with torch.inference_mode():
        inference, _ = model(ids)
    assert torch.allclose(with_grad, without_grad, atol=1e-6) and torch.allclose(inference, without_grad, atol=1e-6)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_state_follows_the_weights_dtype_and_device(make_model, cell):
    model = make_model(cell, hidden_size=8).double()
    assert model.device == torch.device("cpu")
    assert all(part.dtype == torch.float64 for part in model.init_state(2))
    logits, _ = model(torch.zeros(2, 3, dtype=torch.long))  # one-hot inputs follow the weights too
    assert logits.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_on_the_gpu_builds_its_state_there(make_model):
    model = make_model("lstm", hidden_size=8).cuda()
    assert model.device.type == "cuda"
    assert all(part.device.type == "cuda" for part in model.init_state(1))
