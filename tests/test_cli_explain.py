"""python -m charmodels explain: a step's card as text, every number the library's (explain.step)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from charmodels import load_checkpoint
from charmodels.cli import main
from charmodels.explain import step


def run(capsys, *argv) -> tuple[int, str, str]:
    status = main(["explain", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_card_of_a_tiny_rnn_shows_every_term(capsys):
    status, out, _ = run(capsys, "hihello-rnn-h2", "hihell", "--t", "2")
    assert status == 0
    e = step(load_checkpoint("hihello-rnn-h2"), "hihell", 2)
    assert "step t = 2 reads 'h'" in out and "x_t = one-hot position" in out and "[h]" in out
    for unit in e.units:  # both units, every term: no "more"
        g = unit.gates[0]
        assert f"sum = {g.pre:.4f}   h_t = {g.value:.4f}" in out
        for term in g.h_part.terms + g.x_part.terms:
            assert f"{term.weight:.4f}×{term.value:.4f}" in out
    assert " more (" not in out
    for c in e.head.candidates:
        assert f"= {c.logit:.4f}" in out and f"{c.final:8.4f}" in out


def test_the_card_of_a_large_lstm_summarises(capsys):
    status, out, _ = run(capsys, "goethe-lstm", "Knowing is", "--units", "3", "9", "--top", "2", "--temperature", "0.5", "--top-k", "2")
    assert status == 0
    e = step(load_checkpoint("goethe-lstm"), "Knowing is", -1, [3, 9], temperature=0.5, top_k=2, top=2)
    for unit in e.units:
        assert f"unit {unit.unit}: h_{{t-1}} = {unit.h_prev:.4f}, c_{{t-1}} = {unit.c_prev:.4f}" in out
        assert f"= {unit.c:.4f}" in out and f"= {unit.h:.4f}" in out
        for g in unit.gates:
            assert f"{g.h_part.rest_count} more ({g.h_part.rest:+.4f}) = {g.h_part.total:.4f}" in out
    assert "softmax at T = 0.5, top-k 2" in out and "cut" in out
    assert "torch keeps two biases" in out


def test_the_gru_card_says_torchs_convention(capsys):
    status, out, _ = run(capsys, "hihello-gru-h2", "hih")
    assert status == 0 and "torch's convention" in out and "b_hn" in out


def test_an_embedding_model_shows_its_row(capsys):
    status, out, _ = run(capsys, "lecture_ko-lstm", "RNN", "--units", "0", "--top", "1")
    assert status == 0
    assert ("x_t = embedding row" in out) != ("x_t = one-hot position" in out)


def test_bad_arguments_are_one_line(capsys):
    status, _, err = run(capsys, "hihello-rnn", "hih", "--t", "7")
    assert status == 2 and err.startswith("error: t must be a whole number") and err.count("\n") == 1
    status, _, err = run(capsys, "hihello-rnn", "hiz")
    assert status == 2 and "'z'" in err


def test_python_m_charmodels_explain_runs():
    done = subprocess.run([sys.executable, "-m", "charmodels", "explain", "seoul-gru-h8", " seoul", "--temperature", "0"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "temperature 0 = greedy" in done.stdout


@pytest.mark.parametrize("name", ["hihello-lstm-h2", "seoul-rnn-h4"])
def test_tiny_cards_load(capsys, name):
    status, out, _ = run(capsys, name, "h" if name.startswith("hihello") else " s")
    assert status == 0 and "units" in out
