"""The Inside tab's explainer in Chromium (issue 12): typing a prompt draws the one-hot input, the
cell's diagram and the equation card of the last character; the step control (◀ ▶, the slider's
number box) moves them; every number read off the page equals charmodels.explain.step's for that
step, in English, in Korean (a tiny model: every weight), and at 1280x720 in projector mode
(nothing under 20 px). Screenshots: tests/artifacts/inside_card.png, inside_diagram.png."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import charmodels as cm
from charmodels import explain
from demo.explainer import num

CHROMIUM = "/usr/bin/chromium"
WAIT = 30_000
STEP_INPUT = "number input for Step to look at (its column is outlined)"
DIAGRAM = "#cm-explain-diagram svg.cm-diagram"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")
expect.set_options(timeout=WAIT)

STRIPES = """() => [...document.querySelectorAll('#cm-explain-diagram .cm-stripe, #cm-explain-diagram .cm-cellfill')]
  .map(el => [el.closest('g').dataset.name, +el.dataset.unit, el.dataset.value, el.querySelector('title').textContent])"""
UNITS = """() => [...document.querySelectorAll('#cm-units .token')].map(t => t.innerText.trim())"""
TEX = """() => [...document.querySelectorAll('#cm-explain-card annotation')].map(a => a.textContent).join('\\n')"""
COUNT_NEXT = """() => {
  // ▶ clicks (⏯'s ticks) counted before and after ⏯ is clicked again, in the page's own order of events
  window.cmNextClicks = {beforePause: 0, afterPause: 0, plays: 0};
  document.addEventListener('click', (event) => {
    const counts = window.cmNextClicks;
    if (event.target.closest?.('#cm-step-play')) counts.plays += 1;
    else if (event.target.closest?.('#cm-step-next')) counts[counts.plays >= 2 ? 'afterPause' : 'beforePause'] += 1;
  }, true);
}"""


def open_inside(page: Page) -> None:
    page.get_by_role("tab", name=re.compile("^(Inside|모델의 속)$")).click()
    page.locator("#cm-explain-card .katex").first.wait_for()  # drawn live from the page's prompt


def picked_units(page: Page) -> list[int]:
    """The units the picker shows: those the card and the diagram explain (kept while the model is)."""
    return [int(token) for token in page.evaluate(UNITS)]


def type_prompt(page: Page, prompt: str) -> None:
    box = page.locator("#cm-inside-prompt textarea")
    box.fill("")
    box.press_sequentially(prompt, delay=20)  # a key at a time: each a live update, the last one wins
    expect(page.locator(DIAGRAM)).to_have_attribute("data-t", str(len(prompt) - 1))


def settled_step(page: Page, quiet_ms: int = 3000, within_ms: int = 40_000) -> int:
    """The diagram's step once it has not moved for quiet_ms: three ticks of ⏯ if it were still playing."""
    last, since, waited = None, 0, 0
    while since < quiet_ms and waited < within_ms:
        now = page.locator(DIAGRAM).get_attribute("data-t")
        since = since + 250 if now == last else 0
        last = now
        page.wait_for_timeout(250)
        waited += 250
    assert since >= quiet_ms, f"the step kept moving for {within_ms} ms"
    return int(last)


def check_page_equals_api(page: Page, e: explain.Explained) -> list:
    """The diagram's every stripe and cell, and the card's bold results, are the library's numbers."""
    expect(page.locator(DIAGRAM)).to_have_attribute("data-t", str(e.t))
    expect(page.locator(DIAGRAM)).to_have_attribute("data-cell", e.cell)
    stripes = page.evaluate(STRIPES)
    units = [u.unit for u in e.units]
    checked = 0
    for name, unit, value, title in stripes:
        assert unit in units
        if hasattr(e.step, name):
            assert value == num(getattr(e.step, name)[unit]), (name, unit)
            assert title.endswith(f"[{unit}] = {value}")
            checked += 1
    assert checked >= 4 * len(units)
    tex = page.evaluate(TEX)
    for unit in e.units:
        assert f"\\mathbf{{{num(unit.h)}}}" in tex
        for g in unit.gates:
            assert f"\\mathbf{{{num(g.value)}}}" in tex and f"= {num(g.h_part.total)}" in tex
    for c in e.head.candidates:
        assert f"\\mathbf{{{num(c.logit)}}}" in tex
    lit = page.locator("#cm-explain-input .cm-x.cm-lit")
    if e.input.one_hot:
        expect(lit).to_have_count(1)
        expect(lit).to_have_attribute("data-index", str(e.input.index))
    return stripes


