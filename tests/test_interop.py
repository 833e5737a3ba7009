"""The course's own PyTorch code and charmodels' weights, both ways (charmodels.interop).

The course-style models here are built as the seeds build them: a plain nn.RNN / nn.LSTM /
nn.GRU with batch_first=True fed np.eye one-hot rows, no initial state, an nn.Linear head,
and a vocabulary in its own (unsorted) order, trained a few steps as the seeds train.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from charmodels import (
    CharModel,
    CharmodelsError,
    ModelConfig,
    Vocab,
    generate,
    load_checkpoint,
    next_char_probs,
    save_checkpoint,
)
from charmodels.checkpoint import shipped_names
from charmodels.interop import from_torch, to_torch

CELL_NAMES = ["rnn", "lstm", "gru"]
COURSE_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
SENTENCE = " seoul is the capital of south korea"  # seed 001's sentence
PROMPTS = ["s", " seoul is", "the capital of south kore", "ooo"]
TOLERANCE = 1e-6


class CourseModel(nn.Module):
    """Seed 001's `Rnn` class, for any of the three cells and any number of layers."""

    def __init__(self, cell: str, vocab_size: int, hidden_size: int, layers: int = 1, **options):
        super().__init__()
        self.rnn = COURSE_CELLS[cell](input_size=vocab_size, hidden_size=hidden_size, num_layers=layers, batch_first=True, **options)
        self.linear = nn.Linear(hidden_size, vocab_size)

    def forward(self, x):
        outputs, _ = self.rnn(x)
        return self.linear(outputs)


def one_hot(text: str, char_set: list[str]) -> torch.Tensor:
    """(1, time, vocab) as the seeds build it: np.eye rows of each character's index."""
    char_dic = {c: i for i, c in enumerate(char_set)}
    eye = np.eye(len(char_set))  # made once: the seeds' loop makes it per character, 2 MB each for 500 characters
    return torch.FloatTensor(np.array([[eye[char_dic[c]] for c in text]]))


@torch.no_grad()
def course_probs(rnn: nn.Module, head: nn.Module, char_set: list[str], prompt: str) -> dict[str, float]:
    """The next-character distribution as course code computes it: zero initial state, softmax of the last position."""
    x = one_hot(prompt, char_set)
    if not rnn.batch_first:
        x = x.transpose(0, 1)
    outputs, _ = rnn(x.to(next(rnn.parameters()).dtype))
    if not rnn.batch_first:
        outputs = outputs.transpose(0, 1)
    probs = torch.softmax(head(outputs)[0, -1].double(), dim=-1)
    return dict(zip(char_set, probs.tolist()))


def ours(model: CharModel, prompt: str) -> dict[str, float]:
    return dict(next_char_probs(model, prompt))


def assert_same_distribution(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    worst = max(abs(a[c] - b[c]) for c in a)
    assert worst < TOLERANCE, f"distributions differ by {worst:.2e}"


def permuted(chars, seed: int) -> list[str]:
    """A vocabulary order as list(set(text)) gives one: anything but sorted."""
    order = sorted(set(chars))
    random.Random(seed).shuffle(order)
    assert order != sorted(order)
    return order


def train_course_style(model: CourseModel, char_set: list[str], steps: int = 20) -> None:
    """Seed 001's loop: the whole sentence as one one-hot sequence, CrossEntropyLoss, Adam."""
    char_dic = {c: i for i, c in enumerate(char_set)}
    x_train = one_hot(SENTENCE[:-1], char_set)
    y_train = torch.LongTensor([[char_dic[c] for c in SENTENCE[1:]]])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        outputs = model(x_train)
        loss = nn.functional.cross_entropy(outputs.view(-1, len(char_set)), y_train.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2])
def test_course_model_round_trips_with_its_vocabulary_order(cell, layers):
    torch.manual_seed(layers)
    char_set = permuted(SENTENCE, seed=len(cell) + layers)
    course = CourseModel(cell, len(char_set), hidden_size=12, layers=layers)
    train_course_style(course, char_set)

    model = from_torch(course.rnn, course.linear, char_set)
    assert model.vocab.chars == char_set  # the course's order, not re-sorted
    assert model.config == ModelConfig(cell, 12, layers)
    for prompt in PROMPTS:
        assert_same_distribution(ours(model, prompt), course_probs(course.rnn, course.linear, char_set, prompt))

    rnn, head, chars = to_torch(model)
    assert chars == char_set
    assert type(rnn) is COURSE_CELLS[cell] and rnn.batch_first and rnn.num_layers == layers
    for name, tensor in course.rnn.state_dict().items():
        assert torch.equal(rnn.state_dict()[name], tensor), name
    assert torch.equal(head.weight, course.linear.weight) and torch.equal(head.bias, course.linear.bias)
    for prompt in PROMPTS:
        assert_same_distribution(course_probs(rnn, head, chars, prompt), course_probs(course.rnn, course.linear, char_set, prompt))


