"""Hugging Face conventions up to the Hub's boundary, offline: the folder layout of
PyTorchModelHubMixin, the model card, loading through huggingface_hub's real cache, uploads
that fail fast with the folder written, and a Space that deploys as it is.

Nothing fakes the Hub: the cache is written in the layout huggingface_hub documents, checked
by its own scan_cache_dir, and read by its own hf_hub_download (local files only); uploads
stop at their first network step (offline mode, no login, an endpoint that refuses).
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard, SpaceCard, constants, scan_cache_dir
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects
from PIL import Image
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

import charmodels as cm
from charmodels import hub
from charmodels.checkpoint import shipped_names
from charmodels.errors import MESSAGES, CharmodelsError

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"  # the Space's card
FAST = 5.0  # seconds: "fails within seconds", with room for a busy machine


@pytest.fixture
def offline(monkeypatch):
    """huggingface_hub in offline mode, as HF_HUB_OFFLINE=1 sets it (read at run time)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache (HF_HUB_CACHE) that huggingface_hub reads from, offline."""
    folder = tmp_path / "hf-cache"
    folder.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return folder


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def cache_repo(cache: Path, repo_id: str, files: dict[str, bytes], commit: str | None = None, ref: str | None = "main") -> Path:
    """Put a model repo's files into a Hugging Face cache the way hf_hub_download leaves them
    (huggingface_hub docs, "Understand caching"): models--owner--name/blobs/<etag>,
    snapshots/<commit>/<path> a relative symlink to its blob, refs/main holding the commit.
    A file stored in LFS/Xet (the binaries, by .gitattributes) has its SHA-256 as etag,
    any other its git blob SHA-1. `ref` (a branch) points at the commit unless None."""
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    repo = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    if ref is not None:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    for name, data in files.items():
        binary = name.endswith((".safetensors", ".png"))
        etag = hashlib.sha256(data).hexdigest() if binary else git_blob_sha1(data)
        blob = repo / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        pointer = repo / "snapshots" / commit / name
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    return repo


def cache_folder(cache: Path, repo_id: str, folder: Path, under: str = "") -> Path:
    """A folder written by save_pretrained, as a repo (or a subfolder of one) in the cache."""
    files = {f"{under}{path.name}": path.read_bytes() for path in sorted(folder.iterdir())}
    return cache_repo(cache, repo_id, files)


def same_weights(a: cm.CharModel, b: cm.CharModel) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def without_path(info: dict) -> dict:
    return {key: value for key, value in info.items() if key != "path"}


def run(args: list, cwd: Path, timeout: float = 180, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """A command from `cwd` with charmodels importable and `env` added; (result, seconds)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("CHARMODELS_CHECKPOINTS", "HF_TOKEN")}
    environment.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", **env)
    started = time.monotonic()
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=environment, capture_output=True, text=True, encoding="utf-8", timeout=timeout
    )
    return result, time.monotonic() - started


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- save_pretrained / from_pretrained


def test_save_pretrained_writes_the_mixin_layout_around_the_same_checkpoint(tmp_path, shipped):
    model = shipped("goethe-lstm")
    folder = model.save_pretrained(tmp_path / "goethe", repo_id="alice/charmodels-goethe-lstm")
    assert folder == tmp_path / "goethe"
    assert sorted(p.name for p in folder.iterdir()) == sorted(hub.FILES)
    # the shipped checkpoint itself, byte for byte: its metadata and SHA-256s kept
    assert filecmp.cmp(folder / "model.safetensors", ROOT / "checkpoints" / "goethe-lstm.safetensors", shallow=False)
    plain = cm.load_checkpoint(folder / "model.safetensors")
    assert same_weights(plain, model) and without_path(plain.info) == without_path(model.info)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config == {"cell": "lstm", "hidden_size": 128, "layers": 1, "embedding_dim": 0, "vocab": model.vocab.chars}

    loaded = cm.CharModel.from_pretrained(folder)
    assert same_weights(loaded, model) and loaded.vocab == model.vocab and loaded.config == model.config
    assert without_path(loaded.info) == without_path(model.info) and not loaded.training
    assert cm.load_checkpoint(folder).info["tensor_sha256"] == model.info["tensor_sha256"]  # a folder loads too


