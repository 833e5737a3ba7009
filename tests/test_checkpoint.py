"""Checkpoints: safetensors round trip with metadata; every broken file is one CheckpointError
naming the file; saving is atomic; never a pickle."""

from __future__ import annotations

import fcntl
import json
import math
import os
import pickle
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from safetensors.torch import save_file

import charmodels as cm
from charmodels.checkpoint import (
    FORMAT_VERSION,
    METADATA_SHA256,
    corpus_record,
    metadata_digest,
    read_train_state,
    remove_stale_temporaries,
    save_train_state,
    tensor_digest,
)
from charmodels.errors import MESSAGES

ROOT = Path(__file__).resolve().parent.parent

CONFIGS = [("rnn", 8, 1, 0), ("lstm", 16, 2, 4), ("gru", 8, 1, 0)]


@pytest.fixture(scope="module")
def trained():
    """A small model really trained on hihello, with its history and metrics."""
    corpus = cm.CORPORA["hihello"]
    train_config = cm.TrainConfig(seed=1)
    model, history = cm.train(corpus, cm.ModelConfig("gru", 16), train_config)
    return model, history, cm.evaluate(model, corpus), train_config


@pytest.fixture
def saved(tmp_path, make_model) -> Path:
    return cm.save_checkpoint(make_model("lstm", 8, "abc"), tmp_path / "model.safetensors", corpus={"name": "abc"})


def split(data: bytes) -> tuple[dict, int]:
    """The JSON header of a safetensors file and where its tensor bytes start."""
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + length]), 8 + length


def rewrite(
    src: Path, dst: Path, meta: dict | None = None, drop: tuple[str, ...] = (), fix_sha: bool = True, raw: dict | None = None
) -> Path:
    """Write a variant of a checkpoint: metadata values replaced (`meta` JSON-encoded, `raw` as
    given; None removes a key), tensors dropped, the recorded SHA-256s recomputed so the check
    under test is the one that fires."""
    data = src.read_bytes()
    header, _ = split(data)
    strings = dict(header["__metadata__"])
    tensors = {k: v for k, v in load_tensors(data).items() if k not in drop}
    updates = {key: None if value is None else json.dumps(value) for key, value in (meta or {}).items()}
    for key, value in {**updates, **(raw or {})}.items():
        if value is None:
            strings.pop(key, None)
        else:
            strings[key] = value
    if fix_sha:
        strings["tensor_sha256"] = json.dumps(tensor_digest(tensors))
    if METADATA_SHA256 in strings:
        strings[METADATA_SHA256] = json.dumps(metadata_digest(strings))
    dst.write_bytes(save_tensors(tensors, metadata=strings))
    return dst


def assert_refused(path: Path, *phrases: str) -> cm.CheckpointError:
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint(path)
    error = info.value
    assert str(path) in str(error), "the error must name the file"
    for phrase in phrases:
        assert phrase.lower() in error.problem.lower(), error.problem
    return error


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("cell,hidden,layers,embedding_dim", CONFIGS)
def test_round_trip_gives_identical_weights_and_predictions(tmp_path, make_model, cell, hidden, layers, embedding_dim):
    model = make_model(cell, hidden, "ab c\n\u2019한", layers, embedding_dim, seed=4)
    path = cm.save_checkpoint(model, tmp_path / "sub" / "m.safetensors")
    assert path == tmp_path / "sub" / "m.safetensors" and path.is_file()
    loaded = cm.load_checkpoint(path)
    assert loaded.config == model.config
    assert loaded.vocab == model.vocab
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name
    for prompt in ("a", "ab c\n", "한\u2019"):
        assert cm.next_char_probs(loaded, prompt) == cm.next_char_probs(model, prompt)


def test_metadata_round_trips(tmp_path, trained):
    model, history, metrics, train_config = trained
    corpus = {"name": "hihello", "text": "hihello", "sha256": cm.CORPORA["hihello"].sha256, "lines": False}
    path = cm.save_checkpoint(
        model,
        tmp_path / "hihello-gru.safetensors",
        corpus=corpus,
        metrics=metrics,
        history=history,
        train_config=train_config,
        note="한국어 ’ ok",
    )
    info = cm.load_checkpoint(path).info
    assert info["corpus"] == corpus
    assert info["metrics"] == metrics.to_dict()
    assert cm.Metrics(**info["metrics"]) == metrics
    assert info["train_config"] == train_config.to_dict()
    assert cm.TrainConfig(**info["train_config"]) == train_config
    assert info["history"] == json.loads(json.dumps(history.to_dict()))
    assert info["history"]["snapshots"][-1][1] == history.snapshots[-1][1]
    assert info["note"] == "한국어 ’ ok"
    assert info["model_config"] == model.config.to_dict()
    assert info["vocab"] == model.vocab.chars
    assert info["format_version"] == FORMAT_VERSION
    assert info["path"] == str(path)


