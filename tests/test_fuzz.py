"""Property-based fuzzing (hypothesis) of what users and the public page can throw at the library.

Every call gives a result that is right (a distribution summing to 1, the asked number of steps,
characters of the vocabulary) or raises ValueError (CheckpointError for files) with a message;
never another exception type, never a hang (a SIGALRM bound turns a hang into a failure).
Damaged checkpoint bytes (truncations, bit flips, garbage, pickles) raise CheckpointError, and so do
files written from parts with safetensors (any tensor names, shapes, dtypes and values under any metadata).

Real shipped checkpoints, real files in a temporary folder; no mocks. Runs in well under a minute.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as save_tensors

import charmodels as cm
from charmodels import checkpoint
from charmodels.checkpoint import METADATA_SHA256, tensor_digest
from charmodels.errors import MESSAGES
from charmodels.sampling import MAX_LENGTH, MAX_PROMPT
from charmodels.vocab import UnknownCharacterError, describe_char

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["goethe-lstm", "anthem-gru", "tsingtao-rnn", "pets-lstm"]  # ASCII, ’ and newline, Korean, lines
CALL_SECONDS = 30  # one call, even 10,000 characters on a loaded machine, takes about a second

# Single code points that break naive text handling: NUL, controls, combining marks, joiners, emoji,
# a byte-order mark, CJK, right-to-left, the typographic apostrophe of the anthem.
SPECIAL_CHARS = ["\x00", "\x01", "\x7f", "\t", "\r", "\n", "\u0301", "\u200b", "\u200d", "\ufeff", "\u2028",
                 "😀", "👩", "🇰", "한", "\u05d0", "’", "\\", '"', "'", "\uffff", "\U0010ffff"]
SPECIAL_TEXTS = ["", " ", "👨\u200d👩\u200d👧", "🇰🇷", "e\u0301", "K\x00", "Kn\u0301owing", "😀🎉", "\r\n", "a" * 3000, "한국 사람", "\x00" * 5]
HUGE = [10**400, -(10**400), 2**63, 2**64, -(2**63), 2**1000]
EDGE_NUMBERS = [0, -0.0, 1, -1, 2, 0.5, 1.0, 1e-320, 5e-324, 2.0, 10.0, math.nextafter(10.0, 11), 1e308, -1e308,
                math.inf, -math.inf, math.nan, 2**53 + 1, *HUGE, True, False]
# "any number", as a JSON API or a Python caller may send it: and a few things that are not numbers
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(EDGE_NUMBERS),
    st.sampled_from(["1", "0.5", "nan", "", "abc", Decimal("0.5"), Decimal("NaN"), Fraction(1, 3), 1 + 2j,
                     np.float64(0.5), np.int64(3), np.float32("nan"), [1], (2,), b"1"]),
)


def fuzz(examples: int) -> settings:
    """Bounded runs: `examples` cases, no per-case deadline (a loaded 2-core CI machine), no slow-data warnings."""
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Hang(Exception):
    """A call ran past its time bound."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Turn a hang into a failure: SIGALRM raises Hang in the test's (main) thread."""

    def expire(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_clear(error: BaseException) -> None:
    assert isinstance(error, ValueError | cm.CheckpointError), f"{type(error).__name__}: {error}"
    assert str(error).strip(), f"{type(error).__name__} without a message"
    event(f"refused: {type(error).__name__}")  # --hypothesis-show-statistics shows how often each outcome ran


def mostly(valid: st.SearchStrategy, wild: st.SearchStrategy, tenths: int = 8) -> st.SearchStrategy:
    """`valid` values `tenths` in ten times, so that calls with several arguments often really run,
    `wild` ones otherwise (out of range, NaN, huge, the wrong type)."""
    return st.integers(0, 9).flatmap(lambda n: valid if n < tenths else wild)


def prompts_for(model: cm.CharModel) -> st.SearchStrategy:
    """Mostly readable prompts (so generating really runs), and anything else as well."""
    vocab = model.vocab.chars
    readable = st.text(alphabet=st.sampled_from(vocab), min_size=1, max_size=120)
    return mostly(readable, st.one_of(
        st.text(alphabet=st.sampled_from(vocab + SPECIAL_CHARS), max_size=40),
        st.text(max_size=40),  # any Unicode (hypothesis leaves out lone surrogates, which no str from UTF-8 has)
        st.sampled_from(SPECIAL_TEXTS),
        st.sampled_from([None, 5, 1.5, b"Knowing", ["K"], ("K",)]),
    ), tenths=6)


@st.composite
def model_and_prompt(draw) -> tuple[str, object]:
    name = draw(st.sampled_from(MODELS), label="model")
    return name, draw(prompts_for(cm.load_checkpoint(name) if name not in _MODELS else _MODELS[name]), label="prompt")


_MODELS: dict[str, cm.CharModel] = {}


@pytest.fixture(scope="module")
def models(shipped) -> dict[str, cm.CharModel]:
    _MODELS.update({name: shipped(name) for name in MODELS})
    return _MODELS


# ---------------------------------------------------------------- Vocab


@fuzz(300)
@given(chars=st.text(min_size=1, max_size=40), text=st.text(max_size=60), extra=st.lists(st.sampled_from(SPECIAL_CHARS), max_size=3))
@example(chars="abc", text="a\x00b😀c\u0301", extra=[])
@example(chars="\x00\u0301😀", text="\x00\u0301😀", extra=[])
def test_vocab_round_trips_or_names_exactly_the_unknown_characters(chars, text, extra):
    vocab = cm.Vocab.from_text(chars + "".join(extra[:1]))  # the sorted set of the characters
    assert vocab.chars == sorted(set(vocab.chars)) and all(len(c) == 1 for c in vocab.chars)
    text = text + "".join(extra)
    known = set(vocab.chars)
    unknown = list(dict.fromkeys(c for c in text if c not in known))
    if unknown:
        with pytest.raises(UnknownCharacterError) as info:
            vocab.encode(text)
        assert isinstance(info.value, ValueError)
        assert info.value.chars == unknown
        assert str(info.value) == "not in the model's vocabulary: " + ", ".join(describe_char(c) for c in unknown)
        assert vocab.unknown(text) == unknown
    else:
        ids = vocab.encode(text)
        assert all(isinstance(i, int) and 0 <= i < len(vocab) for i in ids)
        assert vocab.decode(ids) == text


@fuzz(150)
@given(entries=st.one_of(st.text(max_size=10), st.lists(st.one_of(st.text(max_size=2), st.integers(), st.none()), max_size=6)))
def test_vocab_construction_gives_a_vocab_or_a_value_error(entries):
    texts_only = all(isinstance(entry, str) for entry in entries)
    try:
        vocab = cm.Vocab(entries)
    except (ValueError, TypeError) as error:
        assert str(error).strip()
        assert isinstance(error, ValueError) or not texts_only  # TypeError only for entries that are not text
        return
    assert vocab.chars == list(entries) and all(isinstance(c, str) and len(c) == 1 for c in vocab.chars)  # the order given


@fuzz(150)
@given(ids=st.lists(anything, max_size=6))
def test_vocab_decode_gives_text_or_a_value_error(ids):
    vocab = cm.Vocab("abc")
    try:
        text = vocab.decode(ids)
    except ValueError as error:
        assert_clear(error)
        return
    assert len(text) == len(ids) and set(text) <= set("abc")


# ---------------------------------------------------------------- next_char_probs and generate


@fuzz(150)
@given(case=model_and_prompt())
def test_next_char_probs_is_a_distribution_or_a_clear_error(models, case):
    name, prompt = case
    model = models[name]
    try:
        with time_limit(CALL_SECONDS):
            pairs = cm.next_char_probs(model, prompt)
    except ValueError as error:
        assert_clear(error)
        if isinstance(prompt, str) and prompt and model.vocab.unknown(prompt):
            assert isinstance(error, UnknownCharacterError) and error.chars == model.vocab.unknown(prompt)
        else:  # empty or not text
            assert not isinstance(prompt, str) or not prompt
        return
    event("answered")
    assert isinstance(prompt, str) and prompt and not model.vocab.unknown(prompt)
    chars = [c for c, _ in pairs]
    probs = np.array([p for _, p in pairs])
    assert sorted(chars) == model.vocab.chars  # every character once
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0) and abs(probs.sum() - 1) < 1e-9
    assert np.all(np.diff(probs) <= 0)  # most likely first