def test_a_model_trained_in_python_round_trips(tmp_path):
    corpus = cm.CORPORA["hihello"]
    model, _ = cm.train(corpus, cm.ModelConfig("gru", 16), cm.TrainConfig(seed=1))
    folder = model.save_pretrained(tmp_path / "mine")
    loaded = cm.CharModel.from_pretrained(str(folder))
    assert same_weights(loaded, model)
    assert loaded.info["corpus"]["text"] == corpus.text and loaded.info["history"] == json.loads(json.dumps(model.info["history"]))
    # train() records no metrics: the folder's file and card carry them, measured on the text
    assert "metrics" not in model.info and loaded.info["metrics"] == cm.evaluate(model, corpus).to_dict()
    assert "| tf_acc |" in (folder / "README.md").read_text(encoding="utf-8") and (folder / "loss.png").is_file()


def test_a_changed_model_is_saved_anew_and_an_untrained_one_has_no_curve(tmp_path, shipped, make_model):
    model = cm.load_checkpoint("hihello-rnn")  # its own copy: the session's shipped models stay untouched
    with torch.no_grad():
        model.head.bias.add_(0.5)
    folder = model.save_pretrained(tmp_path / "changed")
    assert not filecmp.cmp(folder / "model.safetensors", ROOT / "checkpoints" / "hihello-rnn.safetensors", shallow=False)
    assert torch.equal(cm.CharModel.from_pretrained(folder).head.bias, model.head.bias)

    shipped("goethe-lstm").save_pretrained(tmp_path / "reused")
    fresh = make_model("lstm", 8, "abc")
    folder = fresh.save_pretrained(tmp_path / "reused")  # the old model's curve must not stay behind
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert same_weights(cm.CharModel.from_pretrained(folder), fresh)
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "loss.png" not in card and "carries no measurements" in card


def test_from_pretrained_is_strict(tmp_path, shipped):
    good = shipped("seoul-gru").save_pretrained(tmp_path / "good")

    def variant(name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for path in good.iterdir():
            (folder / path.name).write_bytes(path.read_bytes())
        return folder

    def refused(folder: Path, code: str) -> cm.CheckpointError:
        with pytest.raises(cm.CheckpointError) as info:
            cm.CharModel.from_pretrained(folder)
        assert info.value.code == code, info.value
        assert info.value.code in MESSAGES and str(tmp_path) not in info.value.problem
        return info.value

    no_weights = variant("no-weights")
    (no_weights / "model.safetensors").unlink()
    refused(no_weights, "pretrained_no_weights")

    no_config = variant("no-config")
    (no_config / "config.json").unlink()
    assert refused(no_config, "pretrained_no_config").source.endswith("config.json")

    other = variant("other-config")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "hidden_size": 64, "vocab": config["vocab"][::-1], "note": "kept"}))
    assert refused(other, "pretrained_config_mismatch").params["keys"] == "hidden_size, vocab"

    extra = variant("extra-keys")  # keys a repo adds of its own are allowed
    (extra / "config.json").write_text(json.dumps({**config, "architectures": ["CharModel"]}))
    assert same_weights(cm.CharModel.from_pretrained(extra), shipped("seoul-gru"))

    garbled = variant("garbled-config")
    (garbled / "config.json").write_text("{not json")
    refused(garbled, "pretrained_config")
    (garbled / "config.json").write_text("[1, 2]")
    refused(garbled, "pretrained_config")

    # a missing weight is an error, never a silently random tensor (the mixin's strict=False)
    missing = variant("missing-weight")
    data = (missing / "model.safetensors").read_bytes()
    length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + length])["__metadata__"]
    tensors = {k: v for k, v in load_tensors(data).items() if k != "head.bias"}
    (missing / "model.safetensors").write_bytes(save_tensors(tensors, metadata=metadata))
    refused(missing, "tensors_corrupted")  # the recorded SHA-256 no longer matches
    metadata["tensor_sha256"] = json.dumps(cm.checkpoint.tensor_digest(tensors))
    metadata[cm.checkpoint.METADATA_SHA256] = json.dumps(cm.checkpoint.metadata_digest(metadata))
    (missing / "model.safetensors").write_bytes(save_tensors(tensors, metadata=metadata))
    assert "head.bias" in refused(missing, "tensor_names").params["missing"]


