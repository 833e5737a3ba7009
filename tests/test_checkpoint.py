"""Checkpoints: safetensors round trip with metadata; every broken file is one CheckpointError
naming the file; saving is atomic; never a pickle."""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from safetensors.torch import save_file

import charmodels as cm
from charmodels.checkpoint import FORMAT_VERSION, METADATA_SHA256, metadata_digest, tensor_digest

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
    for n in range(0, 512):
        cm.save_checkpoint(model, path, note="x" * n)
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no metadata length gave a header length starting with byte 0x80")
    loaded = cm.load_checkpoint(path)
    assert loaded.info["note"] == "x" * n
    assert torch.equal(loaded.head.weight, model.head.weight)