def check_steps(model: cm.CharModel, steps: list, length: int, temperature, top_k, top_p) -> None:
    event("generated" if steps else "generated nothing (length 0)")
    assert len(steps) == length
    if not steps:
        return
    vocab = tuple(model.vocab.chars)
    dists = np.stack([s.dist for s in steps])
    model_dists = np.stack([s.model_dist for s in steps])
    indices = np.array([s.index for s in steps])
    for matrix in (dists, model_dists):
        assert matrix.shape == (length, len(vocab))
        assert np.all(np.isfinite(matrix)) and np.all(matrix >= 0)
        assert np.all(np.abs(matrix.sum(axis=1) - 1) < 1e-9)
    rows = np.arange(length)
    assert np.all(dists[rows, indices] > 0)  # drawn from where the distribution has mass
    assert [s.prob for s in steps] == model_dists[rows, indices].tolist()
    assert all(s.chars == vocab and s.char == vocab[s.index] for s in steps)
    if temperature == 0:  # greedy: all mass on the model's most likely character
        assert np.all(dists[rows, indices] == 1) and np.all(indices == model_dists.argmax(axis=1))
    if top_k is not None:
        assert np.all(np.count_nonzero(dists, axis=1) <= top_k)


lengths = st.one_of(st.integers(-3, 60), st.integers(), st.sampled_from([0, 1, MAX_LENGTH, MAX_LENGTH + 1, *HUGE]), anything)
temperatures = st.one_of(st.floats(0, 10), st.floats(), anything)
top_ks = st.one_of(st.none(), st.integers(-3, 30), st.integers(), anything)
top_ps = st.one_of(st.none(), st.floats(0, 1), st.floats(), anything)
seeds = st.one_of(st.none(), st.integers(0, 2**64), st.integers(), anything)
valid_lengths = st.integers(0, 80)
valid_temperatures = st.one_of(st.just(0), st.floats(0, 10))
valid_top_ks = st.one_of(st.none(), st.integers(1, 30))
valid_top_ps = st.one_of(st.none(), st.floats(0, 1, exclude_min=True))
valid_seeds = st.one_of(st.none(), st.integers(0, 2**128))


