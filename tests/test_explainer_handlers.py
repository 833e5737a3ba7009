"""The Inside tab's handlers for the explainer (demo/handlers.py): what they send the page is
demo/explainer's rendering of the library's step, for the step the one control selects."""

from __future__ import annotations

import pytest

import charmodels as cm
from charmodels import explain
from charmodels.sampling import next_char_probs
from demo import handlers, service
from demo.explainer import card_markdown, diagram_svg, input_html, num


def test_the_live_update_explains_the_last_character_read():
    prompt = "Knowing is not enough; we"
    got = handlers.on_inside_live("goethe-lstm", prompt, "f", 1, None, 0, 0, 1, "ko")
    model = cm.load_checkpoint("goethe-lstm")
    e = explain.step(model, prompt)
    assert got["explain_card"] == card_markdown(e, "ko")
    assert got["explain_diagram"] == diagram_svg(e, "ko")
    assert got["explain_input"] == input_html(e, "ko")
    assert got["inside_step"].value == len(prompt)
    assert got["units"].value == [str(u.unit) for u in e.units]
    assert "saliency_view" not in got  # slow: drawn when asked for
    assert set(handlers.on_saliency("goethe-lstm", prompt, "en")) == {"saliency_view"}
    asked = handlers.on_inside_drawn("goethe-lstm", prompt, "en")
    assert asked["inside_drawn"] is True and asked["saliency_view"].count('class="cm-saliency"') == 3
    assert handlers.on_saliency_drawn("goethe-lstm", prompt, False, "en") == {}


def test_the_step_control_drives_the_card_the_diagram_and_the_heatmap():
    prompt = "hihell"
    at_3 = handlers.on_inside_step("hihello-rnn-h2", prompt, "h", 1, 3, ["1"], 0, 0, 1, "en")
    e = explain.step(cm.load_checkpoint("hihello-rnn-h2"), prompt, 2, [1])
    assert at_3["explain_card"] == card_markdown(e, "en") and at_3["inside_step"].value == 3
    assert 'class="cm-sel"' in at_3["heat"]
    back = handlers.on_inside_move(-1, "hihello-rnn-h2", prompt, "h", 1, 3, ["1"], 0, 0, 1, "en")
    assert back["inside_step"].value == 2
    assert back["explain_card"] == card_markdown(explain.step(cm.load_checkpoint("hihello-rnn-h2"), prompt, 1, [1]), "en")
    assert handlers.on_inside_move(-1, "hihello-rnn-h2", prompt, "h", 1, 1, None, 0, 0, 1, "en")["inside_step"].value == 1
    assert handlers.on_inside_move(+1, "hihello-rnn-h2", prompt, "h", 1, 6, None, 0, 0, 1, "en")["inside_step"].value == 6


def test_greedy_explains_the_bars_and_a_temperature_its_walk():
    prompt = "hihel"
    greedy = handlers.explain_views("hihello-gru-h2", prompt, None, None, 1, 0, 0, 1, "en")
    for char, prob in next_char_probs(cm.load_checkpoint("hihello-gru-h2"), prompt):
        assert num(prob) in greedy["explain_card"]
    warm = handlers.explain_views("hihello-gru-h2", prompt, None, None, 1, 0.5, 2, 1, "en")
    assert f"T = {num(0.5)}" in warm["explain_card"] and "top-k 2" in warm["explain_card"]


def test_picked_units_are_checked_and_a_long_prompt_is_read_from_its_end():
    assert handlers.picked_units(["3", "x", "3", "200", "-1", 5], 128) == [3, 5]
    assert handlers.picked_units([], 128) is None and handlers.picked_units(None, 4) is None
    assert handlers.picked_units([str(u) for u in range(20)], 128) == list(range(handlers.MAX_UNITS_PICKED))
    prompt = "Knowing is not enough; we must apply. " * 10
    got = handlers.on_inside_live("goethe-rnn", prompt, "h", 1, ["2"], 0, 0, 1, "en")
    assert got["inside_step"].value == service.MAX_INSIDE
    e = explain.step(cm.load_checkpoint("goethe-rnn"), prompt[-service.MAX_INSIDE:], units=[2])
    assert got["explain_card"] == card_markdown(e, "en")


@pytest.mark.parametrize("checkpoint", ["goethe-lstm", "hihello-lstm-h4"])
def test_a_new_model_empties_the_units_picker_and_redraws(checkpoint):
    got = handlers.on_model_explain(checkpoint, "en")
    assert got["units"].value == [] and len(got["units"].choices) == cm.load_checkpoint(checkpoint).config.hidden_size
    redrawn = handlers.on_new_model_inside(checkpoint, "hih", True, "en")
    assert redrawn["units"].value == [] or redrawn["units"].value  # the library's choice, shown
    assert "saliency_view" not in redrawn  # on_saliency_drawn redraws it next
    assert redrawn["explain_card"] == card_markdown(explain.step(cm.load_checkpoint(checkpoint), "hih"), "en")


def test_the_size_picker_offers_the_tiny_models_of_a_text():
    assert handlers.size_view("goethe-lstm")["size"].visible is False
    picker = handlers.size_view("seoul-gru-h4")["size"]
    assert picker.visible and picker.value == "seoul-gru-h4"
    assert picker.choices == [("128", "seoul-gru"), ("8", "seoul-gru-h8"), ("4", "seoul-gru-h4"), ("2", "seoul-gru-h2")]
    used = handlers.on_size("hihello-rnn-h2", "hih", [], "ko")
    assert used["checkpoint"] == "hihello-rnn-h2"
    assert used["prompt"] == "hih" and used["cell"].value == "rnn"