def test_reserved_metadata_keys_are_refused(tmp_path, make_model):
    with pytest.raises(ValueError, match="reserved"):
        cm.save_checkpoint(make_model(), tmp_path / "m.safetensors", vocab=["x"])
    assert not (tmp_path / "m.safetensors").exists()


def test_unknown_bare_name_lists_the_shipped_ones():
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint("no-such-model")
    assert "no-such-model" in str(info.value)
    assert "hihello-lstm" in str(info.value)


# ---------------------------------------------------------------- broken files


def test_missing_path(tmp_path):
    assert_refused(tmp_path / "absent.safetensors", "not found")


def test_directory(tmp_path):
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    assert_refused(folder, "not a file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    assert_refused(path, "empty")


def test_truncated_at_many_points(tmp_path, saved):
    data = saved.read_bytes()
    _, data_start = split(data)
    cuts = sorted({1, 4, 7, 8, 9, 30, data_start // 2, data_start - 1, data_start, data_start + 1, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        assert_refused(path)


def test_trailing_garbage(tmp_path, saved):
    path = tmp_path / "longer.safetensors"
    path.write_bytes(saved.read_bytes() + b"\x00junk")
    assert_refused(path)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path, seed):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(random.Random(seed).randbytes(random.Random(seed).randint(1, 5000)))
    assert_refused(path)


class _Hostile:
    """Unpickling this would create a directory: proof that the file was loaded."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_real_pickle_is_refused_and_never_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.safetensors"
    path.write_bytes(pickle.dumps({"weights": _Hostile(str(marker))}, protocol=protocol))
    error = assert_refused(path)
    if protocol >= 2:
        assert "pickle" in error.problem
    assert not marker.exists()


def test_a_torch_save_zip_is_refused(tmp_path, make_model):
    path = tmp_path / "model.pt"
    torch.save(make_model().state_dict(), path)  # writing is fine; never torch.load
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    assert_refused(path, "torch.save", "pickle")


def test_plain_safetensors_is_not_a_charmodels_checkpoint(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"weight": torch.zeros(3, 2)}, path)
    assert_refused(path, "not a charmodels checkpoint")
    save_file({"weight": torch.zeros(3, 2)}, path, metadata={"format": "charmodels"})  # not JSON-quoted
    assert_refused(path, "not a charmodels checkpoint")


@pytest.mark.parametrize("version", ["2", "0", '"1"', "null", "999"])
def test_unknown_format_version(tmp_path, saved, version):
    path = rewrite(saved, tmp_path / "v.safetensors", raw={"format_version": version})
    assert_refused(path, "format version")


@pytest.mark.parametrize("key", ["vocab", "model_config", "tensor_sha256", "format_version"])
def test_required_metadata_missing(tmp_path, saved, key):
    path = tmp_path / "m.safetensors"
    rewrite(saved, path, fix_sha=key != "tensor_sha256")
    rewrite(path, path, {key: None}, fix_sha=False)
    assert_refused(path, "missing", key)


def test_metadata_that_is_not_json(tmp_path, saved):
    assert_refused(rewrite(saved, tmp_path / "m.safetensors", raw={"corpus": "{not json"}), "JSON")


def test_tensor_shapes_disagreeing_with_config(tmp_path, saved):
    path = rewrite(saved, tmp_path / "wide.safetensors", {"model_config": {"cell": "lstm", "hidden_size": 9, "layers": 1, "embedding_dim": 0}})
    assert_refused(path, "shape")
    path = rewrite(saved, tmp_path / "gru.safetensors", {"model_config": {"cell": "gru", "hidden_size": 8, "layers": 1, "embedding_dim": 0}})
    assert_refused(path, "shape")
    path = rewrite(saved, tmp_path / "deep.safetensors", {"model_config": {"cell": "lstm", "hidden_size": 8, "layers": 2, "embedding_dim": 0}})
    assert_refused(path, "missing")
    path = rewrite(saved, tmp_path / "vocab.safetensors", {"vocab": ["a", "b", "c", "d"]})
    assert_refused(path, "shape")


def test_missing_tensor(tmp_path, saved):
    assert_refused(rewrite(saved, tmp_path / "m.safetensors", drop=("head.bias",)), "missing", "head.bias")


@pytest.mark.parametrize(
    "config",
    [{"cell": "transformer", "hidden_size": 8, "layers": 1, "embedding_dim": 0}, {"cell": "lstm"}, {"cell": "lstm", "hidden_size": 8, "oops": 1}, [1, 2]],
)
def test_invalid_model_config(tmp_path, saved, config):
    assert_refused(rewrite(saved, tmp_path / "m.safetensors", {"model_config": config}))


@pytest.mark.parametrize(
    "vocab, code",
    [
        (["a", "a", "b"], "vocab_repeated"),
        ([], "vocab_none"),
        (["ab", "c", "d"], "vocab_entry"),
        (["a", "", "c"], "vocab_entry"),
        (["a", 1, "c"], "vocab_entry"),
        (["a", None, "c"], "vocab_entry"),
        (["a", ["b"], "c"], "vocab_entry"),
        ("abc", "vocab_not_list"),
        ({"a": 0, "b": 1, "c": 2}, "vocab_not_list"),
        (None, "vocab_not_list"),
    ],
)
def test_invalid_vocabulary(tmp_path, saved, vocab, code):
    path = rewrite(saved, tmp_path / "m.safetensors", raw={"vocab": json.dumps(vocab)})  # raw: None is JSON null here
    error = assert_refused(path, "vocabulary")
    assert error.code == code


def test_flipped_byte_in_tensor_data_fails_the_sha256(tmp_path, saved):
    data = saved.read_bytes()
    _, start = split(data)
    assert cm.load_checkpoint(saved)  # the original is fine
    for offset in (start, start + (len(data) - start) // 2, len(data) - 1):
        broken = bytearray(data)
        broken[offset] ^= 0x01
        path = tmp_path / f"flip{offset}.safetensors"
        path.write_bytes(bytes(broken))
        assert_refused(path, "SHA-256")


def test_checkpoint_error_is_one_type_with_source_and_problem(tmp_path):
    path = tmp_path / "x.safetensors"
    error = assert_refused(path)
    assert error.source == str(path)
    assert str(error) == f"{path}: {error.problem}"


# ---------------------------------------------------------------- atomic writes


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_save_leaves_no_temporary_files(tmp_path, make_model):
    path = tmp_path / "m.safetensors"
    cm.save_checkpoint(make_model(seed=1), path)
    cm.save_checkpoint(make_model(seed=2), path)  # over an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    loaded = cm.load_checkpoint(path)
    assert torch.equal(loaded.head.weight, make_model(seed=2).head.weight)


@pytest.mark.parametrize("bad", [{"corpus": object()}, {"metrics": {1, 2}}, {"format": "x"}])
def test_failed_save_keeps_the_previous_file(tmp_path, make_model, bad):
    path = tmp_path / "m.safetensors"
    cm.save_checkpoint(make_model(seed=1), path, corpus={"name": "first"})
    before = path.read_bytes()
    with pytest.raises(ValueError):
        cm.save_checkpoint(make_model(seed=2), path, **bad)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    assert cm.load_checkpoint(path).info["corpus"] == {"name": "first"}


def test_save_that_fails_at_the_rename_cleans_up(tmp_path, make_model):
    # the target is a non-empty folder: writing the temporary file works, replacing fails
    target = tmp_path / "m.safetensors"
    target.mkdir()
    (target / "keep.txt").write_text("still here")
    with pytest.raises(OSError):
        cm.save_checkpoint(make_model(), target)
    assert leftovers(tmp_path) == []
    assert (target / "keep.txt").read_text() == "still here"


# ---------------------------------------------------------------- 0x80 header length


def test_header_length_starting_with_0x80_still_loads(tmp_path, make_model):
    # regression: the pickle check (first byte 0x80) used to run before safetensors parsed the file
    model = make_model("gru", 8, "abc")
    path = tmp_path / "m.safetensors"
    for n in range(512):
        cm.save_checkpoint(model, path, note="x" * n)
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no metadata length gave a header length starting with byte 0x80")
    loaded = cm.load_checkpoint(path)
    assert loaded.info["note"] == "x" * n
    assert torch.equal(loaded.head.weight, model.head.weight)


# ---------------------------------------------------------------- files written from scratch (defect 7)


def write_checkpoint(path: Path, tensors: dict[str, torch.Tensor], config: dict, vocab: list, **meta) -> Path:
    """A checkpoint written with safetensors itself, not by save_checkpoint: `tensors` as given, and
    metadata that is right for them (both SHA-256s recomputed), `meta` JSON values added or replacing."""
    header = {
        "format": "charmodels",
        "format_version": FORMAT_VERSION,
        "model_config": config,
        "vocab": vocab,
        "tensor_sha256": tensor_digest(tensors),
        **meta,
    }
    strings = {key: json.dumps(value) for key, value in header.items()}
    strings[METADATA_SHA256] = json.dumps(metadata_digest(strings))
    path.write_bytes(save_tensors(tensors, metadata=strings))
    return path


GRU = {"cell": "gru", "hidden_size": 4, "layers": 1, "embedding_dim": 0}


def gru_tensors(**changes: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """The state dict of a 4-unit GRU over "abc", with tensors replaced (None removes one)."""
    tensors = dict(cm.CharModel(cm.ModelConfig(**GRU), cm.Vocab("abc")).state_dict())
    for name, tensor in changes.items():
        name = name.replace("__", ".")
        if tensor is None:
            tensors.pop(name)
        else:
            tensors[name] = tensor
    return tensors


def test_a_checkpoint_written_from_scratch_loads(tmp_path):
    """The control for the tests below: the writer gives a valid file when nothing is wrong."""
    tensors = gru_tensors()
    model = cm.load_checkpoint(write_checkpoint(tmp_path / "m.safetensors", tensors, GRU, ["a", "b", "c"]))
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in tensors.items())


@pytest.mark.parametrize("shape", [(), (0,), (0, 4), (3, 4, 1), (1, 3)])
def test_a_tensor_of_the_wrong_shape_is_a_checkpoint_error(tmp_path, shape):
    # regression: a 0-dim tensor raised RuntimeError (viewing it as bytes for the SHA-256), not CheckpointError
    path = write_checkpoint(tmp_path / "m.safetensors", gru_tensors(head__bias=torch.zeros(shape)), GRU, ["a", "b", "c"])
    error = assert_refused(path, "head.bias", "shape")
    assert error.code == "tensor_shape" and error.params["expected"] == "(3,)"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool])
@pytest.mark.parametrize("shape", [(3,), ()])
def test_a_tensor_that_is_not_float32_is_a_checkpoint_error(tmp_path, dtype, shape):
    # regression: float16/float64/int64 tensors of the right shape were silently converted on load
    path = write_checkpoint(tmp_path / "m.safetensors", gru_tensors(head__bias=torch.ones(shape, dtype=dtype)), GRU, ["a", "b", "c"])
    error = assert_refused(path, "head.bias", "float32")
    assert error.code == "tensor_dtype" and error.params["got"] == str(dtype).removeprefix("torch.")


def test_extra_and_missing_tensors_are_a_checkpoint_error(tmp_path):
    extra = write_checkpoint(tmp_path / "extra.safetensors", gru_tensors(embed__weight=torch.zeros(3, 2)), GRU, list("abc"))
    error = assert_refused(extra, "unexpected", "embed.weight")
    assert error.code == "tensor_names" and error.params["missing"] == "-"
    scalar = write_checkpoint(tmp_path / "scalar.safetensors", gru_tensors(x=torch.tensor(1.0)), GRU, list("abc"))
    assert_refused(scalar, "unexpected", "'x'")
    missing = write_checkpoint(tmp_path / "missing.safetensors", gru_tensors(rnn__bias_hh_l0=None), GRU, list("abc"))
    assert_refused(missing, "missing", "rnn.bias_hh_l0")
    none = write_checkpoint(tmp_path / "none.safetensors", {}, GRU, list("abc"))
    assert_refused(none, "missing", "head.bias")
    many = {f"t{n}": torch.zeros(1) for n in range(500)}
    error = assert_refused(write_checkpoint(tmp_path / "many.safetensors", many, GRU, list("abc")), "unexpected")
    assert len(error.problem) < 400  # names listed, but not all 500 of them


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_weights_that_are_not_finite_are_a_checkpoint_error(tmp_path, value):
    # regression: such a file loaded, and sampling then failed with numpy's "Probabilities contain NaN"
    weight = torch.zeros(3, 4)
    weight[1, 2] = value
    path = write_checkpoint(tmp_path / "m.safetensors", gru_tensors(head__weight=weight), GRU, ["a", "b", "c"])
    error = assert_refused(path, "head.weight", "not finite")
    assert error.code == "not_finite"


@pytest.mark.parametrize(
    "entry, value, where",
    [
        ("corpus", ["hihello"], "corpus"),
        ("corpus", "hihello", "corpus"),
        ("corpus", {"name": 5}, "corpus.name"),
        ("corpus", {"name": "x", "text": None}, "corpus.text"),
        ("corpus", {"name": "x", "lines": "yes"}, "corpus.lines"),
        ("metrics", {"tf_acc": "100%"}, "metrics.tf_acc"),
        ("metrics", [1, 2], "metrics"),
        ("history", {"loss": [[1, "x"]]}, "history.loss"),
        ("history", {"loss": [1, 2]}, "history.loss"),
        ("history", {"snapshots": [[1, 2]]}, "history.snapshots"),
        ("history", {"restarts": [1.5]}, "history.restarts"),
        ("history", {"steps": True}, "history.steps"),
        ("train_config", 3, "train_config"),
        ("parameters", "1,000", "parameters"),
        ("validation", {"fraction": None}, "validation.fraction"),
    ],
)
def test_known_metadata_entries_of_the_wrong_type_are_a_checkpoint_error(tmp_path, entry, value, where):
    """What the CLI and the app read from model.info has the type they expect, or the file is refused."""
    path = write_checkpoint(tmp_path / "m.safetensors", gru_tensors(), GRU, list("abc"), **{entry: value})
    error = assert_refused(path, where)
    assert error.code == "metadata_entry" and error.params["where"] == where


def test_unknown_metadata_entries_and_valid_known_ones_load(tmp_path):
    entries = {
        "note": [1, {"x": None}],
        "corpus": {"name": "abc", "text": "abcabc", "lines": False, "chars": 6, "extra": 1},
        "metrics": {"tf_acc": 1, "recon": 0.5, "bpc": 0.01, "min_p": 0.9, "new_metric": "x"},
        "history": {"steps": 3, "loss": [[1, 2.5], [2, 1.0]], "snapshots": [[1, "ab"]], "restarts": [], "best": {}},
        "parameters": 99,
    }
    model = cm.load_checkpoint(write_checkpoint(tmp_path / "m.safetensors", gru_tensors(), GRU, list("abc"), **entries))
    assert {key: model.info[key] for key in entries} == entries


@pytest.mark.parametrize("version", [True, 1.0, "1", [1], 2])
def test_a_format_version_that_only_looks_like_1_is_refused(tmp_path, version):
    path = write_checkpoint(tmp_path / "m.safetensors", gru_tensors(), GRU, list("abc"), format_version=version)
    assert assert_refused(path, "format version").code == "format_version"


@pytest.mark.parametrize("value", ["[" * 100_000, "1" * 5000])
def test_metadata_json_that_python_cannot_decode_is_a_checkpoint_error(tmp_path, saved, value):
    # deep nesting (RecursionError) and a 5,000-digit int (ValueError) are both JSON syntax Python refuses
    error = assert_refused(rewrite(saved, tmp_path / "m.safetensors", raw={"note": value}), "JSON")
    assert error.code == "metadata_json" and error.params["key"] == "'note'"


# ---------------------------------------------------------------- vocabulary order (issue 11, item 4)


def test_a_vocabulary_in_any_order_round_trips_with_its_ids(tmp_path, make_model):
    """Course code builds its vocabulary as list(set(text)): the order is the ids, and it must survive."""
    model = make_model("lstm", 8, ["o", "h", "l", "e"], seed=3)
    assert model.vocab.chars == ["o", "h", "l", "e"]
    loaded = cm.load_checkpoint(cm.save_checkpoint(model, tmp_path / "m.safetensors"))
    assert loaded.vocab.chars == ["o", "h", "l", "e"]
    assert torch.equal(loaded.head.weight, model.head.weight)
    assert cm.next_char_probs(loaded, "hel") == cm.next_char_probs(model, "hel")


def test_a_file_whose_vocabulary_is_a_permutation_loads_in_that_order(tmp_path, saved):
    # regression: the loader required sorted order, so a course-order vocabulary was refused
    model = cm.load_checkpoint(rewrite(saved, tmp_path / "m.safetensors", {"vocab": ["c", "a", "b"]}))
    assert model.vocab.chars == ["c", "a", "b"]
    assert model.vocab.encode("cab") == [0, 1, 2]


def test_shipped_checkpoints_keep_their_sorted_vocabularies(shipped):
    for name in ("goethe-lstm", "anthem-gru", "tsingtao-rnn"):
        chars = shipped(name).vocab.chars
        assert chars == sorted(chars)


# ---------------------------------------------------------------- saving refuses what it must not write (defect 8)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_save_refuses_weights_that_are_not_finite(tmp_path, make_model, value):
    # regression: a diverged model was saved and loaded without complaint
    path = tmp_path / "m.safetensors"
    cm.save_checkpoint(make_model(seed=1), path)
    before = path.read_bytes()
    model = make_model("lstm", 8, "abc")
    with torch.no_grad():
        model.rnn.weight_hh_l0[3, 1] = value
    with pytest.raises(cm.CharmodelsError) as info:
        cm.save_checkpoint(model, path)
    assert info.value.code == "not_finite" and info.value.params["tensor"] == "rnn.weight_hh_l0"
    assert "rnn.weight_hh_l0" in str(info.value)
    assert not isinstance(info.value, cm.CheckpointError)  # nothing wrong with a file: the model is
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_save_refuses_weights_that_are_not_float32(tmp_path, make_model):
    model = make_model().double()
    with pytest.raises(cm.CharmodelsError) as info:
        cm.save_checkpoint(model, tmp_path / "m.safetensors")
    assert info.value.code == "tensor_dtype" and info.value.params["got"] == "float64"
    assert not (tmp_path / "m.safetensors").exists()


# ---------------------------------------------------------------- what a model carries by default (issue 11, item 5)


def trained_info(model: cm.CharModel) -> dict:
    """What training puts in model.info: a corpus record, configs and results (plain data or dataclasses)."""
    return {
        "corpus": corpus_record(cm.Corpus("abc", "abcabcabc", "a test")),
        "train_config": {"seed": 7, "lr": 0.01},
        "history": {"steps": 12, "attempts": 1, "loss": [[1, 2.0], [12, 0.5]], "snapshots": [[12, "abcab"]]},
        "metrics": cm.Metrics(tf_acc=1.0, recon=1.0, bpc=0.01, min_p=0.95),
        "parameters": model.num_parameters(),
    }


def test_save_with_no_keywords_writes_what_the_model_carries(tmp_path, make_model):
    # regression: a model saved as save_checkpoint(m, path) carried no corpus, so `eval` could not measure it
    model = make_model("gru", 8, "abc")
    model.info = {**trained_info(model), "path": "/elsewhere/x.safetensors", "unrelated": 1}
    info = cm.load_checkpoint(cm.save_checkpoint(model, tmp_path / "m.safetensors")).info
    assert info["corpus"]["text"] == "abcabcabc" and info["corpus"]["sha256"] == cm.Corpus("abc", "abcabcabc", "").sha256
    assert info["train_config"] == {"seed": 7, "lr": 0.01}
    assert info["history"]["loss"] == [[1, 2.0], [12, 0.5]]
    assert info["metrics"] == {"tf_acc": 1.0, "recon": 1.0, "bpc": 0.01, "min_p": 0.95}
    assert info["parameters"] == model.num_parameters()
    assert "unrelated" not in info and info["path"] == str(tmp_path / "m.safetensors")


def test_explicit_keywords_win_over_what_the_model_carries(tmp_path, make_model):
    model = make_model("gru", 8, "abc")
    model.info = trained_info(model)
    path = cm.save_checkpoint(model, tmp_path / "m.safetensors", corpus=cm.Corpus("mine", "cabcab", "mine"), metrics=None)
    info = cm.load_checkpoint(path).info
    assert info["corpus"]["name"] == "mine" and info["corpus"]["text"] == "cabcab"  # a Corpus is stored as its record
    assert "metrics" not in info  # None: leave it out
    assert info["train_config"] == {"seed": 7, "lr": 0.01}


def test_a_model_without_info_still_records_its_size(tmp_path, make_model):
    model = make_model()
    info = cm.load_checkpoint(cm.save_checkpoint(model, tmp_path / "m.safetensors")).info
    assert info["parameters"] == model.num_parameters()
    assert "corpus" not in info


def test_a_loaded_model_saved_again_keeps_its_metadata(tmp_path, shipped):
    original = shipped("hihello-gru")
    again = cm.load_checkpoint(cm.save_checkpoint(original, tmp_path / "again.safetensors")).info
    for key in ("corpus", "train_config", "history", "metrics", "parameters"):
        assert again[key] == original.info[key], key


def test_eval_measures_a_checkpoint_saved_from_python(tmp_path, make_model, run_python):
    """`python -m charmodels eval` on save_checkpoint(model, path) with no keywords (issue 11, item 5)."""
    model = make_model("gru", 8, "abc")
    model.info = trained_info(model)
    path = cm.save_checkpoint(model, tmp_path / "mine.safetensors")
    result = run_python("-m", "charmodels", "eval", str(path), "--json")
    assert result.returncode in (0, 1), result.stderr  # 1: below the quality bar (an untrained model)
    measured = json.loads(result.stdout)
    assert measured["corpus"] == "abc" and 0 <= measured["tf_acc"] <= 1


# ---------------------------------------------------------------- as_model


def test_as_model_passes_a_model_through_and_loads_names_and_paths(tmp_path, make_model):
    model = make_model()
    assert cm.checkpoint.as_model(model) is model
    assert cm.checkpoint.as_model("hihello-gru").config == cm.load_checkpoint("hihello-gru").config
    path = cm.save_checkpoint(model, tmp_path / "m.safetensors")
    for given in (path, str(path)):
        assert torch.equal(cm.checkpoint.as_model(given).head.weight, model.head.weight)


@pytest.mark.parametrize("value", [None, 3, ["goethe-lstm"], b"goethe-lstm", object()])
def test_as_model_refuses_what_is_neither_a_model_nor_a_name(value):
    with pytest.raises(cm.CharmodelsError) as info:
        cm.checkpoint.as_model(value)
    assert info.value.code == "model_expected" and "load_checkpoint" in str(info.value)
    assert not isinstance(info.value, cm.CheckpointError)


def test_as_model_of_an_unknown_name_is_a_checkpoint_error():
    with pytest.raises(cm.CheckpointError) as info:
        cm.checkpoint.as_model("no-such-model")
    assert info.value.code == "no_such_checkpoint"


# ---------------------------------------------------------------- names, the Hub, codes


def test_a_name_too_long_for_the_file_system_is_a_checkpoint_error():
    # regression: Path.exists() raised OSError (File name too long)
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint("x" * 5000)
    assert info.value.code == "no_such_checkpoint"


@pytest.mark.parametrize("url", ["hf://x", "hf://owner/", "hf://owner//file.safetensors", "hf://owner/re po", "hf://-x/y--z"])
def test_a_malformed_hub_name_is_refused_at_once(url):
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint(url)
    assert info.value.code == "hub_name" and "hf://owner/repo/file.safetensors" in info.value.problem


@pytest.mark.parametrize(
    "url,repo,filename",
    [
        ("hf://owner/repo", "owner/repo", "model.safetensors"),  # a model repo in the Hugging Face layout
        ("hf://owner/repo/goethe-lstm", "owner/repo", "goethe-lstm/model.safetensors"),  # a folder of one
        ("hf://owner/repo/sub/x.safetensors", "owner/repo", "sub/x.safetensors"),
    ],
)
def test_a_hub_name_names_a_repo_and_a_file(url, repo, filename):
    assert cm.checkpoint.hub_location(url) == (repo, filename)


@pytest.mark.parametrize("url", ["hf://someone/charmodels/goethe-lstm.safetensors", "hf://someone/charmodels-goethe-lstm"])
def test_a_hub_checkpoint_offline_fails_fast_and_clearly(monkeypatch, tmp_path, url):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache: nothing downloaded before
    started = time.monotonic()
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint(url)
    assert time.monotonic() - started < 5
    assert info.value.code == "hub_offline" and info.value.source == url


def test_a_hub_checkpoint_without_network_fails_within_seconds(monkeypatch, tmp_path):
    from huggingface_hub import constants

    with socket.socket() as probe:  # a local port nothing listens on: every connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint("hf://someone/charmodels-goethe-lstm")
    assert time.monotonic() - started < 5
    assert info.value.code == "hub_unreachable" and info.value.params == {"endpoint": f"http://127.0.0.1:{port}"}


def test_a_folder_written_by_save_pretrained_loads_as_its_checkpoint(tmp_path, make_model):
    model = make_model("lstm", 8, "abc")
    cm.save_checkpoint(model, tmp_path / "folder" / "model.safetensors")
    assert torch.equal(cm.load_checkpoint(tmp_path / "folder").head.weight, model.head.weight)
    (tmp_path / "empty").mkdir()
    assert_refused(tmp_path / "empty", "not a file")  # a folder without model.safetensors is not a checkpoint


def test_every_code_raised_is_in_the_catalogue_and_the_problem_has_no_path(tmp_path, saved):
    """The app shows .problem and translates .code: neither may carry the server's path."""
    cases = [
        tmp_path / "absent.safetensors",
        rewrite(saved, tmp_path / "v.safetensors", raw={"format_version": "2"}),
        rewrite(saved, tmp_path / "c.safetensors", {"vocab": ["a", "a", "b"]}),
    ]
    for path in cases:
        error = assert_refused(path)
        assert error.code in MESSAGES and error.problem == MESSAGES[error.code].format(**error.params)
        assert str(tmp_path) not in error.problem and error.source == str(path)


# ---------------------------------------------------------------- training states


def test_a_training_state_round_trips_and_its_version_is_checked(tmp_path):
    path = tmp_path / "run.train-state.safetensors"
    tensors = {"step": torch.tensor([5]), "rng": torch.zeros(4, dtype=torch.uint8)}
    save_train_state(path, tensors, {"step": 5, "lr": 0.001})
    loaded, meta = read_train_state(path)
    assert torch.equal(loaded["step"], tensors["step"]) and meta["step"] == 5
    path.write_bytes(save_tensors(tensors, metadata={"format": json.dumps("charmodels-train-state"), "format_version": "9"}))
    with pytest.raises(cm.CheckpointError) as info:
        read_train_state(path)
    assert info.value.code == "train_state_version"
    with pytest.raises(cm.CheckpointError) as info:
        read_train_state(tmp_path / "none.train-state.safetensors")
    assert info.value.code == "no_train_state"


# ---------------------------------------------------------------- temporary files of killed writers (defect 10)

WRITER = """
import os, signal, sys
from pathlib import Path
from charmodels.checkpoint import write_atomically

target, how = Path(sys.argv[1]), sys.argv[2]

def pause_at_rename(frame, event, arg):
    # stop this very process where a crash hurts most: the temporary file written, not yet renamed
    if event == "c_call" and arg is os.replace:
        os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGSTOP)

sys.setprofile(pause_at_rename)
write_atomically(target, b"from the writer")
sys.setprofile(None)
"""


def writer(tmp_path: Path, target: Path, how: str) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, str(script), str(target), how], env=env, cwd=ROOT)


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path, make_model):
    # regression: a writer killed between writing and renaming left `.m.safetensors.XXXX.tmp` for ever
    folder = tmp_path / "runs"
    folder.mkdir()
    cm.save_checkpoint(make_model(seed=1), folder / "m.safetensors")
    before = (folder / "m.safetensors").read_bytes()
    process = writer(tmp_path, folder / "m.safetensors", "kill")
    assert process.wait(timeout=120) == -signal.SIGKILL
    stale = temporaries(folder)
    assert stale == [p.name for p in folder.glob(f".m.safetensors.pid{process.pid}.*.tmp")] and len(stale) == 1
    assert (folder / stale[0]).read_bytes() == b"from the writer"
    assert (folder / "m.safetensors").read_bytes() == before  # the kill never reached the checkpoint
    cm.save_checkpoint(make_model(seed=2), folder / "other.safetensors")  # any write into the folder
    assert temporaries(folder) == []
    assert (folder / "m.safetensors").read_bytes() == before


