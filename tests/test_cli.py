"""python -m charmodels, run as a subprocess: eval of a checkpoint saved from Python,
--text-file for any checkpoint, and sample with the library's contract (--top-k 0 = off,
--top-p 1 = off, --seed -1 = random) and the library's error messages."""

from __future__ import annotations

import json

import pytest

import charmodels as cm
from charmodels.checkpoint import corpus_record
from charmodels.corpora import Corpus
from charmodels.data import split_text
from charmodels.errors import CharmodelsError
from charmodels.metrics import held_out_bpc

KOREAN = "나는 한국 사람이고 서울에 살아"


def run_cli(run_python, *args):
    return run_python("-m", "charmodels", *args)


@pytest.fixture(scope="module")
def korean(tmp_path_factory):
    """A model trained from Python and saved the plain way: save_checkpoint(m, "ko.safetensors")."""
    model, history = cm.train(KOREAN, cm.ModelConfig("gru", 32), cm.TrainConfig(seed=0))
    assert history.reached
    path = tmp_path_factory.mktemp("ko") / "ko.safetensors"
    cm.save_checkpoint(model, path)
    return model, path


# ---------------------------------------------------------------- eval


def test_eval_of_a_checkpoint_saved_from_python(run_python, korean):
    # regression: it "does not carry its training text", and --text-file was "for checkpoints trained on a long text"
    model, path = korean
    result = run_cli(run_python, "eval", path, "--json")
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["meets_bar"] is True
    expected = cm.evaluate(model, KOREAN)
    for key in ("tf_acc", "recon", "bpc", "min_p"):
        assert measured[key] == pytest.approx(getattr(expected, key), rel=1e-9)


def test_text_file_serves_a_short_text_checkpoint(run_python, korean, tmp_path):
    model, path = korean
    other = tmp_path / "other.txt"
    other.write_text("서울에 살아 나는 한국 사람이고", encoding="utf-8")
    result = run_cli(run_python, "eval", path, "--text-file", other, "--json")
    assert result.returncode == 1, result.stderr  # measured, and below the bar on a text it was not trained on
    measured = json.loads(result.stdout)
    assert measured["text_file"] == str(other) and measured["meets_bar"] is False
    assert measured["tf_acc"] == pytest.approx(cm.evaluate(model, other.read_text(encoding="utf-8")).tf_acc)

    own = tmp_path / "own.txt"
    own.write_text(KOREAN, encoding="utf-8")
    again = run_cli(run_python, "eval", path, "--text-file", own)
    assert again.returncode == 0, again.stderr
    assert "meets the quality bar" in again.stdout and "recon   100.0%" in again.stdout


def test_text_file_is_read_as_lines_for_a_checkpoint_of_lines(run_python, shipped, tmp_path):
    text = "you like dog\ni hate milk\n"
    text_file = tmp_path / "pets.txt"
    text_file.write_text(text, encoding="utf-8")
    result = run_cli(run_python, "eval", "pets-gru", "--text-file", text_file, "--json")
    measured = json.loads(result.stdout)
    expected = cm.evaluate(shipped("pets-gru"), Corpus("mine", text, "", lines=True))
    assert measured["tf_acc"] == pytest.approx(expected.tf_acc) and measured["recon"] == pytest.approx(expected.recon)


def test_a_checkpoint_without_its_text_asks_for_one(run_python, korean, tmp_path):
    model, _ = korean
    bare = tmp_path / "bare.safetensors"
    cm.save_checkpoint(model, bare, corpus=None)  # saved without its corpus
    result = run_cli(run_python, "eval", bare)
    assert result.returncode == 2
    assert "--text-file" in result.stderr and "does not carry" in result.stderr and "Traceback" not in result.stderr


def test_a_built_in_corpus_is_found_by_its_hash_only(run_python, shipped, tmp_path):
    model = shipped("goethe-lstm")
    record = {key: value for key, value in corpus_record(cm.CORPORA["goethe"]).items() if key != "text"}
    named = tmp_path / "named.safetensors"
    cm.save_checkpoint(model, named, corpus=record)
    found = run_cli(run_python, "eval", named, "--json")
    assert found.returncode == 0, found.stderr and json.loads(found.stdout)["corpus"] == "goethe"
    impostor = tmp_path / "impostor.safetensors"
    cm.save_checkpoint(model, impostor, corpus={**record, "sha256": "0" * 64})  # says "goethe", is another text
    refused = run_cli(run_python, "eval", impostor)
    assert refused.returncode == 2 and "--text-file" in refused.stderr


