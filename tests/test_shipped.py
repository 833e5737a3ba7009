"""The built-in corpora, kept verbatim, and the 24 shipped checkpoints: each loads, meets the
quality bar its metadata records, and recites its corpus. Never retrained here."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

import charmodels as cm

NAMES = ["goethe", "anthem", "seoul", "hihello", "pets", "avengers", "boat", "tsingtao"]
CELLS = ["rnn", "lstm", "gru"]
SHIPPED = [f"{corpus}-{cell}" for corpus in NAMES for cell in CELLS]
# the app's classroom models beside them (scripts/train_classroom.py; tested in tests/app/test_classroom_models.py)
CLASSROOM = [f"{text}-{cell}" for text in ("goethe_lines", "lecture_ko", "shakespeare") for cell in CELLS]
# the tiny models, every weight visible (scripts/train_tiny.py): hidden 2, 4, 8 of hihello and seoul
TINY_SIZES = (2, 4, 8)
TINY = [f"{text}-{cell}-h{size}" for text in ("hihello", "seoul") for cell in CELLS for size in TINY_SIZES]
# the smallest size that recites its text (reaches the quality bar), as scripts/train_tiny.py measured it
SMALLEST_THAT_RECITES = {
    ("hihello", "rnn"): 2, ("hihello", "lstm"): 4, ("hihello", "gru"): 2,
    ("seoul", "rnn"): 8, ("seoul", "lstm"): 8, ("seoul", "gru"): 8,
}


# ---------------------------------------------------------------- corpora


def test_the_eight_corpora():
    assert sorted(cm.CORPORA) == sorted(NAMES)
    for name, corpus in cm.CORPORA.items():
        assert corpus.name == name
        assert "seed 00" in corpus.source
        assert corpus.lines == (name == "pets")
        assert corpus.sha256 == hashlib.sha256(corpus.text.encode("utf-8")).hexdigest()


def test_corpus_texts_are_verbatim():
    c = {name: corpus.text for name, corpus in cm.CORPORA.items()}
    assert c["goethe"] == "Knowing is not enough; we must apply. Willing is not enough; we must do"
    assert c["hihello"] == "hihello"
    assert c["seoul"] == " seoul is the capital of south korea"
    assert c["seoul"].startswith(" ")
    assert c["avengers"] == "We are going to watch Avengers End Game"
    assert c["boat"] == "The boat is on the water. A sailor is driving that."
    anthem = c["anthem"].split("\n")
    assert len(anthem) == 8
    assert "\u2019" in c["anthem"] and "'" not in c["anthem"]
    assert anthem[0] == "O say can you see, by the dawn\u2019s early light,"
    assert anthem[-1] == "O\u2019er the land of the free and the home of the brave?"
    pets = c["pets"].split("\n")
    assert pets == ["i like dog", "i love coffee", "i hate milk", "you like cat", "you love milk", "you hate coffee"]
    tsingtao = c["tsingtao"]
    assert tsingtao.startswith("나는 한국 사람이고,") and tsingtao.endswith("중국어는 잘해!")
    assert "칭다오" in tsingtao and "중국어는 잘해!" in tsingtao
    assert "*" not in tsingtao


def test_corpus_sequences_follow_lines():
    pets = cm.CORPORA["pets"]
    assert pets.sequences() == [line + "\n" for line in pets.text.split("\n")]
    goethe = cm.CORPORA["goethe"]
    assert goethe.sequences() == [goethe.text] and goethe.prime_length(goethe.text) == 1


def test_corpus_from_text_validates():
    corpus = cm.corpus_from_text("poem_1", "나는 한국")
    assert corpus.text == "나는 한국" and not corpus.lines
    with pytest.raises(ValueError, match="at least 2 characters"):
        cm.corpus_from_text("x", "a")
    with pytest.raises(ValueError, match="name"):
        cm.corpus_from_text("../evil", "abc")


# ---------------------------------------------------------------- the checkpoint files


def test_exactly_the_24_checkpoints_are_shipped(repo_root):
    files = sorted(p.name for p in (repo_root / "checkpoints").iterdir())
    assert files == sorted(f"{name}.safetensors" for name in SHIPPED + CLASSROOM + TINY)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_meets_the_bar_it_records(shipped, name):
    corpus_name, cell = name.split("-")
    corpus = cm.CORPORA[corpus_name]
    model = shipped(name)
    assert model.config.cell == cell
    record = model.info["corpus"]
    assert record["name"] == corpus_name
    assert record["sha256"] == corpus.sha256
    assert record["text"] == corpus.text
    metrics = cm.evaluate(model, corpus)
    recorded = model.info["metrics"]
    assert metrics.tf_acc == 1.0 == recorded["tf_acc"]
    assert metrics.recon == 1.0 == recorded["recon"]
    assert metrics.min_p >= 0.9 and recorded["min_p"] >= 0.9
    assert math.isclose(metrics.min_p, recorded["min_p"], rel_tol=1e-6)
    assert math.isclose(metrics.bpc, recorded["bpc"], rel_tol=1e-6)
    assert metrics.meets_bar
    history = model.info["history"]
    assert history["reached"] is True
    assert history["snapshots"] and history["loss"]


@pytest.mark.parametrize("name", SHIPPED)
def test_greedy_generation_recites_the_corpus(shipped, name):
    corpus = cm.CORPORA[name.split("-")[0]]
    model = shipped(name)
    for sequence in corpus.sequences():
        prime = corpus.prime_length(sequence)
        written = "".join(step.char for step in cm.generate(model, sequence[:prime], len(sequence) - prime))
        assert sequence[:prime] + written == sequence


def test_shipped_names_load_without_a_path(shipped):
    by_name = cm.load_checkpoint("hihello-gru")
    by_path = shipped("hihello-gru")
    assert cm.next_char_probs(by_name, "hih") == cm.next_char_probs(by_path, "hih")


def test_shipped_files_whose_header_length_starts_with_0x80_load(repo_root):
    # regression guard over the real files (several shipped headers start with byte 0x80)
    starting = [p for p in sorted((repo_root / "checkpoints").glob("*.safetensors")) if p.read_bytes()[:1] == b"\x80"]
    if not starting:
        pytest.skip("no shipped header starts with 0x80 now; test_checkpoint builds such a file")
    for path in starting:
        assert cm.load_checkpoint(path).info["format"] == "charmodels"


def test_cli_list_json_lists_all_24(run_python):
    result = run_python("-m", "charmodels", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = [row for row in json.loads(result.stdout) if row["name"] not in CLASSROOM + TINY]
    assert sorted(row["name"] for row in rows) == sorted(SHIPPED)
    for row in rows:
        assert row["tf_acc"] == 1.0 and row["recon"] == 1.0 and row["min_p"] >= 0.9
        assert row["cell"] == row["name"].split("-")[1]


def test_cli_list_shows_the_tiny_models_honestly(run_python):
    result = run_python("-m", "charmodels", "list", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout) if row["name"] in TINY}
    assert sorted(rows) == sorted(TINY)
    for name, row in rows.items():
        text, cell, size = name.split("-")
        meets = row["tf_acc"] == 1.0 and row["recon"] == 1.0 and row["min_p"] >= 0.9
        assert row["corpus"] == text and row["cell"] == cell
        assert meets == (int(size[1:]) >= SMALLEST_THAT_RECITES[text, cell]), name


# ---------------------------------------------------------------- the tiny models


@pytest.mark.parametrize("name", TINY)
def test_tiny_checkpoint_records_what_it_reaches(shipped, name):
    """A tiny model carries the same record as the 24 and says honestly whether it recites."""
    text, cell, size = name.split("-")
    corpus = cm.CORPORA[text]
    model = shipped(name)
    assert model.config == cm.ModelConfig(cell, int(size[1:]))  # one-hot input, one layer: seed 001's shape
    record = model.info["corpus"]
    assert record["name"] == text and record["sha256"] == corpus.sha256 and record["text"] == corpus.text
    metrics = cm.evaluate(model, corpus)
    recorded = model.info["metrics"]
    for key in ("tf_acc", "recon"):
        assert metrics.to_dict()[key] == recorded[key]
    assert math.isclose(metrics.min_p, recorded["min_p"], rel_tol=1e-6)
    assert math.isclose(metrics.bpc, recorded["bpc"], rel_tol=1e-6)
    history = model.info["history"]
    assert history["snapshots"] and history["loss"]
    reaches = int(size[1:]) >= SMALLEST_THAT_RECITES[text, cell]
    assert history["reached"] is reaches and metrics.meets_bar is reaches
    if reaches:
        written = "".join(step.char for step in cm.generate(model, corpus.text[0], len(corpus.text) - 1))
        assert corpus.text[0] + written == corpus.text
    else:
        assert metrics.min_p < 0.9


def test_the_smallest_size_that_recites_is_below_a_size_that_cannot():
    # the table says something: seoul needs more units than hihello, and hidden 2 cannot recite seoul
    assert all(SMALLEST_THAT_RECITES["seoul", cell] > 2 for cell in CELLS)
    assert min(SMALLEST_THAT_RECITES[key] for key in SMALLEST_THAT_RECITES if key[0] == "hihello") == 2


def test_train_tiny_reproduces_the_tiny_checkpoints(tmp_path, run_python):
    """The tiny files are what scripts/train_tiny.py makes (hihello at hidden 2: seconds)."""
    import torch

    done = run_python("scripts/train_tiny.py", "--only", "hihello", "--size", "2", "--out", tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "smallest size that recites" in done.stdout
    here = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for cell in CELLS:
        shipped = cm.load_checkpoint(f"hihello-{cell}-h2")
        retrained = cm.load_checkpoint(tmp_path / f"hihello-{cell}-h2.safetensors")
        made_with = {key: shipped.info["trained_on"][key] for key in here}
        assert retrained.info["history"]["steps"] == shipped.info["history"]["steps"], cell
        if made_with == here:
            assert retrained.info["tensor_sha256"] == shipped.info["tensor_sha256"], f"hihello-{cell}-h2 retrains to other bits"
        else:
            for key, tensor in shipped.state_dict().items():
                assert torch.allclose(retrained.state_dict()[key], tensor, atol=1e-4), (cell, key)


# ---------------------------------------------------------------- reproduced by train.py


@pytest.mark.parametrize("corpus", ["hihello", "seoul", "pets"])
def test_train_py_reproduces_the_shipped_checkpoints(tmp_path, run_python, corpus):
    """The shipped files are what `python train.py` makes, bit for bit: retrain the fast ones (the
    bench retrains all 24) and compare every tensor. Bits depend on the torch build and its CPU
    kernels as well as on the recipe: on a machine whose kernels differ from the ones the files
    were made with (`trained_on`), the tensors must still agree to float32 rounding."""
    import torch

    done = run_python("train.py", "--corpus", corpus, "--out", tmp_path, "--jobs", "2", timeout=300)
    assert done.returncode == 0, done.stderr
    here = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for cell in CELLS:
        shipped = cm.load_checkpoint(f"{corpus}-{cell}")
        retrained = cm.load_checkpoint(tmp_path / f"{corpus}-{cell}.safetensors")
        made_with = {key: shipped.info["trained_on"][key] for key in here}
        assert retrained.info["history"]["steps"] == shipped.info["history"]["steps"], cell
        if made_with == here:
            assert retrained.info["tensor_sha256"] == shipped.info["tensor_sha256"], f"{corpus}-{cell} retrains to other bits"
            assert retrained.info["metrics"] == shipped.info["metrics"]
        else:  # other CPU kernels round differently: the same model to float32 precision
            for name, tensor in shipped.state_dict().items():
                assert torch.allclose(retrained.state_dict()[name], tensor, atol=1e-4), (cell, name, made_with, here)