def test_list_of_set_order_as_the_seeds_build_it():
    """char_set = list(set(sentence)) verbatim: whatever order this run's string hashing gives."""
    torch.manual_seed(0)
    char_set = list(set(SENTENCE))
    course = CourseModel("rnn", len(char_set), hidden_size=len(char_set))  # seed 001: hidden_sz = vocab size
    train_course_style(course, char_set)
    model = CharModel.from_torch(course.rnn, course.linear, char_set)
    assert model.vocab.chars == char_set
    assert_same_distribution(ours(model, " seoul"), course_probs(course.rnn, course.linear, char_set, " seoul"))


def test_char_dic_gives_the_order_of_its_indices():
    char_set = permuted(SENTENCE, seed=5)
    char_dic = {c: i for i, c in enumerate(char_set)}
    shuffled = dict(sorted(char_dic.items()))  # the same mapping, listed in another order
    course = CourseModel("gru", len(char_set), hidden_size=6)
    assert from_torch(course.rnn, course.linear, char_dic).vocab.chars == char_set
    assert from_torch(course.rnn, course.linear, shuffled).vocab.chars == char_set
    with pytest.raises(ValueError, match="indices 0 to"):
        from_torch(course.rnn, course.linear, {**char_dic, char_set[0]: len(char_set) + 3})