@fuzz(200)
@given(
    case=model_and_prompt(),
    length=mostly(valid_lengths, lengths),
    temperature=mostly(valid_temperatures, temperatures),
    top_k=mostly(valid_top_ks, top_ks),
    top_p=mostly(valid_top_ps, top_ps),
    seed=mostly(valid_seeds, seeds),
)
@example(case=("goethe-lstm", "K"), length=MAX_LENGTH, temperature=10.0, top_k=10**400, top_p=5e-324, seed=2**1000)
@example(case=("goethe-lstm", "K"), length=5, temperature=10**400, top_k=None, top_p=None, seed=None)
@example(case=("anthem-gru", "O"), length=5, temperature=5e-324, top_k=1, top_p=1, seed=-1)
@example(case=("anthem-gru", "O"), length=5, temperature=0.7, top_k=None, top_p=None, seed=1.5)
def test_generate_gives_the_steps_asked_for_or_a_clear_error(models, case, length, temperature, top_k, top_p, seed):
    name, prompt = case
    model = models[name]
    try:
        steps = cm.generate(model, prompt, length, temperature, top_k, top_p, seed)
    except ValueError as error:  # every bad argument is refused up front, before anything runs
        assert_clear(error)
        return
    with time_limit(CALL_SECONDS):  # generating never fails once it started: no except here
        out = list(steps)
    check_steps(model, out, length, temperature, top_k, top_p)