def test_typing_and_stepping_show_the_librarys_numbers(page, server_url, open_app, artifacts):
    open_app(page, server_url)
    open_inside(page)
    model = cm.load_checkpoint("goethe-lstm")  # the page's first model
    prompt = "Knowing is not"
    type_prompt(page, prompt)
    units = picked_units(page)  # the library's choice for the page's first prompt, kept for this model
    assert len(units) == explain.DEFAULT_UNITS
    e = explain.step(model, prompt, units=units)
    first = check_page_equals_api(page, e)
    # the heatmap's outlined column is the same step
    expect(page.locator("#cm-heat th.cm-sel")).to_have_attribute("title", str(len(prompt)))

    page.locator("#cm-step-prev").click()  # ◀: the character before, the units kept
    earlier = explain.step(model, prompt, len(prompt) - 2, units)
    moved = check_page_equals_api(page, earlier)
    assert moved != first  # the diagram's values changed with the step
    expect(page.locator("#cm-heat th.cm-sel")).to_have_attribute("title", str(len(prompt) - 1))

    box = page.get_by_label(STEP_INPUT, exact=True)  # the slider's number box: step 3 ('o')
    box.fill("3")
    box.press("Tab")
    check_page_equals_api(page, explain.step(model, prompt, 2, units))
    page.locator("#cm-step-next").click()
    check_page_equals_api(page, explain.step(model, prompt, 3, units))


def test_a_tiny_model_in_korean_shows_every_weight(page_ko, server_url, open_app):
    page = page_ko
    open_app(page, server_url)
    page.locator("#cm-corpus input").click()
    page.get_by_role("option", name="hihello").click()
    size = page.locator("#cm-size")
    expect(size).to_be_visible()  # hihello has tiny versions
    page.locator("#cm-cell").get_by_text("RNN", exact=True).click()
    expect(size.locator('input[value="hihello-rnn-h2"]')).to_have_count(1)  # the RNN's sizes offered now
    expect(size.get_by_text("128", exact=True)).to_be_visible()
    size.get_by_text("2", exact=True).click()
    expect(size.locator('input[value="hihello-rnn-h2"]')).to_be_checked()
    expect(page.locator("#cm-corpus input")).to_have_value("hihello")
    open_inside(page)
    type_prompt(page, "hihell")
    model = cm.load_checkpoint("hihello-rnn-h2")
    e = explain.step(model, "hihell")
    check_page_equals_api(page, e)
    card = page.locator("#cm-explain-card")
    expect(card).to_contain_text("유닛 0")
    expect(card).to_contain_text("6단계 중 6단계")
    tables = " ".join(card.locator("table").all_inner_texts())
    for matrix in (e.weights.W_xh, e.weights.W_hh, e.weights.b, e.head.W_hy, e.head.b_y):
        for value in matrix.ravel():
            assert num(value) in tables
    assert "\\underbrace" not in page.evaluate(TEX)  # every term listed, nothing summarised
    page.locator("#cm-step-prev").click()
    check_page_equals_api(page, explain.step(model, "hihell", 4, [0, 1]))


PROJECTOR_SIZES = """() => {
  const svg = document.querySelector('#cm-explain-diagram svg.cm-diagram');
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const labels = [...svg.querySelectorAll('text')].map(t => parseFloat(t.getAttribute('font-size')) * scale);
  const katex = parseFloat(getComputedStyle(document.querySelector('#cm-explain-card .katex')).fontSize);
  const text = parseFloat(getComputedStyle(document.querySelector('#cm-explain-card p')).fontSize);
  const onehot = parseFloat(getComputedStyle(document.querySelector('#cm-explain-input .cm-x')).fontSize);
  const legend = parseFloat(getComputedStyle(document.querySelector('.cm-diagram-legend')).fontSize);
  return {label: Math.max(...labels), smallest: Math.min(...labels), katex, text, onehot, legend,
          width: svg.getBoundingClientRect().width};
}"""


