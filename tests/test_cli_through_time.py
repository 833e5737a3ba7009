"""python -m charmodels gradflow | surprise | recital | course: every number printed is the library's."""

from __future__ import annotations

import json

from charmodels import load_checkpoint
from charmodels.cli import main
from charmodels.corpora import Corpus
from charmodels.course import context_needed
from charmodels.gradflow import compare_flow
from charmodels.recital import sample_and_mark
from charmodels.surprise import surprisal

GOETHE = "Knowing is not enough; we must apply. Willing is not enough; we must "


def as_json(data):
    """The library's data as the CLI's JSON reads back (floats round-trip exactly)."""
    return json.loads(json.dumps(data, ensure_ascii=False))


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_gradflow_prints_each_models_norms_by_distance(capsys):
    names = ("goethe-rnn", "goethe-lstm")
    status, out, _ = run(capsys, "gradflow", *names, "--prompt", GOETHE, "--position", "40")
    assert status == 0
    flows = compare_flow({n: load_checkpoint(n) for n in names}, GOETHE, 40)
    lines = out.splitlines()
    assert "L2 norm of the gradient of log p(target | text[:position]), position 40" in lines[0]
    assert "x_t (input) and h_t (hidden state)" in lines[0]
    for name, flow in flows.items():
        assert f"{name}: target {flow.target!r}, p = {flow.target_prob:.3f}" in out
    rows = lines[4:]
    assert len(rows) == 40
    first = rows[0].split()  # distance 1: the character just read, GOETHE[39]
    assert first[0] == "1" and first[1] == GOETHE[39]
    rnn, lstm = flows["goethe-rnn"], flows["goethe-lstm"]
    assert first[2:] == [f"{v:.2e}" for v in (rnn.input_norms[39], rnn.hidden_norms[39], lstm.input_norms[39], lstm.hidden_norms[39])]
    last = rows[-1].split()  # distance 40: the first character
    assert last[0] == "40" and last[2] == f"{rnn.input_norms[0]:.2e}"


def test_gradflow_json_is_the_librarys(capsys):
    status, out, _ = run(capsys, "gradflow", "hihello-gru", "--prompt", "hihell", "--target", "o", "--json")
    assert status == 0
    got = json.loads(out)["hihello-gru"]
    want = compare_flow({"hihello-gru": load_checkpoint("hihello-gru")}, "hihell", None, "o")["hihello-gru"].to_dict()
    assert got == as_json(want)


def test_gradflow_refuses_a_bad_position_in_one_line(capsys):
    status, out, err = run(capsys, "gradflow", "hihello-rnn", "--prompt", "hihell", "--position", "99")
    assert status == 2 and out == ""
    assert err.startswith("error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_surprise_prints_bits_ranks_and_the_three_bpc(capsys):
    text = "Knowing is not enougg"  # a typo at the end
    status, out, _ = run(capsys, "surprise", "goethe-lstm", text)
    assert status == 0
    read = surprisal(load_checkpoint("goethe-lstm"), text)
    rows = out.splitlines()[2:-1]
    assert len(rows) == len(text) - 1
    for i, row in enumerate(rows):
        char, bits, rank, bigram, unigram = row.split()
        assert (char, bits, rank) == ({" ": "␣"}.get(text[i + 1], text[i + 1]), f"{read.model.bits[i]:.2f}", str(read.model.ranks[i]))
        assert (bigram, unigram) == (f"{read.bigram.bits[i]:.2f}", f"{read.unigram.bits[i]:.2f}")
    assert out.splitlines()[-1] == (f"bpc: model {read.model.bpc:.3f}, bigram {read.bigram.bpc:.3f}, "
                                    f"unigram {read.unigram.bpc:.3f}")
    assert read.model.ranks[-1] > 1  # the typo is not the model's first guess


def test_surprise_from_files_and_as_json(capsys, tmp_path):
    (tmp_path / "text.txt").write_text("hihello", encoding="utf-8")
    (tmp_path / "train.txt").write_text("hellohihi", encoding="utf-8")
    status, out, _ = run(capsys, "surprise", "hihello-rnn", "--text-file", str(tmp_path / "text.txt"),
                         "--training-file", str(tmp_path / "train.txt"), "--json")
    assert status == 0
    assert json.loads(out) == as_json(surprisal(load_checkpoint("hihello-rnn"), "hihello", "hellohihi").to_dict())


def test_surprise_names_an_unknown_character(capsys):
    status, _, err = run(capsys, "surprise", "hihello-rnn", "hiZ")
    assert status == 2 and "Z" in err and "Traceback" not in err


def test_recital_marks_what_it_invents(capsys):
    args = ("anthem-lstm", "--prompt", "O say", "--length", "80", "--temperature", "1.5", "--seed", "1")
    status, out, _ = run(capsys, "recital", *args)
    assert status == 0
    marked = sample_and_mark(load_checkpoint("anthem-lstm"), "O say", 80, 1.5, 1)
    shown = "".join(s.text if s.kind != "invented" else f"⟨{s.text}⟩" for s in marked.spans)
    assert out.startswith(shown + "\n")
    assert f"recited {marked.recited_share:.0%}, invented {marked.invented_share:.0%}" in out
    status, out, _ = run(capsys, "recital", *args, "--json")
    assert json.loads(out) == as_json(marked.to_dict())


def test_recital_greedy_recites_everything(capsys):
    status, out, _ = run(capsys, "recital", "goethe-lstm", "--prompt", "K", "--length", "60")
    assert status == 0 and "⟨" not in out and "recited 100%, invented 0%" in out


def test_course_context_only_is_context_needed(capsys, tmp_path):
    path = tmp_path / "goethe.txt"
    path.write_text(GOETHE + "do", encoding="utf-8")
    status, out, _ = run(capsys, "course", "--text-file", str(path), "--context-only")
    need = context_needed(Corpus("goethe", GOETHE + "do", ""))
    assert status == 0 and need.needed == 28
    assert out == f"needs {need.needed} characters of context; a window of 10 can never learn it\n"
    status, out, _ = run(capsys, "course", "--text-file", str(path), "--context-only", "--window", "30")
    assert out == "needs 28 characters of context; a window of 30 is not stopped by the text\n"


def test_course_on_a_short_text_trains_both_recipes(capsys, tmp_path):
    text = "hihello hihello hihello"
    path = tmp_path / "hi.txt"
    path.write_text(text, encoding="utf-8")
    status, out, _ = run(capsys, "course", "--text-file", str(path), "--cell", "rnn", "--json")
    assert status == 0
    [result] = json.loads(out)
    need = context_needed(Corpus("hi", text, ""))
    assert result["name"] == "hi" and result["context"]["needed"] == need.needed and result["context"]["learnable"]
    assert result["course"]["recipe"] == "course" and result["whole"]["recipe"] == "whole"
    for run_ in (result["course"], result["whole"]):
        assert len(run_["prediction"]) == len(text) - 1 and run_["cell"] == "rnn"
        assert run_["predicts"] == (run_["prediction"] == text[1:])


def test_course_refuses_a_text_shorter_than_the_window(capsys, tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("hihello", encoding="utf-8")
    status, _, err = run(capsys, "course", "--text-file", str(path))
    assert status == 2 and err.startswith("error: ") and "Traceback" not in err