def read_like_the_course(path) -> tuple[nn.Module, nn.Linear, list[str]]:
    """The README's recipe: a checkpoint into plain torch modules with safetensors and json only."""
    with safe_open(str(path), framework="pt") as f:
        meta = {key: json.loads(value) for key, value in f.metadata().items()}  # every value is a JSON string
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    config, chars = meta["model_config"], meta["vocab"]
    rnn = COURSE_CELLS[config["cell"]](len(chars), config["hidden_size"], num_layers=config["layers"], batch_first=True)
    head = nn.Linear(config["hidden_size"], len(chars))
    rnn.load_state_dict({name[4:]: t for name, t in tensors.items() if name.startswith("rnn.")})
    head.load_state_dict({name[5:]: t for name, t in tensors.items() if name.startswith("head.")})
    return rnn, head, chars


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_checkpoint_in_course_code_gives_next_char_probs(repo_root, shipped, name):
    model = shipped(name)
    # a checkpoint that does not carry its text (Tiny Shakespeare) is probed with its own greedy writing
    text = model.info["corpus"].get("text") or "".join(model.vocab.chars[:1] + [s.char for s in generate(model, model.vocab.chars[0], 60)])
    prompts = [text[:1], text[: len(text) // 2], text[:-1]]
    rnn, head, chars = model.to_torch()  # an embedding model's embedding is folded into one-hot input weights
    assert chars == model.vocab.chars
    for prompt in prompts:
        assert_same_distribution(course_probs(rnn, head, chars, prompt), ours(model, prompt))
    if model.config.embedding_dim:  # the course reads one-hot input: its own code cannot read an embedding model
        return
    plain_rnn, plain_head, plain_chars = read_like_the_course(repo_root / "checkpoints" / f"{name}.safetensors")
    assert plain_chars == model.vocab.chars
    for prompt in prompts:
        assert_same_distribution(course_probs(plain_rnn, plain_head, plain_chars, prompt), ours(model, prompt))


def test_checkpoint_tensors_carry_torch_names(tmp_path, make_model):
    model = make_model("lstm", hidden_size=5, chars="hleo", layers=2)
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        names = set(f.keys())
        metadata = f.metadata()
    rnn, head, _ = to_torch(model)
    assert names == {f"rnn.{n}" for n in rnn.state_dict()} | {f"head.{n}" for n in head.state_dict()}
    assert "rnn.weight_ih_l0" in names and "rnn.bias_hh_l1" in names and "head.weight" in names
    assert all(isinstance(value, str) for value in metadata.values())
    assert json.loads(metadata["vocab"]) == ["h", "l", "e", "o"]  # the model's order, as given
    assert json.loads(metadata["model_config"]) == {"cell": "lstm", "hidden_size": 5, "layers": 2, "embedding_dim": 0}


def test_a_course_model_becomes_a_checkpoint_in_its_order(tmp_path):
    torch.manual_seed(2)
    char_set = permuted(SENTENCE, seed=9)
    course = CourseModel("lstm", len(char_set), hidden_size=8)
    train_course_style(course, char_set)
    path = save_checkpoint(from_torch(course.rnn, course.linear, char_set), tmp_path / "course.safetensors")
    loaded = load_checkpoint(path)
    assert loaded.vocab.chars == char_set
    assert_same_distribution(ours(loaded, " seoul"), course_probs(course.rnn, course.linear, char_set, " seoul"))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_an_embedding_folds_into_one_hot_input_weights(make_model, cell):
    model = make_model(cell, hidden_size=7, chars="abcdefgh", layers=2, embedding_dim=3, seed=4)
    rnn, head, chars = to_torch(model)
    assert rnn.input_size == len(chars) == 8
    for prompt in ["a", "abcabc", "hgfedcba"]:
        assert_same_distribution(course_probs(rnn, head, chars, prompt), ours(model, prompt))
    back = from_torch(rnn, head, chars)  # one-hot from now on, the same model
    assert back.config.embedding_dim == 0
    assert_same_distribution(ours(back, "hgfedcba"), ours(model, "hgfedcba"))


def test_layers_without_bias_and_time_first_input():
    torch.manual_seed(3)
    char_set = permuted("hihello", seed=1)
    rnn = nn.GRU(len(char_set), 4, num_layers=2, bias=False)  # batch_first=False: (time, batch, feature)
    head = nn.Linear(4, len(char_set), bias=False)
    model = from_torch(rnn, head, char_set)
    for prompt in ["h", "hihell"]:
        assert_same_distribution(ours(model, prompt), course_probs(rnn, head, char_set, prompt))
    assert torch.count_nonzero(model.head.bias) == 0


def test_copies_leave_the_model_and_the_random_state_alone(make_model):
    model = make_model("rnn", hidden_size=6, chars="abc")
    before = {name: t.clone() for name, t in model.state_dict().items()}
    rng = torch.get_rng_state()
    rnn, head, chars = to_torch(model)
    again = from_torch(rnn, head, chars)
    assert torch.equal(torch.get_rng_state(), rng)  # building modules drew no numbers from the caller's generator
    with torch.no_grad():
        rnn.weight_ih_l0.add_(1.0)
        head.bias.add_(1.0)
        again.head.bias.add_(1.0)
    chars.append("z")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert model.vocab.chars == ["a", "b", "c"]
    assert not rnn.training and not head.training and not again.training


@pytest.mark.parametrize(
    "rnn, head, chars, error, match",
    [
        (nn.LSTM(3, 4, batch_first=True, bidirectional=True), nn.Linear(8, 3), "abc", ValueError, "bidirectional"),
        (nn.LSTM(3, 4, batch_first=True, proj_size=2), nn.Linear(2, 3), "abc", ValueError, "proj_size"),
        (nn.RNN(3, 4, nonlinearity="relu"), nn.Linear(4, 3), "abc", ValueError, "tanh"),
        (nn.RNN(5, 4), nn.Linear(4, 3), "abc", ValueError, "one-hot"),
        (nn.RNN(3, 4), nn.Linear(4, 5), "abc", ValueError, "Linear"),
        (nn.RNN(3, 4), nn.Linear(6, 3), "abc", ValueError, "Linear"),
        (nn.Linear(3, 4), nn.Linear(4, 3), "abc", TypeError, "nn.RNN, nn.LSTM or nn.GRU"),
        (nn.RNN(3, 4), nn.Identity(), "abc", TypeError, "nn.Linear"),
    ],
)
def test_modules_that_do_not_fit_are_refused(rnn, head, chars, error, match):
    with pytest.raises(error, match=match):
        from_torch(rnn, head, chars)


def test_a_repeated_character_is_refused():
    with pytest.raises(CharmodelsError) as raised:
        from_torch(nn.RNN(3, 4), nn.Linear(4, 3), ["a", "b", "a"])
    assert raised.value.code == "vocab_repeats"


def test_to_torch_takes_a_model():
    with pytest.raises(TypeError, match="load_checkpoint"):
        to_torch("goethe-lstm")


def test_vocab_keeps_the_course_order():
    assert Vocab(["h", "e", "l", "o"]).chars == ["h", "e", "l", "o"]