def test_from_pretrained_takes_files_and_shipped_names_like_load_checkpoint(shipped):
    by_name = cm.CharModel.from_pretrained("pets-lstm")
    by_path = cm.CharModel.from_pretrained(ROOT / "checkpoints" / "pets-lstm.safetensors")
    assert same_weights(by_name, shipped("pets-lstm")) and same_weights(by_path, by_name)
    with pytest.raises(cm.CheckpointError) as info:
        cm.CharModel.from_pretrained("no-such-model")
    assert info.value.code == "no_such_checkpoint"


# ---------------------------------------------------------------- the model card


def test_the_card_parses_offline_and_says_what_a_hub_user_needs(tmp_path, shipped):
    model = shipped("goethe-lstm")
    folder = model.save_pretrained(tmp_path / "goethe", repo_id="alice/charmodels-goethe-lstm")
    data = ModelCard.load(folder / "README.md").data.to_dict()
    assert data["language"] == ["en"] and data["license"] == "mit" and data["library_name"] == "charmodels"
    assert {"charmodels", "character-level", "lstm"} <= set(data["tags"]) and data["pipeline_tag"] == "text-generation"
    text = (folder / "README.md").read_text(encoding="utf-8")
    corpus, metrics = model.info["corpus"], model.info["metrics"]
    assert corpus["source"] in text and corpus["text"] in text and corpus["sha256"] in text
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| ")}
    assert rows["tf_acc"] == "100.0%" and rows["recon"] == "100.0%"
    assert rows["bpc"] == f"{metrics['bpc']:.4f}" and rows["min_p"] == f"{metrics['min_p']:.3f}"
    assert "**met**" in text and "CharModel.from_pretrained('alice/charmodels-goethe-lstm')" in text
    assert "![Training loss of goethe-lstm](loss.png)" in text
    with Image.open(folder / "loss.png") as image:
        assert image.format == "PNG" and image.size == (800, 420)
        assert len(image.convert("RGB").getcolors(maxcolors=100_000)) > 10  # axes, labels and a curve, not a blank


def test_the_card_of_a_korean_text_and_of_lines(tmp_path, shipped):
    korean = ModelCard.load(shipped("tsingtao-gru").save_pretrained(tmp_path / "ko") / "README.md")
    assert korean.data.language == ["ko"] and cm.CORPORA["tsingtao"].text in korean.text
    pets = (shipped("pets-rnn").save_pretrained(tmp_path / "pets") / "README.md").read_text(encoding="utf-8")
    assert "prompt = 'i like '" in pets and "read as separate lines" in pets
    chosen = shipped("seoul-lstm").save_pretrained(tmp_path / "chosen", license="cc-by-4.0", language=["en", "ko"])
    assert ModelCard.load(chosen / "README.md").data.to_dict()["license"] == "cc-by-4.0"
    assert ModelCard.load(chosen / "README.md").data.language == ["en", "ko"]
    assert hub.languages("seoul 서울") == ["en", "ko"] and hub.languages("123 ...") == []


def test_the_card_of_a_long_text_model_shows_validation_bpc(tmp_path):
    from charmodels.longtext import LongTextConfig, train_long

    text = "the quick brown fox jumps over the lazy dog. " * 40
    config = LongTextConfig(seq_len=16, batch_size=4, max_steps=30, eval_every=10, checkpoint_every=0)
    path = tmp_path / "runs" / "fox-gru.safetensors"
    train_long(cm.Corpus("fox", text, "a test text"), cm.ModelConfig("gru", 16), config, path)
    model = cm.load_checkpoint(path)
    folder = model.save_pretrained(tmp_path / "fox", repo_id="alice/fox-gru")
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"| validation bpc | {model.info['validation']['bpc']:.4f} |" in card and "tf_acc" not in card
    assert "temperature=0.8, seed=0" in card and "--temperature 0.8 --seed 0" in card
    assert filecmp.cmp(folder / "model.safetensors", path, shallow=False)  # validation and history kept
    with Image.open(folder / "loss.png") as image:
        assert image.size == (800, 420)