def test_a_live_writers_temporary_file_is_never_removed(tmp_path, make_model):
    folder = tmp_path / "runs"
    folder.mkdir()
    process = writer(tmp_path, folder / "m.safetensors", "stop")
    try:
        _, status = os.waitpid(process.pid, os.WUNTRACED)  # returns once the writer has stopped itself
        assert os.WIFSTOPPED(status)
        live = temporaries(folder)
        assert len(live) == 1
        cm.save_checkpoint(make_model(), folder / "other.safetensors")
        assert remove_stale_temporaries(folder) == []
        assert temporaries(folder) == live
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert process.wait(timeout=120) == 0
    assert (folder / "m.safetensors").read_bytes() == b"from the writer" and temporaries(folder) == []


def test_a_locked_temporary_file_is_kept_even_when_its_pid_looks_dead(tmp_path):
    """A writer in another PID namespace (a container sharing the folder) has a PID this process cannot
    see: its flock is what keeps its file."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    assert ended.wait(timeout=60) == 0  # its PID names no process now
    path = tmp_path / f".m.safetensors.pid{ended.pid}.abcd1234.tmp"
    path.write_bytes(b"half")
    with open(path, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert remove_stale_temporaries(tmp_path) == []
        assert path.exists()
    assert remove_stale_temporaries(tmp_path) == [path]
    assert not path.exists()


def test_files_that_are_not_a_writers_temporaries_are_left_alone(tmp_path):
    names = [".m.safetensors.abcd1234.tmp", "m.pid1.x.tmp", ".notes.tmp", f".m.safetensors.pid{os.getpid()}.abcd1234.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