@pytest.mark.parametrize("content,says", [(None, "cannot read"), (b"ab\xffcd", "not UTF-8")])
def test_an_unreadable_text_file_is_one_clear_line(run_python, tmp_path, content, says):
    text_file = tmp_path / "t.txt"
    if content is not None:
        text_file.write_bytes(content)
    result = run_cli(run_python, "eval", "hihello-gru", "--text-file", text_file)
    assert result.returncode == 2
    assert says in result.stderr and "t.txt" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- sample: one contract with the library


def test_sample_takes_off_and_random_as_the_library_does(run_python, shipped):
    # regression: --seed -1 was refused with a message suggesting None, which the command line cannot parse
    seeded = run_cli(
        run_python, "sample", "goethe-lstm", "--prompt", "K", "--length", "40",
        "--temperature", "1.5", "--seed", "7", "--top-k", "0", "--top-p", "1", "--json",
    )
    assert seeded.returncode == 0, seeded.stderr
    expected = "".join(step.char for step in cm.generate(shipped("goethe-lstm"), "K", 40, 1.5, top_k=None, top_p=None, seed=7))
    assert json.loads(seeded.stdout)["text"] == expected
    unseeded = run_cli(run_python, "sample", "goethe-lstm", "--prompt", "K", "--length", "5", "--temperature", "1", "--seed", "-1")
    assert unseeded.returncode == 0, unseeded.stderr
    assert unseeded.stdout.startswith("K") and len(unseeded.stdout.rstrip("\n")) == 6


def test_sample_of_a_checkpoint_saved_from_python(run_python, korean):
    _, path = korean
    result = run_cli(run_python, "sample", path, "--prompt", KOREAN[0], "--length", len(KOREAN) - 1)
    assert result.returncode == 0, result.stderr
    assert result.stdout == KOREAN + "\n"  # the prompt, then what the model writes


@pytest.mark.parametrize(
    "flags,call",
    [
        (["--seed", "-2"], {"seed": -2}),
        (["--top-p", "0"], {"top_p": 0.0}),
        (["--length", "10001"], {"length": 10_001}),
    ],
)
def test_sample_refuses_what_the_library_refuses_with_its_words(run_python, flags, call):
    arguments = {"length": 5, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": -1, **call}
    with pytest.raises(CharmodelsError) as info:
        cm.generate("goethe-lstm", "K", **arguments)
    result = run_cli(run_python, "sample", "goethe-lstm", "--prompt", "K", "--length", "5", "--temperature", "1", *flags)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {info.value}"


def test_sample_help_says_what_off_and_random_are(run_python):
    result = run_cli(run_python, "sample", "--help")
    text = " ".join(result.stdout.split())
    assert "0 = off" in text and "1 = off" in text and "-1 = random" in text and "0 = greedy" in text


def test_a_long_text_checkpoint_measures_validation_bpc_of_the_text_given_again(run_python, make_model, tmp_path):
    text = "the cat sat on the mat; " * 40
    text_file = tmp_path / "long.txt"
    text_file.write_text(text, encoding="utf-8")
    model = make_model("gru", chars=cm.Vocab.from_text(text).chars)
    record = {key: value for key, value in corpus_record(Corpus("long", text, "")).items() if key != "text"}
    path = tmp_path / "long.safetensors"
    cm.save_checkpoint(model, path, corpus=record, validation={"fraction": 0.1})  # as if too long to carry
    needs = run_cli(run_python, "eval", path)
    assert needs.returncode == 2 and "--text-file" in needs.stderr and "does not carry" in needs.stderr
    measured = run_cli(run_python, "eval", path, "--text-file", text_file, "--json")
    assert measured.returncode == 0, measured.stderr
    expected = held_out_bpc(model, split_text(text, 0.1).val)
    assert json.loads(measured.stdout)["val_bpc"] == pytest.approx(expected, rel=1e-6)
    text_file.write_text(text + "!", encoding="utf-8")
    other = run_cli(run_python, "eval", path, "--text-file", text_file)
    assert other.returncode == 2 and "is not the text this checkpoint was trained on" in other.stderr