def test_the_cards_snippet_runs_against_the_hub_cache_offline(tmp_path, shipped):
    """The card's Python snippet and its CLI line, run as a reader would, offline, from a cache
    holding the repo: they print the text the model has learnt."""
    repo_id = "alice/charmodels-goethe-lstm"
    folder = shipped("goethe-lstm").save_pretrained(tmp_path / "goethe", repo_id=repo_id)
    cache = tmp_path / "hf-cache"
    cache_folder(cache, repo_id, folder)
    card = (folder / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(from charmodels import CharModel.*?)```", card, re.S)[1]
    command = re.search(r"```bash\n(.*?)\n```", card, re.S)[1]
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    result, _ = run([sys.executable, "-c", snippet], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == cm.CORPORA["goethe"].text
    args = shlex.split(command)
    assert args[:3] == ["python", "-m", "charmodels"]
    result, _ = run([sys.executable, *args[1:]], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == cm.CORPORA["goethe"].text


# ---------------------------------------------------------------- hf:// through the real cache


def test_hf_repo_loads_from_the_real_cache_layout(tmp_path, cache, shipped):
    model = shipped("goethe-lstm")
    folder = model.save_pretrained(tmp_path / "goethe", repo_id="alice/charmodels-goethe-lstm")
    cache_folder(cache, "alice/charmodels-goethe-lstm", folder)
    cache_folder(cache, "alice/collection", folder, under="goethe-lstm/")
    report = scan_cache_dir(cache)  # huggingface_hub's own reading of the layout
    assert not report.warnings
    repos = {repo.repo_id: repo for repo in report.repos}
    assert set(repos) == {"alice/charmodels-goethe-lstm", "alice/collection"}
    (revision,) = repos["alice/charmodels-goethe-lstm"].revisions
    assert revision.refs == {"main"} and {f.file_name for f in revision.files} == set(hub.FILES)

    for source in (
        "hf://alice/charmodels-goethe-lstm",  # a model repo: its model.safetensors
        "hf://alice/charmodels-goethe-lstm/model.safetensors",
        "hf://alice/collection/goethe-lstm",  # a folder in a repo
        "hf://alice/collection/goethe-lstm/model.safetensors",
    ):
        started = time.monotonic()
        loaded = cm.load_checkpoint(source)
        assert time.monotonic() - started < FAST
        assert same_weights(loaded, model) and without_path(loaded.info) == without_path(model.info), source
        assert loaded.info["path"].startswith(str(cache))
    for name in ("alice/charmodels-goethe-lstm", "hf://alice/charmodels-goethe-lstm"):
        assert same_weights(cm.CharModel.from_pretrained(name), model)
    assert "".join(step.char for step in cm.generate("hf://alice/charmodels-goethe-lstm", "K", 6)) == "nowing"


def test_a_revision_is_read_from_the_cache(tmp_path, cache, shipped):
    main, older = shipped("boat-gru").save_pretrained(tmp_path / "main"), shipped("boat-lstm").save_pretrained(tmp_path / "older")
    cache_folder(cache, "alice/boat", main)
    commit = "a" * 40  # an older commit, cached but not where main points
    cache_repo(cache, "alice/boat", {p.name: p.read_bytes() for p in older.iterdir()}, commit=commit, ref=None)
    assert same_weights(cm.CharModel.from_pretrained("alice/boat"), shipped("boat-gru"))
    assert same_weights(cm.CharModel.from_pretrained("alice/boat", revision=commit), shipped("boat-lstm"))


@pytest.mark.parametrize("source", ["hf://alice/nothing", "hf://alice/nothing/sub", "alice/nothing"])
def test_offline_and_not_cached_fails_within_seconds(cache, source):
    started = time.monotonic()
    with pytest.raises(cm.CheckpointError) as info:
        if source.startswith("hf://"):
            cm.load_checkpoint(source)
        else:
            cm.CharModel.from_pretrained(source)
    assert time.monotonic() - started < FAST
    assert info.value.code == "hub_offline" and info.value.source.startswith("hf://alice/nothing")


def test_only_the_weights_cached_is_not_a_repo_folder(tmp_path, cache, shipped):
    folder = shipped("boat-gru").save_pretrained(tmp_path / "boat")
    cache_repo(cache, "alice/boat", {"model.safetensors": (folder / "model.safetensors").read_bytes()})
    assert same_weights(cm.load_checkpoint("hf://alice/boat"), shipped("boat-gru"))  # the file alone: fine
    with pytest.raises(cm.CheckpointError) as info:
        cm.CharModel.from_pretrained("alice/boat")  # from_pretrained wants config.json too
    assert info.value.code == "hub_offline" and info.value.source == "hf://alice/boat/config.json"


@pytest.mark.parametrize("url", ["hf://alice/bad name", "hf://alice/", "hf://-alice/x--y"])
def test_a_malformed_repo_is_refused_before_any_lookup(url):
    with pytest.raises(cm.CheckpointError) as info:
        cm.load_checkpoint(url)
    assert info.value.code == "hub_name"


# ---------------------------------------------------------------- uploads stop at the boundary


def test_push_to_hub_offline_writes_the_folder_then_fails_fast(tmp_path, monkeypatch, offline, shipped):
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    with pytest.raises(CharmodelsError) as info:
        shipped("anthem-gru").push_to_hub("alice/anthem-gru")
    assert time.monotonic() - started < FAST
    error = info.value
    assert error.code == "hub_push_offline"
    assert error.params == {"repo": "alice/anthem-gru", "folder": "hub/anthem-gru", "command": "hf upload alice/anthem-gru hub/anthem-gru ."}
    assert "HF_HUB_OFFLINE=1" in str(error) and "hf upload alice/anthem-gru hub/anthem-gru ." in str(error)
    folder = tmp_path / "hub" / "anthem-gru"
    assert sorted(p.name for p in folder.iterdir()) == sorted(hub.FILES)
    assert same_weights(cm.CharModel.from_pretrained(folder), shipped("anthem-gru"))
    assert "CharModel.from_pretrained('alice/anthem-gru')" in (folder / "README.md").read_text(encoding="utf-8")


def test_push_to_hub_logged_out_or_unreachable_fails_fast(tmp_path, monkeypatch, make_model):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))  # nobody logged in
    for variable in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(variable, raising=False)
    model = make_model("gru", 8, "ab")
    started = time.monotonic()
    with pytest.raises(CharmodelsError) as info:
        model.push_to_hub("alice/tiny", folder=tmp_path / "out")
    assert time.monotonic() - started < FAST and info.value.code == "hub_push_no_token"
    assert "hf auth login" in str(info.value) and (tmp_path / "out" / "model.safetensors").is_file()

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")  # refuses every connection
    started = time.monotonic()
    with pytest.raises(CharmodelsError) as info:
        model.push_to_hub("alice/tiny", folder=tmp_path / "out", token="hf_not_a_real_token")
    assert time.monotonic() - started < FAST and info.value.code == "hub_push_unreachable"
    assert info.value.params["folder"] == str(tmp_path / "out")


@pytest.mark.parametrize("repo_id", ["alice", "alice/bad name", "a/b/c", "", None, "alice/" + "x" * 97])
def test_a_bad_repo_id_is_refused_before_anything_is_written(tmp_path, monkeypatch, make_model, repo_id):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CharmodelsError) as info:
        make_model().push_to_hub(repo_id)
    assert info.value.code == "hub_repo_id"
    assert list(tmp_path.iterdir()) == []


def test_publish_offline_writes_every_shipped_model_then_fails_fast(tmp_path):
    result, seconds = run([sys.executable, "-m", "charmodels", "publish", "alice/charmodels"], tmp_path, HF_HUB_OFFLINE="1")
    assert result.returncode == 2 and seconds < 60, (result.stdout, result.stderr)
    names = hub.published_names()
    assert names == shipped_names() and len(names) >= 24  # the 24 that recite and the classroom models
    lines = result.stdout.splitlines()
    assert lines == [f"wrote hub/charmodels-{name} for alice/charmodels-{name}" for name in names]
    (message,) = result.stderr.splitlines()  # one line, no traceback
    assert message.startswith(f"error: offline mode (HF_HUB_OFFLINE=1): nothing was uploaded to alice/charmodels-<model> ({len(names)} repos)")
    assert 'for folder in hub/charmodels-*/; do hf upload "alice/$(basename "$folder")" "$folder" .; done' in message
    for name in names:
        folder = tmp_path / "hub" / f"charmodels-{name}"
        assert sorted(p.name for p in folder.iterdir()) == sorted(hub.FILES), name
        assert filecmp.cmp(folder / "model.safetensors", ROOT / "checkpoints" / f"{name}.safetensors", shallow=False)
        card = ModelCard.load(folder / "README.md")
        assert card.data.library_name == "charmodels" and f"hf://alice/charmodels-{name}" in card.text


def test_publish_commands_reach_the_hub_cli_offline(tmp_path):
    """The upload command a failed publish prints is a shell command the real `hf upload` accepts:
    run offline, each upload gets as far as creating its repo (not a usage error)."""
    shipped_copy = tmp_path / "shipped"
    shipped_copy.mkdir()
    for name in ("hihello-rnn", "boat-lstm"):
        (shipped_copy / f"{name}.safetensors").write_bytes((ROOT / "checkpoints" / f"{name}.safetensors").read_bytes())
    hf = Path(sys.executable).parent / "hf"
    if not hf.exists():
        pytest.skip("the huggingface_hub CLI (hf) is not installed beside this Python")
    env = {"HF_HUB_OFFLINE": "1", "CHARMODELS_CHECKPOINTS": str(shipped_copy), "PATH": f"{hf.parent}{os.pathsep}{os.environ['PATH']}"}
    cases = [([], 2), (["--only", "boat-lstm", "--only", "hihello-rnn", "--out", "my hub"], 2), (["--only", "boat-lstm"], 1)]
    for extra, repos in cases:  # the whole set (a glob), a chosen few (a list), one model (one command)
        result, _ = run([sys.executable, "-m", "charmodels", "publish", "bob/cm", *extra], tmp_path, **env)
        assert result.returncode == 2, result.stderr
        command = result.stderr.split("upload it later with: ", 1)[1].strip()
        uploads, _ = run(["sh", "-c", command], tmp_path, **env)
        assert uploads.stderr.count("offline mode is enabled") == repos, (command, uploads.stderr)
        assert "No such option" not in uploads.stderr and "Usage" not in uploads.stderr


def test_publish_refuses_unknown_models_before_writing(tmp_path):
    result, _ = run([sys.executable, "-m", "charmodels", "publish", "alice/cm", "--only", "goethe-lstm", "--only", "nope"], tmp_path)
    assert result.returncode == 2 and "nope: no such checkpoint" in result.stderr
    assert not (tmp_path / "hub").exists()


def test_train_py_push_to_hub_offline(tmp_path):
    text_file = tmp_path / "tiny.txt"
    text_file.write_text("abcabcabd", encoding="utf-8")
    args = [sys.executable, ROOT / "train.py", "--text-file", text_file, "--name", "tiny", "--cell", "lstm", "--hidden-size", "32"]
    args += ["--out", tmp_path / "out", "--jobs", "1", "--push-to-hub", "alice/tiny-lstm"]
    result, _ = run(args, tmp_path, HF_HUB_OFFLINE="1")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "writing hub/tiny-lstm and uploading it to alice/tiny-lstm" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        "error: offline mode (HF_HUB_OFFLINE=1): nothing was uploaded to alice/tiny-lstm; the complete upload is "
        "ready in hub/tiny-lstm: upload it later with: hf upload alice/tiny-lstm hub/tiny-lstm ."
    )
    folder = tmp_path / "hub" / "tiny-lstm"
    assert sorted(p.name for p in folder.iterdir()) == sorted(hub.FILES)
    assert filecmp.cmp(folder / "model.safetensors", tmp_path / "out" / "tiny-lstm.safetensors", shallow=False)
    card = ModelCard.load(folder / "README.md")
    assert card.data.language == ["en"] and "| tf_acc | 100.0% |" in card.text and "`tiny`" in card.text


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--corpus", "goethe"], "--push-to-hub uploads one model"),  # three cells
        (["--cell", "lstm"], "--push-to-hub uploads one model"),  # eight corpora
        (["--corpus", "goethe", "--cell", "lstm", "--push-to-hub", "alice"], "a Hub repository is named owner/name"),
    ],
)
def test_train_py_refuses_a_push_it_cannot_do_before_training(tmp_path, extra, message):
    args = [sys.executable, ROOT / "train.py", *extra, "--out", tmp_path / "out"]
    if "--push-to-hub" not in extra:
        args += ["--push-to-hub", "alice/x"]
    result, seconds = run(args, tmp_path)
    assert result.returncode == 2 and message in result.stderr and seconds < 60  # refused at parsing, nothing trained
    assert not (tmp_path / "out").exists() and not (tmp_path / "hub").exists()


def test_the_new_error_codes_are_catalogued():
    for code in ("hub_repo_id", "hub_push_offline", "hub_push_no_token", "hub_push_unreachable", "hub_push_failed",
                 "pretrained_no_weights", "pretrained_no_config", "pretrained_config", "pretrained_config_mismatch"):
        assert code in MESSAGES


# ---------------------------------------------------------------- the Space


def tracked_files() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()


def is_binary(path: Path) -> bool:
    return b"\0" in path.read_bytes()[:8000]  # git's own test


def test_every_binary_file_goes_to_lfs_and_notebooks_stay_text():
    binaries = [name for name in tracked_files() if (ROOT / name).is_file() and is_binary(ROOT / name)]
    assert any(name.endswith(".safetensors") for name in binaries) and any(name.endswith(".png") for name in binaries)
    probes = binaries + ["notebooks/x.ipynb", "README.md", "charmodels/hub.py"]
    answer = subprocess.run(["git", "check-attr", "filter", "--", *probes], cwd=ROOT, capture_output=True, text=True, check=True)
    filters = dict(line.rsplit(": filter: ", 1) for line in answer.stdout.splitlines())
    assert all(filters[name] == "lfs" for name in binaries), {n: f for n, f in filters.items() if n in binaries and f != "lfs"}
    assert filters["notebooks/x.ipynb"] == filters["README.md"] == filters["charmodels/hub.py"] == "unspecified"


def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_space_links_every_published_model():
    """The README front matter (a Space card) names each shipped model's repo, as
    `python -m charmodels publish OWNER/NAME` publishes them."""
    models = SpaceCard.load(README).data.models
    assert models, "README.md front matter: add the models: list (see /work/plan/readme_hub.md)"
    prefix = models[0].rsplit("-", 2)[0]
    assert models == [hub.published_repo_id(prefix, name) for name in hub.published_names()]


def space_command() -> list[str]:
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme(), re.S)
    commands = [block.replace("\\\n", " ") for block in blocks if "--repo-type space" in block]
    assert commands, "README.md: the 'Publish your own Space' section with its hf upload command"
    return shlex.split(commands[0])


def test_the_space_upload_command_uploads_what_the_space_runs_and_nothing_ignored(tmp_path):
    args = space_command()
    assert args[:5] == ["hf", "upload", args[2], ".", "."] and args[2].endswith("/charmodels")
    include = [args[i + 1] for i, arg in enumerate(args) if arg == "--include"]
    exclude = [args[i + 1] for i, arg in enumerate(args) if arg == "--exclude"]
    # what upload_folder does with them: every file under the folder, its patterns and its defaults
    files = [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob("**/*")) if p.is_file()]
    chosen = set(filter_repo_objects(files, allow_patterns=include, ignore_patterns=exclude + DEFAULT_IGNORE_PATTERNS))
    needed = {name for name in tracked_files() if name.startswith(("charmodels/", "demo/", "checkpoints/"))}
    needed |= {"README.md", "requirements.txt", ".gitattributes", "LICENSE", "demo/app.py"}
    assert needed <= chosen, sorted(needed - chosen)
    listed = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    not_ignored = set(tracked_files()) | set(listed.stdout.splitlines())
    assert chosen <= not_ignored, sorted(chosen - not_ignored)[:10]  # no .venv, caches, runs or hub folders
    assert not any(name.startswith(("tests/", "bench/", ".venv/")) for name in chosen)
    space = SpaceCard.load(README).data
    assert space.sdk == "gradio" and space.app_file in chosen

    hf = Path(sys.executable).parent / "hf"
    if hf.exists():  # the real CLI takes the command as written: offline it stops at creating the repo
        result, _ = run([hf, *args[1:]], tmp_path, HF_HUB_OFFLINE="1")
        assert result.returncode == 1 and "offline mode is enabled" in result.stderr, result.stderr