def test_a_prompt_over_the_limit_is_refused_at_once(models):
    model = models["goethe-lstm"]
    started = time.monotonic()
    with pytest.raises(ValueError, match="limit"):
        cm.next_char_probs(model, "K" * (MAX_PROMPT + 1))
    with pytest.raises(ValueError, match="limit"):
        cm.generate(model, "K" * (MAX_PROMPT + 1), 5)
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- checkpoint bytes

BASE = "hihello-gru"  # a small shipped checkpoint (211 kB): many loads per second


class Blob(bytes):
    """A file's bytes that print as their size in hypothesis' reports, not as half a megabyte."""

    def __repr__(self) -> str:
        return f"<{len(self):,} bytes>"


def header_end(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-checkpoints")


@pytest.fixture(scope="module")
def original() -> bytes:
    return Blob((ROOT / "checkpoints" / f"{BASE}.safetensors").read_bytes())


@pytest.fixture(scope="module")
def resaved(folder) -> bytes:
    """The same shipped model saved by this version of the library: with its metadata SHA-256."""
    model = cm.load_checkpoint(BASE)
    reserved = {"format", "format_version", "model_config", "vocab", "tensor_sha256", "versions", METADATA_SHA256, "path"}
    path = cm.save_checkpoint(model, folder / "resaved.safetensors", **{k: v for k, v in model.info.items() if k not in reserved})
    data = path.read_bytes()
    assert METADATA_SHA256 in json.loads(data[8 : header_end(data)])["__metadata__"]
    return Blob(data)


@pytest.fixture(scope="module")
def reference() -> cm.CharModel:
    return cm.load_checkpoint(BASE)


def load_bytes(folder: Path, data: bytes) -> cm.CharModel:
    path = folder / "fuzzed.safetensors"
    path.write_bytes(data)  # safe to overwrite: load_checkpoint reads the file into memory, never maps it
    with time_limit(CALL_SECONDS):
        return cm.load_checkpoint(path)


def assert_refused(folder: Path, data: bytes) -> cm.CheckpointError:
    try:
        load_bytes(folder, data)
    except cm.CheckpointError as error:
        assert error.problem.strip() and str(folder / "fuzzed.safetensors") in str(error)
        return error
    pytest.fail("a damaged checkpoint loaded")


def same_model(model: cm.CharModel, reference: cm.CharModel) -> bool:
    mine, theirs = model.state_dict(), reference.state_dict()
    return (
        model.config == reference.config
        and model.vocab == reference.vocab
        and mine.keys() == theirs.keys()
        and all(torch.equal(mine[k], theirs[k]) for k in mine)
    )


def flip(data: bytes, position: int, bit: int) -> bytes:
    out = bytearray(data)
    out[position] ^= 1 << bit
    return bytes(out)


def test_the_base_checkpoints_load(folder, original, resaved, reference):
    assert same_model(load_bytes(folder, original), reference)
    assert same_model(load_bytes(folder, resaved), reference)


@fuzz(120)
@given(fraction=st.floats(0, 1, exclude_max=True), which=st.sampled_from(["shipped", "resaved"]))
@example(fraction=0.0, which="shipped")
def test_every_truncation_is_refused(folder, original, resaved, fraction, which):
    data = original if which == "shipped" else resaved
    assert_refused(folder, data[: int(fraction * len(data))])


def test_truncations_at_the_edges_are_refused(folder, original, resaved):
    for data in (original, resaved):
        end = header_end(data)
        for cut in {0, 1, 7, 8, 9, end - 1, end, end + 1, end + 4, len(data) - 4, len(data) - 1}:
            assert_refused(folder, data[:cut])


@fuzz(150)
@given(fraction=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7), which=st.sampled_from(["shipped", "resaved"]))
def test_a_bit_flip_in_tensor_data_fails_the_sha256(folder, original, resaved, fraction, bit, which):
    data = original if which == "shipped" else resaved
    start = header_end(data)
    position = start + int(fraction * (len(data) - start))
    error = assert_refused(folder, flip(data, position, bit))
    assert "SHA-256" in error.problem


