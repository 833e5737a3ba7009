"""demo/through_time.py: every number the through-time views show is the library's own
(charmodels.surprise, recital, gradflow, course), said in English and Korean, escaped."""

from __future__ import annotations

import dataclasses
import html
import itertools
import math
import re

import numpy as np
import pytest

from charmodels import load_checkpoint
from charmodels.corpora import CORPORA
from charmodels.course import (
    Comparison,
    ContextNeed,
    CourseProgress,
    RecipeRun,
    context_needed,
)
from charmodels.gradflow import compare_flow
from charmodels.recital import mark_recited, sample_and_mark
from charmodels.surprise import surprisal
from demo import through_time as tt
from demo.i18n import say

LANGS = ("en", "ko")
GOETHE = CORPORA["goethe"].text
LONG = "Knowing is not enough; we must apply. Willing is not enough; we must "
HANGUL = re.compile("[가-힣]")


@pytest.fixture(scope="module")
def read():
    return surprisal("goethe-lstm", "Knowing is not enoguh; we must apply.")


@pytest.fixture(scope="module")
def flows():
    return compare_flow({c: load_checkpoint(f"goethe-{c}") for c in ("rnn", "lstm", "gru")}, LONG, 40)


def spans_of(page: str, row: str) -> list[tuple[str, str, str]]:
    """(bits, rank, title) of each shaded character in one model's row."""
    part = page.split(f'data-model="{row}"', 1)[1].split("</div></div>", 1)[0]
    return re.findall(r'data-bits="([^"]+)" data-rank="([^"]+)" title="([^"]+)"', part)


@pytest.mark.parametrize("lang", LANGS)
def test_surprise_shows_each_characters_bits_and_rank(read, lang):
    page = tt.surprise_html(read, lang)
    for name in ("model", "bigram", "unigram"):
        scores = getattr(read, name)
        shown = spans_of(page, name)
        assert len(shown) == len(read.chars)
        for i, (b, rank, title) in enumerate(shown):
            assert b == f"{scores.bits[i]:.2f}" and rank == str(scores.ranks[i])
            assert html.unescape(title) == say(lang, "tt_surprise_tip", char=tt.visible(read.chars[i]), bits=b,
                                               p=f"{scores.probs[i]:.3f}", rank=int(rank), of=len(read.vocab))
        assert f"{scores.bpc:.2f}" in page.split(f'<tr data-model="{name}">', 1)[1].split("</tr>", 1)[0]
    assert read.model.bpc < read.bigram.bpc < read.unigram.bpc


def test_surprise_shades_by_bits_up_to_a_blind_guess(read):
    page = tt.surprise_html(read, "en")
    blind = math.log2(len(read.vocab))
    worst = int(np.argmax(read.model.bits))
    assert read.chars[worst] == "g" and read.model.bits[worst] > blind  # the typo, full colour
    assert tt.shade(read.model.bits[worst], blind) == "rgba(220,38,38,0.850)"
    assert tt.shade(0.0, blind) == "rgba(220,38,38,0.000)"
    table = page.split('class="cm-tt-worst"', 1)[1]
    first_row = re.findall(r"<tr><td[^>]*>([^<]*)</td><td[^>]*>(\d+)</td><td[^>]*>([^<]*)</td><td[^>]*>(\d+)</td>", table)[0]
    assert first_row == ("g", str(worst + 2), f"{read.model.bits[worst]:.2f}", str(read.model.ranks[worst]))
    assert f"{blind:.2f}" in page and f"{read.training_chars:,}" in page


@pytest.mark.parametrize("lang", LANGS)
def test_recital_marks_spans_and_says_the_shares(lang):
    marked = sample_and_mark("anthem-lstm", "O say can you see", 150, 1.5, 1)
    page = tt.recital_html(marked, lang)
    found = re.findall(r'data-kind="([a-z]+)" title="[^"]*" style="[^"]*">([^<]*)</span>', page)
    assert [(kind, html.unescape(text)) for kind, text in found] == [(s.kind, s.text) for s in marked.spans]
    shares = say(lang, "tt_shares", recited=f"{marked.recited_share:.0%}", invented=f"{marked.invented_share:.0%}",
                 n=f"{marked.recited + marked.invented:,}", k=marked.min_length)
    assert html.escape(shares, quote=True) in page
    assert 0 < marked.recited_share < 1


def test_recital_of_a_constructed_case_escapes_what_it_shows():
    marked = mark_recited("<b>we must do</b> & more", "Willing is not enough; we must do", min_length=8)
    page = tt.recital_html(marked, "en")
    assert "<b>" not in page and "&lt;b&gt;" in page and "&lt;/b&gt; &amp; more" in page
    kinds = re.findall(r'data-kind="([a-z]+)"', page)
    assert kinds == ["invented", "recited", "invented"]
    assert "Recited 42%, invented 58% of the 24 characters written" in page


