"""demo/explainer.py: the card, the diagram and the input view show the library's numbers
(charmodels.explain.step), formatted, nothing computed of their own."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

import charmodels as cm
from charmodels import explain
from charmodels.model import CharModel, ModelConfig
from charmodels.vocab import Vocab
from demo import explainer
from demo.explainer import card_markdown, diagram_svg, input_html, num
from demo.i18n import say

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def models():
    return {name: cm.load_checkpoint(name) for name in (
        "hihello-rnn-h2", "hihello-lstm-h4", "seoul-gru-h8", "goethe-lstm", "goethe-gru", "goethe-rnn", "lecture_ko-lstm")}


def explained(models, name, prompt, **kwargs):
    return explain.step(models[name], prompt, **kwargs)


@pytest.mark.parametrize("name,prompt", [("hihello-rnn-h2", "hihell"), ("hihello-lstm-h4", "hih"), ("seoul-gru-h8", " seoul i")])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_tiny_models_card_shows_every_weight_and_every_term(models, name, prompt, lang):
    e = explained(models, name, prompt, t=2, temperature=0.7, top_k=3)
    card = card_markdown(e, lang)
    assert card.count("$$") % 2 == 0
    for matrix in (e.weights.W_xh, e.weights.W_hh, e.weights.b_xh, e.weights.b_hh, e.weights.b, e.head.W_hy, e.head.b_y):
        for value in np.ravel(matrix):
            assert num(value) in card
    assert "\\underbrace" not in card  # nothing summarised: every term is listed
    for unit in e.units:
        assert f"#### {say(lang, 'ex_unit', unit=unit.unit)}" in card
        for g in unit.gates:
            assert g.x_part.rest_count == 0 and g.h_part.rest_count == 0  # every term
            for term in g.x_part.terms + g.h_part.terms:
                assert num(abs(term.weight)) in card and num(abs(term.value)) in card
            for value in (g.x_part.total, g.h_part.total, g.bias, g.pre, g.value):
                assert num(abs(value)) in card
            assert f"\\mathbf{{{num(g.value)}}}" in card
        assert f"\\mathbf{{{num(unit.h)}}}" in card
        if unit.c is not None:
            assert f"\\mathbf{{{num(unit.c)}}}" in card
    for c in e.head.candidates:
        assert f"\\mathbf{{{num(c.logit)}}}" in card
        assert num(c.final) in card or not e.softmax.kept[c.index]
    s = e.softmax
    assert f"T = {num(0.7)}" in card and f"m = \\max_k z_k/T = {num(s.shift)}" in card and num(s.total) in card
    assert say(lang, "ex_top_k", k=3) in card


def test_a_large_models_card_shows_the_chosen_units_and_k_more(models):
    e = explained(models, "goethe-lstm", "Knowing is not enough; we must", units=[5, 77], top=3)
    for lang in ("en", "ko"):
        card = card_markdown(e, lang)
        assert say(lang, "ex_units_shown", units="5, 77", hidden=128) in card
        assert explainer.md_text(say(lang, "ex_matrix_W_hh")) not in card  # no 128 x 128 table
        for unit in e.units:
            for g in unit.gates:
                assert say(lang, "ex_more", n=125) in card
                for term in g.h_part.terms:
                    assert num(abs(term.weight)) in card
                assert f"\\underbrace{{{explainer._tex_num(g.h_part.rest)}}}" in card
                assert f"= {num(g.h_part.total)}" in card
    assert "외 125개" in card_markdown(e, "ko")


def test_the_gru_card_says_torchs_convention_and_keeps_the_candidates_biases(models):
    e = explained(models, "goethe-gru", "Knowing", units=[0])
    card = card_markdown(e, "en")
    n = e.units[0].gates[2]
    assert n.gate == "n" and f"b_{{xn}}[0] &= {num(n.bias)}" in card and f"b_{{hn}}[0] = {num(n.bias_h)}" in card
    assert "torch" in card and "1 − z" in card
    assert explainer.md_text(say("ko", "ex_gru_convention")) in card_markdown(e, "ko")


def test_greedy_and_a_bounded_prompt_are_said(models):
    e = explained(models, "goethe-rnn", "Knowing is " * 120, temperature=0)
    card = card_markdown(e, "en")
    assert explainer.md_text(say("en", "ex_left_out", n=explain.MAX_STEP_PROMPT, left=e.left_out)) in card
    assert explainer.md_text(say("en", "ex_greedy", char="n")) in card


def test_characters_that_are_markup_stay_characters():
    torch.manual_seed(0)
    model = CharModel(ModelConfig("rnn", 2), Vocab("$_{}*|\\ab"))
    e = explain.step(model, "a$_{}*|\\b", t=1)
    card = card_markdown(e, "en")
    maths = re.findall(r"\$\$(.*?)\$\$", card, re.DOTALL)
    outside = re.sub(r"\$\$.*?\$\$", "", card, flags=re.DOTALL)
    assert "$" not in outside  # no stray maths delimiter from the vocabulary
    assert all(m.count("{") - m.count("\\{") == m.count("}") - m.count("\\}") for m in maths)  # braces balance
    assert explainer.tex_text("$_{") == r"\text{\$\_\{}"


# ---- the diagram --------------------------------------------------------------------------------

def parse(svg_html: str) -> ET.Element:
    svg = re.search(r"<svg.*</svg>", svg_html, re.DOTALL).group(0)
    return ET.fromstring(svg)  # well-formed XML


@pytest.mark.parametrize("name,prompt,units", [("hihello-rnn-h2", "hihel", None), ("hihello-lstm-h4", "hihel", None),
                                               ("seoul-gru-h8", " seoul", None), ("goethe-lstm", "Know", [3, 4, 9]),
                                               ("goethe-gru", "Know", [0, 1])])
def test_the_diagram_colours_each_wire_by_the_steps_own_values(models, name, prompt, units):
    e = explained(models, name, prompt, t=3, units=units)
    root = parse(diagram_svg(e, "en"))
    assert root.get("data-cell") == e.cell and root.get("data-t") == "3"
    chosen = [u.unit for u in e.units]
    seen = set()
    for group in root.iter(f"{SVG}g"):
        assert group.find(f"{SVG}title") is not None  # every element says its number on hover
        name_ = group.get("data-name")
        seen.add(name_)
        stripes = [el for el in group if el.get("data-unit") is not None]
        if not stripes or not hasattr(e.step, name_):
            continue
        assert [int(el.get("data-unit")) for el in stripes] == chosen
        for el in stripes:
            unit = int(el.get("data-unit"))
            assert el.get("data-value") == num(getattr(e.step, name_)[unit])
            assert num(getattr(e.step, name_)[unit]) in el.find(f"{SVG}title").text
    expected = {"rnn": {"h_prev", "W_hh_h", "W_xh_x", "b", "pre", "h", "x"},
                "lstm": {"c_prev", "c", "h_prev", "h", "f", "i", "g", "o", "pre_f", "pre_i", "pre_g", "pre_o", "x"},
                "gru": {"h_prev", "h", "r", "z", "n", "hn", "pre_r", "pre_z", "x"}}[e.cell]
    assert expected <= seen


def test_the_diagram_follows_the_step(models):
    model_steps = [explained(models, "hihello-lstm-h4", "hihell", t=t) for t in (1, 4)]
    values = [[el.get("data-value") for el in parse(diagram_svg(e)).iter() if el.get("data-value")] for e in model_steps]
    assert values[0] != values[1]


def test_labels_are_projector_sized():
    scale = explainer.SHOWN_WIDTH / explainer.VIEW[2]  # px per drawing unit at the projector's half page
    assert explainer.FONT * scale >= 20
    svg = diagram_svg(explain.step(cm.load_checkpoint("hihello-gru-h2"), "hih"))
    sizes = [float(size) for size in re.findall(r'font-size="([\d.]+)"', svg)]
    assert max(sizes) == explainer.FONT and min(sizes) * scale >= 16  # subscripts a little smaller


# ---- the input ----------------------------------------------------------------------------------

def test_the_one_hot_input_lights_the_characters_position(models):
    e = explained(models, "hihello-rnn-h2", "hihel", t=3)
    view = input_html(e, "ko")
    cells = re.findall(r'<div class="cm-x( cm-lit)?" data-index="(\d+)" data-value="(\d)"', view)
    assert [int(index) for _, index, _ in cells] == list(range(len(e.input.vocab)))
    assert [int(value) for _, _, value in cells] == e.input.vector.astype(int).tolist()
    lit = [int(index) for mark, index, _ in cells if mark]
    assert lit == [e.input.index] and e.input.vocab[e.input.index] == "e"
    assert f"x_t[{e.input.index}] = 1 (e)" in view


def test_an_embedding_model_shows_its_row(models):
    e = explained(models, "lecture_ko-lstm", "RNN", t=1, units=[0])
    if e.input.one_hot:
        pytest.skip("lecture_ko is one-hot now")
    view = input_html(e, "en")
    values = re.findall(r'data-index="\d+" data-value="([^"]+)"', view)
    assert values == [num(v) for v in e.input.vector]


def test_an_embedding_input_from_a_fresh_model():
    torch.manual_seed(0)
    model = CharModel(ModelConfig("gru", 3, 1, 4), Vocab("abc"))
    e = explain.step(model, "abc", t=2)
    view = input_html(e, "en")
    assert "cm-input-embedding" in view and "cm-lit" not in view
    assert re.findall(r'data-index="\d+" data-value="([^"]+)"', view) == [num(v) for v in e.input.vector]
    assert card_markdown(e, "en").count("$$") % 2 == 0
