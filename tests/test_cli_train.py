"""End to end through the command lines: train.py on a text file, then
`python -m charmodels eval` and `sample` on the checkpoint it wrote."""

from __future__ import annotations

import json

import pytest

import charmodels as cm

TEXTS = {
    "abc": "abcabcabd",
    "korean": "나는 한국 사람이고 서울에 살아",
}


@pytest.mark.parametrize("which", sorted(TEXTS))
def test_train_eval_sample_round_trip(tmp_path, run_python, which):
    text = TEXTS[which]
    text_file = tmp_path / "tiny.txt"
    text_file.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    trained = run_python(
        "train.py", "--text-file", text_file, "--name", "tiny", "--cell", "lstm", "--hidden-size", "32", "--out", out, "--jobs", "1"
    )
    assert trained.returncode == 0, trained.stderr
    assert "tiny" in trained.stdout and "below the bar" not in trained.stdout
    path = out / "tiny-lstm.safetensors"
    assert path.is_file()
    assert sorted(p.name for p in out.iterdir()) == ["tiny-lstm.safetensors"]  # no temporary files left

    model = cm.load_checkpoint(path)
    assert model.config == cm.ModelConfig("lstm", 32)
    assert model.info["corpus"]["text"] == text
    assert model.info["metrics"]["tf_acc"] == 1.0

    evaluated = run_python("-m", "charmodels", "eval", path, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["meets_bar"] is True
    assert result["tf_acc"] == 1.0 and result["recon"] == 1.0 and result["min_p"] >= 0.9
    assert result["corpus"] == "tiny"

    sampled = run_python("-m", "charmodels", "sample", path, "--prompt", text[0], "--length", len(text) - 1, "--json")
    assert sampled.returncode == 0, sampled.stderr
    sample = json.loads(sampled.stdout)
    assert sample["prompt"] == text[0]
    assert sample["prompt"] + sample["text"] == text
    assert len(sample["steps"]) == len(text) - 1
    # a confident model (min_p >= 0.9) gives every character of its own text at least 0.9
    assert all(step["prob"] >= 0.9 for step in sample["steps"]), sample["steps"]


def test_text_file_that_does_not_exist(tmp_path, run_python):
    missing = tmp_path / "missing.txt"
    result = run_python("train.py", "--text-file", missing, "--name", "x", "--out", tmp_path / "out", "--jobs", "1")
    assert result.returncode != 0
    assert "cannot read" in result.stderr and "missing.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_text_file_without_name(tmp_path, run_python):
    text_file = tmp_path / "t.txt"
    text_file.write_text("abcabc", encoding="utf-8")
    result = run_python("train.py", "--text-file", text_file, "--out", tmp_path / "out")
    assert result.returncode != 0
    assert "--name" in result.stderr
    assert "Traceback" not in result.stderr


def test_text_too_short_to_train(tmp_path, run_python):
    text_file = tmp_path / "t.txt"
    text_file.write_text("a", encoding="utf-8")
    result = run_python("train.py", "--text-file", text_file, "--name", "one", "--out", tmp_path / "out", "--jobs", "1")
    assert result.returncode != 0
    assert "at least 2 characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_errors_are_messages_not_tracebacks(tmp_path, run_python):
    missing = run_python("-m", "charmodels", "eval", tmp_path / "absent.safetensors", "--json")
    assert missing.returncode != 0
    assert "absent.safetensors" in missing.stderr and "Traceback" not in missing.stderr
    bad = run_python("-m", "charmodels", "sample", "hihello-lstm", "--prompt", "h", "--length", "5", "--temperature", "-1")
    assert bad.returncode != 0
    assert "temperature" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_python("-m", "charmodels", "sample", "hihello-lstm", "--prompt", "hz", "--length", "5")
    assert unknown.returncode != 0
    assert "'z'" in unknown.stderr and "Traceback" not in unknown.stderr