@pytest.mark.parametrize("lang", LANGS)
def test_flow_draws_every_models_norms_on_one_log_scale(flows, lang):
    svg = tt.flow_svg(flows, lang)
    low, high = tt.flow_range(flows)
    every = np.concatenate([np.concatenate([f.input_norms, f.hidden_norms] + ([f.cell_norms] if f.cell_norms is not None else []))
                            for f in flows.values()])
    assert 10.0**low <= every.min() and every.max() <= 10.0**high and high - low >= 1
    panels = svg.split('<g class="cm-flow-panel"')[1:]
    assert [re.search(r'data-model="([^"]+)"', p).group(1) for p in panels] == ["rnn", "lstm", "gru"]
    for panel, flow in zip(panels, flows.values()):
        norms = re.findall(r'data-t="(\d+)" data-norm="([^"]+)"', panel)
        assert [(int(t), v) for t, v in norms] == [(t, f"{flow.input_norms[t]:.3e}") for t in range(40)]
        lines = re.findall(r'data-quantity="([a-z]+)"', panel)
        assert lines == (["input", "hidden", "cell"] if flow.cell == "lstm" else ["input", "hidden"])
        ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', panel)]
        order = np.argsort(flow.input_norms)  # a larger norm is drawn higher (a smaller y)
        assert all(ys[a] >= ys[b] - 1e-6 for a, b in itertools.pairwise(order))
        assert html.escape(say(lang, "tt_flow_panel", name=flow.cell, target=flow.target, p=f"{flow.target_prob:.3f}")) in panel
    caption = say(lang, "tt_flow_caption", of="log p(target | text[:position])", position=40, norm="L2", lines=1)
    assert html.escape(caption, quote=True) in svg
    if lang == "ko":
        assert HANGUL.search(svg)


def test_flow_frame_is_the_same_numbers(flows):
    frame = tt.flow_frame(flows)
    assert len(frame) == sum((3 if f.cell == "lstm" else 2) * f.position for f in flows.values())
    lstm_cell = frame[(frame.model == "lstm") & (frame.quantity == "cell")]
    assert np.allclose(lstm_cell.norm.to_numpy(), flows["lstm"].cell_norms)
    assert np.allclose(lstm_cell.log10_norm.to_numpy(), np.log10(flows["lstm"].cell_norms))
    assert lstm_cell.distance.tolist() == list(range(40, 0, -1))


def run(recipe: str, prediction: str, predicts: bool, first_wrong, stopped=False) -> RecipeRun:
    return RecipeRun(recipe, "goethe", "rnn", 21, 2 if recipe == "course" else 1, 51, 1.25, 0.1, prediction,
                     GOETHE[0] + prediction, predicts, predicts, first_wrong, stopped)


@pytest.mark.parametrize("lang", LANGS)
def test_course_marks_the_wrong_characters_and_says_why(lang):
    wrong = GOETHE[1:-2] + "ao"  # seed 000's ending, we must ao
    result = Comparison("goethe", GOETHE, context_needed(CORPORA["goethe"]), run("course", wrong, False, len(GOETHE) - 2),
                        run("whole", GOETHE[1:], True, None))
    page = tt.course_html([result], lang)
    course, whole = page.split('data-recipe="course"')[1].split('data-recipe="whole"')
    assert re.findall(r'class="cm-wrong"[^>]*>([^<]*)</span>', course) == ["a"]  # the o of "do" is right
    assert "cm-wrong" not in whole
    assert html.escape(say(lang, "tt_course_wrong", at=len(GOETHE) - 2)) in course
    assert html.escape(say(lang, "tt_course_right")) in whole
    why = tt.why(result, lang)
    assert "28" in why and "Knowing" in why and "Willing" in why and "10" in why
    assert html.escape(why, quote=True) in page
    assert f"{1.25:.1f}" in course and "51" in course


def test_why_for_a_learnable_text_and_for_lines_that_never_part():
    need = context_needed("hihello hihello")
    assert tt.why(need, "en") == say("en", "tt_why_learnable", needed=need.needed, window=10)
    assert str(need.needed) in tt.context_markdown(need, "hihello hihello", "ko")
    never = ContextNeed(None, 10, False, None)  # two lines that begin alike and end differently
    assert tt.why(never, "ko") == say("ko", "tt_why_never")


def test_a_course_under_way_is_escaped():
    progress = CourseProgress((), "mytext", "course", 30, 0.5, "we *must* [x](y) <b>", 3.2)
    text = tt.course_progress_markdown(progress, "ko")
    assert HANGUL.search(text) and "<b>" not in text and "\\*must\\*" in text and "\\[x\\]" in text


def test_a_lab_flow_says_its_norms_are_means(flows):
    lab = {name: dataclasses.replace(flow, lines=64) for name, flow in flows.items()}
    for lang in LANGS:
        svg = tt.flow_svg(lab, lang)
        assert html.escape(say(lang, "tt_flow_lines", lines=64), quote=True) in svg
        assert say(lang, "tt_flow_lines", lines=64) not in tt.flow_svg(flows, lang)