@fuzz(60)
@given(positions=st.lists(st.integers(0, 10**9), min_size=2, max_size=20), bits=st.integers(1, 255))
def test_many_flipped_bytes_in_tensor_data_are_refused(folder, resaved, positions, bits):
    start = header_end(resaved)
    out = bytearray(resaved)
    for position in {start + p % (len(resaved) - start) for p in positions}:  # each byte once: two flips would undo
        out[position] ^= bits
    assert_refused(folder, bytes(out))


@fuzz(300)
@given(fraction=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
@example(fraction=0.0, bit=7)  # the header length
def test_a_bit_flip_in_the_header_of_a_current_checkpoint_is_refused(folder, resaved, reference, fraction, bit):
    """Files saved now carry a SHA-256 of the metadata: a flip anywhere in the header is refused. The one
    exception: a flip in the key name `metadata_sha256` itself leaves an unguarded, intact file."""
    position = int(fraction * header_end(resaved))
    damaged = flip(resaved, position, bit)
    try:
        model = load_bytes(folder, damaged)
    except cm.CheckpointError:
        return
    assert same_model(model, reference), "a flipped header bit loaded a different model"
    key_at = resaved.index(f'"{METADATA_SHA256}"'.encode())
    assert key_at < position <= key_at + len(METADATA_SHA256), f"a flip at byte {position} went unnoticed"


def entry_span(data: bytes, key: str) -> range:
    """The bytes of one metadata entry, `"key":"value"`, in the file (safetensors orders them at random)."""
    header = data[8 : header_end(data)].decode("utf-8")
    start = header.index(f'"{key}":')
    _, end = json.JSONDecoder().raw_decode(header, start + len(key) + 3)
    return range(8 + len(header[:start].encode()), 8 + len(header[:end].encode()))


def vocab_and_config_span(data: bytes) -> list[int]:
    """The byte positions of the `model_config` and `vocab` entries: what the model means besides its tensors."""
    return [*entry_span(data, "model_config"), *entry_span(data, "vocab")]


def test_every_single_bit_flip_in_the_vocabulary_and_config_of_a_current_checkpoint_is_refused(folder, resaved):
    """Exhaustive over those bytes (they decide what the model means): each is refused, none loads."""
    span = vocab_and_config_span(resaved)
    assert len(span) > 40
    for position in span:
        for bit in range(8):
            assert_refused(folder, flip(resaved, position, bit))


def test_every_single_bit_flip_in_the_vocabulary_of_a_shipped_checkpoint_is_refused(folder, original, reference):
    span = vocab_and_config_span(original)
    for position in span:
        for bit in range(8):
            try:
                model = load_bytes(folder, flip(original, position, bit))
            except cm.CheckpointError:
                continue
            assert same_model(model, reference), f"flip at byte {position} bit {bit} loaded vocabulary {model.vocab}"


@fuzz(200)
@given(fraction=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_bit_flip_in_the_header_of_a_shipped_checkpoint_is_refused_or_changes_nothing(folder, original, reference, fraction, bit):
    """A flip anywhere in the header is refused, or lands where it changes nothing that defines the model
    (the name of the metadata_sha256 key itself): then the very same model loads."""
    span = vocab_and_config_span(original)
    position = int(fraction * header_end(original))
    try:
        model = load_bytes(folder, flip(original, position, bit))
    except cm.CheckpointError:
        return
    if position in span:  # the known gap of unguarded files
        assert model.config == reference.config and len(model.vocab) == len(reference.vocab)
        return
    assert same_model(model, reference)


@fuzz(60)
@given(prefix=st.binary(min_size=1, max_size=64), which=st.sampled_from(["shipped", "resaved"]))
@example(prefix=b"\x80", which="shipped")
@example(prefix=b"PK\x03\x04", which="resaved")
def test_garbage_before_a_checkpoint_is_refused(folder, original, resaved, prefix, which):
    assert_refused(folder, prefix + (original if which == "shipped" else resaved))


@fuzz(40)
@given(suffix=st.binary(min_size=1, max_size=64))
def test_garbage_after_a_checkpoint_is_refused_or_changes_nothing(folder, resaved, reference, suffix):
    try:
        model = load_bytes(folder, resaved + suffix)
    except cm.CheckpointError:
        return
    assert same_model(model, reference)


class Trap:
    """Unpickling this would create a marker file: proof that nobody ever unpickles a checkpoint."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


pickled = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.binary(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=10,
)


@fuzz(80)
@given(value=pickled, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL), trap=st.booleans())
@example(value={"head.weight": [0.0]}, protocol=pickle.DEFAULT_PROTOCOL, trap=True)
def test_pickles_are_refused_and_never_unpickled(folder, value, protocol, trap):
    Trap.marker = str(folder / "unpickled")
    data = pickle.dumps([value, Trap()] if trap else value, protocol=protocol)  # written, never loaded
    error = assert_refused(folder, data)
    if data[:1] == b"\x80":  # protocol 2 and up: recognised and named
        assert "pickle" in error.problem
    assert not os.path.exists(Trap.marker)


def test_a_torch_save_file_is_refused(folder, reference):
    path = folder / "model.pt"
    torch.save(reference.state_dict(), path)  # writing is fine; never torch.load
    assert "pickle" in assert_refused(folder, path.read_bytes()).problem


CLAIM = """
import json, resource, sys, time
import torch
from safetensors.torch import save
import charmodels as cm
from charmodels.checkpoint import tensor_digest

tensors = {"head.bias": torch.zeros(3)}
meta = {
    "format": json.dumps("charmodels"),
    "format_version": "1",
    # 2 LSTM layers of 4096 units over a 4096-wide embedding: 270 million weights, 1.1 GB, in a 300-byte file
    "model_config": json.dumps({"cell": "lstm", "hidden_size": 4096, "layers": 2, "embedding_dim": 4096}),
    "vocab": json.dumps(list("abcdefghijklmnopqrstuvwxyz")),
    "tensor_sha256": json.dumps(tensor_digest(tensors)),
}
path = sys.argv[1]
open(path, "wb").write(save(tensors, metadata=meta))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    cm.load_checkpoint(path)
    print(json.dumps({"error": None}))
except cm.CheckpointError as error:
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # kilobytes on Linux
    print(json.dumps({"error": error.problem, "grown_mb": grown / 1024}))
"""


def test_a_tiny_file_claiming_a_huge_model_is_refused_without_building_it(folder, run_python):
    """An upload of a few hundred bytes that claims a model of a gigabyte must be refused before the
    server allocates that gigabyte (measured in a fresh process: its peak memory must not grow by it)."""
    script = folder / "claim.py"
    script.write_text(CLAIM, encoding="utf-8")
    result = run_python(str(script), str(folder / "claim.safetensors"), timeout=120)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["error"] and "do not match the config" in outcome["error"]
    assert outcome["grown_mb"] < 200, f"loading grew the process by {outcome['grown_mb']:.0f} MB"


@fuzz(80)
@given(name=st.one_of(st.text(max_size=30), st.sampled_from(["", ".", "/", "..", "goethe", "goethe-lstm.safetensors", "\x00", "README.md"])))
def test_load_checkpoint_by_any_name_loads_or_raises_checkpoint_error(name):
    if name.startswith("hf://"):
        return  # the Hub: tests/app/test_api.py
    try:
        with time_limit(CALL_SECONDS):
            model = cm.load_checkpoint(name)
    except cm.CheckpointError as error:
        assert error.problem.strip()
        return
    assert isinstance(model, cm.CharModel)


# ---------------------------------------------------------------- checkpoints written from scratch (defect 7)
# Not mutations of a real file: files built from parts with safetensors itself, each part right or wrong in
# its own way (tensor names, shapes including 0-dim and empty, dtypes, values; metadata keys, JSON, versions,
# configs, vocabularies in any order), so that every check of the loader meets every other.

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)),
    max_leaves=20,
)
DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.int8, torch.uint8, torch.bool]
shapes = st.lists(st.integers(0, 4), max_size=3).map(tuple)  # () is 0-dim; a 0 anywhere is empty
tensor_names = st.one_of(
    st.sampled_from(["head.weight", "head.bias", "embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "rnn.bias_ih_l2", "__metadata__"]),
    st.text(max_size=12),
)


@dataclass
class Written:
    """What a fuzzed file holds, and whether every part of it was left right."""

    tensors: dict
    metadata: dict  # key -> raw string, as in the file
    intact: bool

    def __repr__(self) -> str:  # hypothesis prints this for a failing case: names, shapes and metadata, not values
        shown = {name: (str(t.dtype).removeprefix("torch."), tuple(t.shape)) for name, t in self.tensors.items()}
        return f"Written(tensors={shown}, metadata={self.metadata}, intact={self.intact})"


TENSOR_FAULTS = ["drop tensor", "add tensor", "reshape", "dtype", "not finite"]
METADATA_FAULTS = ["format", "format_version", "model_config", "vocab", "corpus", "metrics", "history", "parameters",
                   "tensor_sha256 wrong", "tensor_sha256 absent", "drop key", "garble", "metadata_sha256 wrong", "extra key"]


def spoil_tensor(draw, tensors: dict, fault: str) -> None:
    names = sorted(tensors)
    if fault == "add tensor" or not names:
        dtype = draw(st.sampled_from([torch.float32, *DTYPES]), label="added dtype")
        tensors[draw(tensor_names, label="added name")] = torch.randn(draw(shapes, label="added shape")).to(dtype)
        return
    name = draw(st.sampled_from(names), label=f"{fault}: tensor")
    if fault == "drop tensor":
        del tensors[name]
    elif fault == "reshape":
        tensors[name] = torch.randn(draw(shapes, label="new shape"))
    elif fault == "dtype":
        tensors[name] = tensors[name].to(draw(st.sampled_from(DTYPES), label="dtype"))
    elif tensors[name].numel():  # not finite
        flat = tensors[name].clone().reshape(-1)
        flat[draw(st.integers(0, flat.numel() - 1), label="at")] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        tensors[name] = flat.reshape(tensors[name].shape)


def model_parts(draw) -> tuple[dict, list, dict]:
    """A real model's config, vocabulary (any order) and tensors, small enough to build by the hundred."""
    config = {
        "cell": draw(st.sampled_from(list(cm.CELLS)), label="cell"),
        "hidden_size": draw(st.integers(1, 5), label="hidden_size"),
        "layers": draw(st.integers(1, 3), label="layers"),
        "embedding_dim": draw(st.integers(0, 3), label="embedding_dim"),
    }
    pool = draw(st.permutations(list(dict.fromkeys("abch \n’한😀" + "".join(SPECIAL_CHARS)))), label="characters")
    chars = pool[: draw(st.integers(1, 6), label="vocab size")]  # distinct, in any order
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(draw(st.integers(0, 2**16), label="weights seed"))
        model = cm.CharModel(cm.ModelConfig(**config), cm.Vocab(chars))
    return config, chars, {name: t.detach().clone() for name, t in model.state_dict().items()}


def near_miss(draw, key: str, right: object) -> object:
    """A wrong value for a metadata entry: one field or character changed, or any JSON at all."""
    if isinstance(right, dict) and right and draw(st.booleans(), label=f"{key}: one field"):
        field = draw(st.sampled_from(sorted(right)), label=f"{key} field")
        return {**right, field: draw(json_values, label=f"{key}.{field}")}
    if isinstance(right, list) and draw(st.booleans(), label=f"{key}: one character"):  # more, fewer, repeated, not one
        extra = draw(st.sampled_from(["Z", "", "ab", 7, None, *right[:1]]), label="vocab entry")
        return [*right, extra] if draw(st.booleans()) else right[1:]
    return draw(json_values, label=key)


@st.composite
def written_checkpoints(draw) -> Written:
    """A checkpoint built from parts: a real model and its metadata, with 0-3 faults of any kind."""
    config, chars, tensors = model_parts(draw)
    entries: dict[str, object] = {"format": "charmodels", "format_version": 1, "model_config": config, "vocab": chars}
    optional = {
        "corpus": checkpoint.corpus_record(cm.Corpus("fuzz", "".join(chars) * 2, "fuzz", draw(st.booleans()))),
        "metrics": {"tf_acc": 1.0, "recon": 0.5, "bpc": 0.25, "min_p": 0.9},
        "history": {"steps": 2, "attempts": 1, "seconds": 0.5, "restarts": [], "loss": [[1, 2.0], [2, 1.5]], "snapshots": [[2, "ab"]]},
        "train_config": {"seed": 1},
        "parameters": sum(t.numel() for t in tensors.values()),
    }
    entries.update({key: value for key, value in optional.items() if draw(st.booleans(), label=f"has {key}")})
    faults = draw(st.lists(st.sampled_from(TENSOR_FAULTS + METADATA_FAULTS), max_size=3), label="faults")
    for fault in faults:
        if fault in TENSOR_FAULTS:
            spoil_tensor(draw, tensors, fault)
        elif fault in entries or fault in optional:
            entries[fault] = near_miss(draw, fault, entries.get(fault, optional.get(fault)))
        elif fault == "extra key":
            key = draw(st.one_of(st.text(max_size=8), st.sampled_from(sorted(checkpoint.ENTRIES))), label="extra key")
            entries.setdefault(key, draw(json_values, label=f"extra {key}"))
    strings = {key: json.dumps(value) for key, value in entries.items()}
    if "tensor_sha256 absent" not in faults:
        strings["tensor_sha256"] = json.dumps("0" * 64 if "tensor_sha256 wrong" in faults else tensor_digest(tensors))
    if "drop key" in faults:
        strings.pop(draw(st.sampled_from(sorted(strings)), label="dropped key"))
    if "garble" in faults:
        key = draw(st.sampled_from(sorted(strings)), label="garbled key")
        strings[key] = draw(st.sampled_from(["", "{", "[1,", "'x'", "NaN", "nul", '"\\ud800"', "1e999999", "1" * 5000]), label="garbled as")
    if draw(st.integers(0, 9), label="metadata_sha256") < 8:  # mostly present, as in every file saved now
        right = checkpoint.metadata_digest(strings)
        strings[checkpoint.METADATA_SHA256] = json.dumps("0" * 64 if "metadata_sha256 wrong" in faults else right)
    # a fault may happen to change nothing (a field redrawn as itself): only a file with none must load
    return Written(tensors, strings, intact=not faults)


@fuzz(400)
@given(written=written_checkpoints())
def test_a_file_written_from_parts_loads_right_or_is_a_checkpoint_error(folder, written):
    data = save_tensors(written.tensors, metadata=written.metadata)
    try:
        model = load_bytes(folder, data)
    except cm.CheckpointError as error:
        assert error.problem.strip() and error.code in MESSAGES
        assert error.problem == MESSAGES[error.code].format(**error.params)
        assert not written.intact, f"a right file was refused: {error}"
        event(f"refused: {error.code}")
        return
    event("loaded")
    meta = {key: json.loads(value) for key, value in written.metadata.items()}
    assert model.config == cm.ModelConfig(**meta["model_config"])
    assert model.vocab.chars == meta["vocab"]  # in the file's order
    state = model.state_dict()
    assert state.keys() == written.tensors.keys()
    for name, tensor in written.tensors.items():
        assert tensor.dtype == torch.float32 and bool(torch.isfinite(tensor).all())
        assert torch.equal(state[name], tensor)
    for key in ("corpus", "metrics", "history"):
        assert key not in model.info or isinstance(model.info[key], dict)


@fuzz(150)
@given(
    tensors=st.dictionaries(tensor_names, st.tuples(shapes, st.sampled_from([torch.float32, *DTYPES])), max_size=4),
    metadata=st.one_of(st.none(), st.dictionaries(st.sampled_from([*checkpoint.REQUIRED, "corpus", "x"]), st.text(max_size=20), max_size=6)),
)
def test_any_tensors_under_any_metadata_are_a_checkpoint_error(folder, tensors, metadata):
    """Tensors and metadata with no model behind them: never a model, never another exception."""
    data = save_tensors({name: torch.zeros(shape).to(dtype) for name, (shape, dtype) in tensors.items()}, metadata=metadata)
    error = assert_refused(folder, data)
    assert error.code in MESSAGES
    event(f"refused: {error.code}")