def test_projector_sizes_and_screenshots(make_page, server_url, open_app, artifacts):
    page = make_page("en-US", 1280, 720)
    open_app(page, server_url + "?projector")
    open_inside(page)
    type_prompt(page, "Knowing is not enough; we must ")
    model = cm.load_checkpoint("goethe-lstm")
    check_page_equals_api(page, explain.step(model, "Knowing is not enough; we must "))
    sizes = page.evaluate(PROJECTOR_SIZES)
    assert sizes["label"] >= 20 and sizes["smallest"] >= 16, sizes  # subscripts a little smaller
    assert min(sizes["katex"], sizes["text"], sizes["onehot"], sizes["legend"]) >= 20, sizes
    page.locator("#cm-explain").scroll_into_view_if_needed()
    page.locator("#cm-explain-card").screenshot(path=str(artifacts / "inside_card.png"))
    page.locator("#cm-explain-diagram").screenshot(path=str(artifacts / "inside_diagram.png"))


def test_play_runs_the_step_through_the_prompt_and_pauses(page, server_url, open_app):
    """⏯ from the last character starts again at the first, then moves on a character a second to
    the end; every step it shows is the library's. ⏯ again pauses."""
    open_app(page, server_url)
    open_inside(page)
    model = cm.load_checkpoint("goethe-lstm")
    prompt = "Know"
    type_prompt(page, prompt)  # the step control at the last character
    units = picked_units(page)
    page.locator("#cm-step-play").click()
    diagram = page.locator(DIAGRAM)
    seen = []
    for t in range(len(prompt)):  # 0 (again from the first), 1, 2, 3: each shown, in order
        expect(diagram).to_have_attribute("data-t", str(t), timeout=10_000)
        seen.append(t)
    check_page_equals_api(page, explain.step(model, prompt, len(prompt) - 1, units))
    expect(page.locator("#cm-step-play.cm-playing")).to_have_count(0, timeout=5_000)  # stopped at the end
    assert seen == [0, 1, 2, 3]

    # ⏯ again pauses: a longer prompt, played from its first character, paused once it moves. A step
    # already asked of the server may still land after the pause; none is asked after it. The page
    # itself counts the ▶ clicks (play's ticks) before and after the pause, so a slow machine, where
    # the test's own click may come seconds after it saw the step move, cannot make it pass or fail.
    longer = "Knowing is not enough"
    type_prompt(page, longer)
    page.evaluate(COUNT_NEXT)
    page.locator("#cm-step-play").click()
    expect(diagram).to_have_attribute("data-t", "1", timeout=10_000)
    page.locator("#cm-step-play").click()
    expect(page.locator("#cm-step-play.cm-playing")).to_have_count(0)
    paused_at = settled_step(page)  # three ticks of ⏯ without a move
    ticks = page.evaluate("() => window.cmNextClicks")
    assert ticks["afterPause"] == 0, ticks  # no step asked once paused
    assert 1 <= paused_at <= ticks["beforePause"] < len(longer) - 1, (paused_at, ticks)  # not run to the end


def test_play_from_the_last_character_waits_for_a_slow_server_to_go_back(page, server_url, open_app, monkeypatch):
    """On a busy class server each step may take longer than play's one-second tick. ⏯ at the last
    character must not read the step's old value ("at the end") before the server has gone back to
    the first character, and so stop at once: it plays through, however slow each answer is."""
    from demo import handlers

    open_app(page, server_url)
    open_inside(page)
    type_prompt(page, "Know")
    step = handlers.on_inside_step

    def slowly(*args):  # every step answered 2.5 s late: two ticks and more per answer
        time.sleep(2.5)
        return step(*args)

    monkeypatch.setattr(handlers, "on_inside_step", slowly)
    page.locator("#cm-step-play").click()
    diagram = page.locator(DIAGRAM)
    for t in range(4):  # back to the first character, then each one in order to the last
        expect(diagram).to_have_attribute("data-t", str(t), timeout=20_000)
    expect(page.locator("#cm-step-play.cm-playing")).to_have_count(0, timeout=10_000)  # stopped at the end
