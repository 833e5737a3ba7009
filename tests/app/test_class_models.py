"""The classroom models and what the app draws from them, without a browser: the nine
checkpoints of scripts/train_classroom.py (what they carry, their size, their recorded bpc,
the far-word probe the README states), the texts the pickers offer, and the views that mark
wrong spaces and bound long prompts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import charmodels as cm
from demo import service
from demo.views import SHOWN_PROMPT, bar_label, probe_html, shaded_html, snapshot_html

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
CELLS = ("rnn", "lstm", "gru")
CLASSROOM = ("goethe_lines", "lecture_ko", "shakespeare")
sys.path.insert(0, str(SCRIPTS))

import train_classroom  # (scripts/ is not a package: put on sys.path above)

# ---- the checkpoints ----


@pytest.mark.parametrize("name", [f"{text}-{cell}" for text in CLASSROOM for cell in CELLS])
def test_each_classroom_checkpoint_is_small_and_carries_what_it_should(name):
    path = ROOT / "checkpoints" / f"{name}.safetensors"
    assert path.stat().st_size < 4 * 1024**2  # a few MB at most
    model = cm.load_checkpoint(name)
    text, cell = name.rsplit("-", 1)
    assert model.config.cell == cell
    record = model.info["corpus"]
    assert record["name"] == text
    if text == "shakespeare":  # 1.1 MB: over the limit a checkpoint carries, so only its hash travels
        assert "text" not in record and record["chars"] == 1_115_394
        assert record["chars"] > cm.checkpoint.EMBED_TEXT_UP_TO
        assert model.info["validation"]["bpc"] < 2.7
    elif text == "lecture_ko":
        assert record["text"].count("\n") > 100 and "```" not in record["text"] and "http" not in record["text"]
        assert model.info["validation"]["bpc"] < 7.5
    else:
        assert record["text"] == train_classroom.goethe_lines_text() and record["lines"]
        assert model.info["parameters"] in range(22_000, 23_000)  # matched in size


@pytest.mark.skipif(not train_classroom.SEEDS.is_dir(), reason="the course notes (../shared/seeds) are not here")
def test_the_lecture_text_is_extracted_reproducibly_from_the_seeds():
    text = train_classroom.lecture_text()
    assert cm.load_checkpoint("lecture_ko-lstm").info["corpus"]["text"] == text
    assert "LSTM" in text and "순환 신경망" in text and "import torch" not in text


def test_the_unsure_models_are_unsure_and_the_standard_ones_are_not():
    for name, prompt in (("shakespeare-lstm", service.DEFAULT_PROMPTS["shakespeare"]),
                         ("lecture_ko-lstm", service.DEFAULT_PROMPTS["lecture_ko"])):
        top = cm.next_char_probs(cm.load_checkpoint(name), prompt)[0][1]
        assert top < 0.5, (name, top)
    assert cm.next_char_probs(cm.load_checkpoint("goethe-lstm"), service.DEFAULT_PROMPTS["goethe"])[0][1] > 0.9


def test_the_probe_says_what_the_readme_states():
    """/work/plan/readme_class.md (the README's comparison section) states these verdicts."""
    verdicts = {row["checkpoint"]: row["verdict"] for row in service.probe()}
    assert verdicts == {
        "goethe-rnn": "reads", "goethe-lstm": "ignores", "goethe-gru": "ignores",
        "goethe_lines-rnn": "reads", "goethe_lines-lstm": "reads", "goethe_lines-gru": "unsure",
    }


def test_the_script_retrains_goethe_lines_to_the_shipped_tensors(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPTS / "train_classroom.py"), "--only", "goethe_lines", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    here = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for cell in CELLS:
        shipped = cm.load_checkpoint(f"goethe_lines-{cell}")
        retrained = cm.load_checkpoint(tmp_path / f"goethe_lines-{cell}.safetensors")
        assert retrained.info["history"]["steps"] == shipped.info["history"]["steps"], cell
        if {key: shipped.info["trained_on"][key] for key in here} == here:
            assert retrained.info["tensor_sha256"] == shipped.info["tensor_sha256"], cell
        else:  # other CPU kernels round differently
            for key, tensor in shipped.state_dict().items():
                assert torch.allclose(retrained.state_dict()[key], tensor, atol=1e-4), (cell, key)


# ---- the texts the pickers offer ----


def test_the_texts_offered_and_their_models():
    assert service.texts() == ["goethe", "goethe_lines", "anthem", "seoul", "hihello", "pets", "avengers", "boat",
                               "tsingtao", "shakespeare", "lecture_ko"]
    assert service.text_of("goethe_lines-gru") == "goethe_lines"
    assert service.default_length(cm.load_checkpoint("hihello-rnn")) == 20
    assert service.default_length(cm.load_checkpoint("goethe-rnn")) == 71
    assert service.default_length(cm.load_checkpoint("shakespeare-rnn")) == 200


def test_an_upload_is_compared_through_its_texts_standard_models(tmp_path):
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes((ROOT / "checkpoints" / "pets-gru.safetensors").read_bytes())
    key = service.serving.register_upload(copy)
    assert service.text_of(key) == "pets"
    text, results = service.compare(key, "you love ", 6)
    assert text == "pets" and [r["cell"] for r in results] == list(CELLS)
    assert all(r["text"].startswith("milk\n") for r in results), results
    own = cm.CharModel(cm.ModelConfig("gru", 8), cm.Vocab("abc"))
    path = cm.save_checkpoint(own, tmp_path / "own.safetensors", corpus=cm.Corpus("mine", "abcabc", "test"))
    key = service.serving.register_upload(path)
    assert service.text_of(key) is None
    with pytest.raises(service.PageError) as refused:
        service.compare(key, "ab", 5)
    assert refused.value.key == "error_compare_needs_corpus"


# ---- views ----


def test_a_wrong_space_or_newline_is_drawn_and_marked_and_a_missing_one_too():
    truth = "ab cd\nef"
    prediction = "a   d  "  # spaces where b, c and the newline should be; one character short
    drawn = snapshot_html(3, prediction, truth, "en")
    assert drawn.count('class="cm-wrong cm-ws"') == 4  # b, c, newline, e: predicted as spaces
    assert drawn.count(">␣</span>") == 4
    assert drawn.count('class="cm-wrong cm-missing"') == 1  # f: not reached
    assert "3 of 8 right" in drawn  # a, the space, d
    assert 'title="should be ⏎"' in drawn
    newline = snapshot_html(1, "a\nb", "abb", "ko")
    assert '<span class="cm-wrong cm-ws" title="정답은 b">⏎</span>' in newline and "3자 중 2자 맞음" in newline


def test_a_long_prompt_is_drawn_from_its_end_with_a_note():
    prompt = "x" * 20_000 + "END"
    drawn = shaded_html(prompt, ["a"], [0.5], lang="en")
    assert f"{20_003 - SHOWN_PROMPT:,} earlier characters" in drawn
    assert drawn.count("x") <= SHOWN_PROMPT and "END" in drawn
    assert "earlier" not in shaded_html("short", ["a"], [0.5])


def test_whitespace_is_named_in_the_bars_in_the_pages_language():
    assert bar_label(" ") == "␣ space" and bar_label("\n", "ko") == "⏎ 줄바꿈" and bar_label("a") == "a"


def test_the_probe_table_says_each_verdict():
    rows = [{"checkpoint": "x-rnn", "original": ("d", 0.9), "swapped": ("a", 0.8), "verdict": "reads", "parameters": 10,
             "steps": 5, "attempts": 1, "reached": True},
            {"checkpoint": "x-gru", "original": ("d", 0.5), "swapped": ("a", 0.5), "verdict": "unsure", "parameters": 10,
             "steps": 9, "attempts": 8, "reached": False}]
    table = probe_html(rows, "en")
    assert "reads the far word" in table and "a coin toss" in table and "below the quality bar" in table
    assert service.probe_verdict(("d", 0.94), ("a", 0.77)) == "reads"
    assert service.probe_verdict(("d", 0.94), ("d", 0.93)) == "ignores"
    assert service.probe_verdict(("d", 0.50), ("a", 0.50)) == "unsure"
