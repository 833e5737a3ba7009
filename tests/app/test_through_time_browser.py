"""Links, the guided lesson and the through-time tab in a real headless Chromium (demo/urlstate.py,
demo/lessons.py, demo/through_time.py as wired into demo/app.py).

Fixtures (browser, page, page_ko, make_page, server_url, artifacts) live in tests/app/conftest.py.
A page waits on locators, never on sleeps. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect

from demo import lessons, urlstate
from demo.i18n import say

CHROMIUM = "/usr/bin/chromium"
WAIT = 30_000  # ms: generous, the machine is shared
expect.set_options(timeout=WAIT)

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]

HOSTILE = ("?text=hihello&cell=gru&size=2&prompt=hihell&tab=inside&step=3&temperature=0.5&seed=7"
           "&top_k=999&%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E=1&cell=rnn&temperature=nan")


def opened(page, url: str) -> None:
    """The page loaded and its first model answered (the bars have a top character)."""
    page.goto(url, wait_until="load")
    expect(page.locator("#cm-bars [data-testid=label-output-value]")).not_to_be_empty()


def no_error_toast(page) -> None:
    """Gradio shows a refused event as a toast: a link or a card must never cause one."""
    expect(page.locator(".toast-body.error")).to_have_count(0)


def test_a_link_opens_its_view_and_ignores_hostile_values_with_a_note(page, server_url, artifacts):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    opened(page, server_url + HOSTILE)
    expect(page.locator("#cm-prompt textarea")).to_have_value("hihell")
    expect(page.locator("#cm-cell input[value=gru]")).to_be_checked()
    expect(page.get_by_role("tab", name="Inside", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#cm-inside-prompt textarea")).to_have_value("hihell")
    notes = page.locator("#cm-link-notes")
    expect(notes).to_be_visible()
    for name in ("top_k", "cell", "temperature"):
        expect(notes).to_contain_text(name.replace("_", "_"))
    expect(notes).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text, never as an element
    assert page.locator("#cm-link-notes img").count() == 0 and dialogs == []
    # the step of the link: the explainer's card and the heatmap's outlined column at character 3
    expect(page.locator("#cm-inside-step input[type=number]")).to_have_value("3")
    no_error_toast(page)
    page.screenshot(path=str(artifacts / "through-time-link.png"))
    # copy link: the page's view as a link, read back the same
    page.locator("#cm-copy-link").click()
    link = page.locator("#cm-link textarea, #cm-link input")
    expect(link).to_have_value(re.compile(r"\?text=hihello&cell=gru&size=2&"))
    view, notes_back = urlstate.parse(link.input_value())
    assert notes_back == []
    assert (view.text, view.cell, view.size, view.prompt, view.tab, view.step, view.seed) == (
        "hihello", "gru", 2, "hihell", "inside", 3, 7)
    assert view.temperature == 0.5 and view.top_k == 0  # top_k=999 was ignored: the page kept 0
    assert dict(parse_qsl(urlsplit(page.url).query)) == dict(parse_qsl(urlsplit(link.input_value()).query))


def test_a_lesson_card_in_korean_on_the_projector(make_page, server_url, artifacts):
    page = make_page(locale="ko-KR", width=1280, height=720)
    n = 2  # the hidden state as memory: hihello's RNN at 2 units, step 6
    opened(page, f"{server_url}?lesson={n}&projector")
    card = page.locator("#cm-lesson-card")
    expect(card).to_contain_text(say("ko", "lesson_memory_title"))
    expect(card).to_contain_text(f"{n} / {len(lessons.LESSONS)}")
    expect(page.locator("#cm-prompt textarea")).to_have_value("hihell")
    expect(page.locator("#cm-inside-step input[type=number]")).to_have_value("6")
    highlighted = page.locator(f"#{lessons.card(n).highlight}")
    expect(highlighted).to_have_class(re.compile(r"\bcm-highlight\b"))
    assert page.evaluate("document.body.classList.contains('projector')")
    no_error_toast(page)
    page.screenshot(path=str(artifacts / "through-time-lesson-ko-projector.png"))
    # the next card: the softmax on shakespeare's unsure LSTM, its highlight moved
    page.locator("#cm-lesson-next").click()
    expect(card).to_contain_text(say("ko", "lesson_softmax_title"))
    expect(page.locator(f"#{lessons.card(n + 1).highlight}.cm-highlight")).to_have_count(1)
    assert page.locator(".cm-highlight").count() == 1
    no_error_toast(page)


def test_surprise_recital_and_flow_in_the_page(page, server_url, artifacts):
    opened(page, server_url + "?text=goethe&cell=lstm&tab=time&prompt=Knowing%20is%20not%20enoguh%3B%20we%20must%20apply.")
    expect(page.locator("#cm-surprise-text textarea")).to_have_value("Knowing is not enoguh; we must apply.")
    page.locator("#cm-surprise-run").click()
    expect(page.locator("#cm-surprise .cm-tt-row")).to_have_count(3)
    expect(page.locator("#cm-surprise .cm-tt-worst tr").nth(1)).to_contain_text("g")
    page.locator("#cm-recital-run").click()
    # greedy, the page's default length: the library's own marking of the same continuation
    from charmodels import load_checkpoint
    from charmodels.recital import sample_and_mark
    from demo.service import default_length

    model = load_checkpoint("goethe-lstm")
    marked = sample_and_mark(model, "Knowing is not enoguh; we must apply.", default_length(model), 0.0, 0)
    expect(page.locator("#cm-recital .cm-tt-shares")).to_have_text(say(
        "en", "tt_shares", recited=f"{marked.recited_share:.0%}", invented=f"{marked.invented_share:.0%}",
        n=f"{marked.recited + marked.invented:,}", k=marked.min_length))
    page.screenshot(path=str(artifacts / "through-time-surprise.png"))
    page.get_by_role("tab", name="Inside", exact=True).click()
    page.locator("#cm-flow-run").click()
    expect(page.locator("#cm-flow .cm-flow-panel")).to_have_count(3)


def test_the_course_recipe_on_a_visitors_text_through_the_fair_line(page, server_url):
    """A short text of one's own: both recipes train (in the fair line), then both prediction strings and the why."""
    opened(page, server_url + "?tab=time")
    page.locator("#cm-course-text textarea").fill("hihello hihello hihello")
    page.locator("#cm-course-cell input[value=rnn]").check()
    page.locator("#cm-course-run").click()
    runs = page.locator("#cm-course .cm-course-run")
    expect(runs).to_have_count(2, timeout=120_000)
    expect(runs.nth(0)).to_have_attribute("data-recipe", "course")
    expect(runs.nth(1)).to_have_attribute("data-recipe", "whole")
    from charmodels.course import context_needed

    need = context_needed("hihello hihello hihello")
    expect(page.locator("#cm-course .cm-course-why")).to_have_text(
        say("en", "tt_why_learnable", needed=need.needed, window=10))
    expect(page.locator(".toast-body.error")).to_have_count(0)


def test_the_memory_lab_draws_the_gradient_that_reaches_the_first_letter(page, server_url):
    """Beside the accuracy the lab measures: each cell's gradient at every earlier step of the lab's
    task (charmodels.labflow's shipped figures), for the gap picked; the tanh RNN's vanishes."""
    from charmodels import labflow

    opened(page, server_url)
    page.get_by_role("tab", name="Memory lab").click()
    panels = page.locator("#cm-lab-flow .cm-flow-panel")
    expect(panels).to_have_count(3)
    for gap in (30, 5):
        if gap != 30:
            page.locator("#cm-lab-flow-gap").get_by_text(f"L = {gap}", exact=True).click()
        shipped = labflow.shipped()[gap]
        for cell, flow in shipped.items():
            points = page.locator(f'#cm-lab-flow .cm-flow-panel[data-model="{cell.upper()}"] circle')
            expect(points).to_have_count(gap + 1)
            first = points.first.get_attribute("data-norm")
            assert float(first) == pytest.approx(flow.input_norms[0], rel=1e-3)  # the first letter's gradient
    assert labflow.shipped()[30]["rnn"].input_norms[0] < 1e-20  # what the picture shows at L = 30
    no_error_toast(page)
