"""The page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

One browser per module; each test gets a fresh context (en-US or ko-KR): the fixtures
browser, page, page_ko, open_app and top_char live in conftest.py. Expected
values come from the same server through gradio_client, never from hard-coded guesses
where the model decides. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from charmodels.corpora import CORPORA

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
WAIT = 20_000  # ms: generous, the machine is shared
GOETHE_LONG = "Knowing is not enough; we must apply. Willing is not enough; we must "

TOP = "#cm-bars [data-testid=label-output-value]"
PROMPT = "#cm-prompt textarea"
SPACE = "␣ space"  # how the bars name a space (a lone ␣ is a few pixels wide)

expect.set_options(timeout=WAIT)

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),  # pandas 3 inside Gradio's queue
]


def test_bars_follow_the_prompt_as_it_is_typed_deleted_and_pasted(page, server_url, artifacts, open_app):
    open_app(page, server_url)
    prompt = page.locator(PROMPT)
    # typed key by key
    prompt.fill("Knowing is not enough; we must apply. Willing is not enough; we must")
    prompt.press_sequentially(" ", delay=20)
    expect(page.locator(TOP)).to_have_text("d")  # 28 characters of memory: `Willing` -> do
    # Backspace: now a space comes next, drawn visibly
    prompt.press("Backspace")
    expect(page.locator(TOP)).to_have_text(SPACE)
    # pasted / replaced in one go
    prompt.fill("Knowing is not enough; we must ")
    expect(page.locator(TOP)).to_have_text("a")
    # characters the model never saw are named in the notes
    prompt.fill("Know#ing")
    expect(page.locator("#cm-notes")).to_contain_text("'#'")
    expect(page.locator(TOP)).to_have_text(SPACE)
    page.screenshot(path=str(artifacts / "browser-bars.png"))
    # an empty prompt starts at the corpus's first character, and says so
    prompt.fill("")
    expect(page.locator("#cm-notes")).to_contain_text("Empty prompt")
    expect(page.locator("#cm-notes")).to_contain_text("'K'")
    expect(page.locator(TOP)).to_have_text("n")


def test_generate_streams_a_shaded_continuation(page, server_url, client, artifacts, open_app):
    open_app(page, server_url)
    page.locator(PROMPT).fill("Willing")
    expect(page.locator(TOP)).to_have_text(SPACE)
    page.get_by_label("number input for Characters to write").fill("200")
    page.get_by_label("number input for Characters to write").press("Tab")
    expected, _ = client.predict("goethe-lstm", "Willing", 200, 0, 0, 1, 0, api_name="/generate")
    page.locator("#cm-generate").click()
    expect(page.locator("#cm-continuation textarea")).to_have_value(expected)
    expect(page.locator("#cm-shaded .cm-char")).to_have_count(200)
    expect(page.locator("#cm-shaded .cm-prompt")).to_have_text("Willing")
    expect(page.locator("#cm-shaded .cm-selected")).to_have_count(1)  # the inspector points at the last step
    expect(page.get_by_text("Greedy decoding")).to_be_visible()
    page.screenshot(path=str(artifacts / "browser-generate.png"), full_page=True)
    # inspect an earlier step: the outline moves there and the notes say what was written
    page.get_by_label("number input for Inspect step").fill("3")
    page.get_by_label("number input for Inspect step").press("Tab")
    expect(page.locator("#cm-shaded .cm-selected")).to_have_attribute("data-step", "3")
    expect(page.get_by_text(f"Step 3: wrote '{expected[2]}'")).to_be_visible()


# Records, in the page, when the continuation last changed: polled every 20 ms from the moment it is installed
WATCH_CONTINUATION = """() => {
  const box = document.querySelector('#cm-continuation textarea');
  window.cmWatch = {value: box.value, changed: performance.now()};
  window.cmWatchTimer = setInterval(() => {
    if (box.value !== window.cmWatch.value) { window.cmWatch = {value: box.value, changed: performance.now()}; }
  }, 20);
}"""


@pytest.mark.alone  # times what the page shows
@pytest.mark.parametrize(("start", "stop_by"), [("button", "button"), ("keyboard", "keyboard")])
def test_stop_ends_a_long_generation_however_it_started(page, server_url, open_app, slow_model, start, stop_by, upload):
    """Issue 9, defect 9: Stop cancelled only the button's event, so a generation started from the
    keyboard ran on to the end. Issue 10: Stop (the button, or Escape in the prompt) ends it within 0.5 s."""
    open_app(page, server_url)
    upload(page, slow_model)
    expect(page.locator("#cm-corpus input")).to_have_value("slow-lstm (uploaded)")  # the uploaded model is the page's model
    expect(page.locator("#cm-notes")).to_contain_text("'a'")
    page.get_by_label("number input for Characters to write").fill("2000")
    page.get_by_label("number input for Characters to write").press("Tab")
    stop = page.locator("#cm-stop")
    stop.scroll_into_view_if_needed()
    box = stop.bounding_box()
    started = time.monotonic()
    if start == "button":
        page.locator("#cm-generate").click()
    else:
        page.locator(PROMPT).press("Enter")
    continuation = page.locator("#cm-continuation textarea")
    expect(continuation).not_to_have_value("")  # streaming has begun
    page.evaluate(WATCH_CONTINUATION)
    # a plain mouse click: locator.click() waits for the page to hold still, which it does not while streaming
    stopped_at = page.evaluate("performance.now()")
    if stop_by == "button":
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    else:
        page.keyboard.press("Escape")  # the prompt still has the focus
    page.wait_for_timeout(3000)
    watch = page.evaluate("window.cmWatch")
    written = len(continuation.input_value())
    assert 1 <= written < 2000, f"{written} characters {time.monotonic() - started:.1f} s after the start"
    late = (watch["changed"] - stopped_at) / 1000
    assert late < 0.5, f"updates went on for {late:.2f} s after Stop"


def test_a_keyboard_generation_refreshes_the_inspector(page, server_url, client, open_app):
    """Issue 9, defect 9: the step inspector refreshed only after a generation started by the button."""
    open_app(page, server_url)
    page.get_by_label("number input for Characters to write").fill("30")
    page.get_by_label("number input for Characters to write").press("Tab")
    page.locator(PROMPT).fill("Willing")
    expect(page.locator(TOP)).to_have_text(SPACE)
    page.locator(PROMPT).press("Enter")
    expect(page.locator("#cm-shaded .cm-char")).to_have_count(30)
    expect(page.locator("#cm-shaded .cm-selected")).to_have_attribute("data-step", "30")  # the inspector ran
    expect(page.get_by_text("Greedy decoding")).to_be_visible()
    text = page.locator("#cm-continuation textarea").input_value()
    assert len(text) == 30 and page.locator(PROMPT).input_value() == "Willing"  # no newline added
    expect(page.get_by_text(f"Step 30: wrote '{text[-1]}'")).to_be_visible()


def test_sampling_settings_reach_the_model(page, server_url, client, open_app):
    open_app(page, server_url)
    page.locator(PROMPT).fill("O")  # not in goethe's vocabulary: starts from K
    page.get_by_label("number input for Characters to write").fill("40")
    page.get_by_label("number input for Characters to write").press("Tab")
    page.get_by_label("number input for Temperature (0 = greedy)").fill("1.5")
    page.get_by_label("number input for Temperature (0 = greedy)").press("Tab")
    page.get_by_label("Seed (-1 = random)").fill("3")
    page.get_by_label("Seed (-1 = random)").press("Tab")
    expected, _ = client.predict("goethe-lstm", "O", 40, 1.5, 0, 1, 3, api_name="/generate")
    page.locator("#cm-generate").click()
    expect(page.locator("#cm-continuation textarea")).to_have_value(expected)
    expect(page.locator("#cm-notes")).to_contain_text("'O'")
    expect(page.get_by_text("Temperature 1.5")).to_be_visible()  # the inspector explains the reshaping


def test_projector_mode_by_button_and_by_url(page, server_url, artifacts, open_app):
    open_app(page, server_url)
    size = "() => parseFloat(getComputedStyle(document.querySelector('#cm-prompt textarea')).fontSize)"
    normal = page.evaluate(size)
    assert not page.evaluate("document.body.classList.contains('projector')")
    page.locator("#cm-projector").click()
    page.wait_for_function("document.body.classList.contains('projector')")
    assert page.evaluate(size) >= 1.5 * normal
    page.screenshot(path=str(artifacts / "browser-projector.png"))
    page.locator("#cm-projector").click()
    page.wait_for_function("!document.body.classList.contains('projector')")

    page.goto(server_url + "?projector", wait_until="load")
    page.locator("#cm-bars").wait_for()
    page.wait_for_function("document.body.classList.contains('projector')")
    assert page.evaluate(size) >= 1.5 * normal


def korean_fonts() -> set[str]:
    """Font families installed with Hangul coverage (fontconfig)."""
    listing = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True).stdout
    return {name.strip() for line in listing.splitlines() for name in line.split(",")}


def fonts_used(page: Page, selector: str) -> list[str]:
    """The fonts Chromium really drew a node's text with (DevTools protocol), not what CSS asked for."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return [font["familyName"] for font in fonts]


def test_korean_interface_and_the_korean_corpus(page_ko, server_url, client, artifacts, open_app, top_char):
    page = page_ko
    open_app(page, server_url)
    expect(page.locator("#cm-generate")).to_have_text("생성")
    expect(page.locator("#cm-prompt")).to_contain_text("프롬프트")
    expect(page.get_by_role("tab", name="예측과 생성")).to_be_visible()
    expect(page.locator("#cm-projector")).to_have_text("프로젝터 모드")

    page.locator("#cm-corpus input").click()
    page.get_by_role("option", name="tsingtao").click()
    text = CORPORA["tsingtao"].text
    page.locator("#cm-about-box").get_by_text("모델이 학습한 텍스트").click()  # the folded text
    expect(page.locator("#cm-about")).to_contain_text(text[:20])
    expect(page.locator(PROMPT)).to_have_value("나는 한국 사람이고, 중국 ")
    expect(page.locator(TOP)).to_have_text(top_char(client, "tsingtao-lstm", "나는 한국 사람이고, 중국 ", "ko"))
    # messages written by the server follow the browser's language too
    page.locator(PROMPT).fill("")
    expect(page.locator("#cm-notes")).to_contain_text("프롬프트가 비어 있어")
    expect(page.locator("#cm-notes")).to_contain_text("'나'")
    expect(page.locator(TOP)).to_have_text(top_char(client, "tsingtao-lstm", "나", "ko"))
    page.screenshot(path=str(artifacts / "browser-korean.png"))

    # the Hangul is drawn with a font that has it (no tofu boxes)
    hangul = korean_fonts()
    if not hangul:
        pytest.skip("no Korean font installed (Debian: fonts-noto-cjk)")
    for selector in ("#cm-generate", "#cm-about pre", TOP):
        used = fonts_used(page, selector)
        assert used and set(used) <= hangul, (selector, used)

    page.get_by_role("tab", name="모델 카드").click()
    expect(page.locator("#cm-card")).to_contain_text("말뭉치")
    expect(page.locator("#cm-card")).to_contain_text("tsingtao")


def test_compare_tab_example_button(page, server_url, client, artifacts, open_app):
    open_app(page, server_url)
    page.get_by_role("tab", name="RNN vs LSTM vs GRU").click()
    page.locator("#cm-example").click()
    expect(page.locator("#cm-compare-prompt textarea")).to_have_value(GOETHE_LONG)
    panel = page.get_by_role("tabpanel")
    outputs = panel.locator("textarea")
    expect(outputs).to_have_count(4)  # the prompt, then RNN, LSTM, GRU
    for n, cell in enumerate(["rnn", "lstm", "gru"], start=1):
        expected, _ = client.predict(f"goethe-{cell}", GOETHE_LONG, 60, 0, 0, 1, 0, api_name="/generate")
        expect(outputs.nth(n)).to_have_value(expected)
    expect(panel.locator("[data-testid=label-output-value]")).to_have_count(3)
    page.screenshot(path=str(artifacts / "browser-compare.png"), full_page=True)


def test_model_card_follows_the_cell_picker(page, server_url, open_app):
    open_app(page, server_url)
    page.get_by_role("tab", name="Model card").click()
    card = page.locator("#cm-card")
    expect(card).to_contain_text("goethe-lstm")
    expect(card).to_contain_text("tf_acc")
    expect(card).to_contain_text("100.0%")
    expect(page.locator("#cm-loss-plot .mark-line path").first).to_be_visible()  # the loss curve is drawn
    # its axes are named in words (a gr.I18n title reached the page as raw JSON in Gradio 6.31)
    axes = page.evaluate("Array.from(document.querySelectorAll('#cm-loss-plot svg text'), t => t.textContent)")
    assert "step" in axes and "loss (nats per character)" in axes, axes
    assert not [text for text in axes if "i18n" in text], axes
    prediction = page.locator("#cm-snapshot")
    expect(prediction).to_contain_text(re.compile(r"------ \d+ ------"))
    expect(prediction).to_contain_text(CORPORA["goethe"].text)
    expect(prediction.locator(".cm-wrong")).to_have_count(0)  # the last snapshot recites the text
    # back to the first recorded training step: the prediction was not the text yet, its errors are marked
    page.get_by_label("number input for Training step (recorded predictions)").fill("1")
    page.get_by_label("number input for Training step (recorded predictions)").press("Tab")
    expect(prediction).to_contain_text("------ 1 ------")
    expect(prediction).not_to_contain_text(CORPORA["goethe"].text)
    assert prediction.locator(".cm-wrong").count() > 10
    page.locator("#cm-cell").get_by_text("GRU").click()
    expect(card).to_contain_text("goethe-gru")
    expect(card).to_contain_text("GRU")


def test_uploading_a_checkpoint_in_the_page(page, server_url, client, tmp_path, open_app, top_char, upload):
    mine = tmp_path / "mine.safetensors"
    shutil.copyfile(ROOT / "checkpoints" / "tsingtao-gru.safetensors", mine)
    open_app(page, server_url)
    upload(page, mine)
    expect(page.locator("#cm-corpus input")).to_have_value("tsingtao-gru (uploaded)")
    page.locator("#cm-about-box").get_by_text("The text it learned").click()
    expect(page.locator("#cm-about")).to_contain_text(CORPORA["tsingtao"].text[:20])
    expect(page.locator(PROMPT)).to_have_value("")
    expect(page.locator("#cm-notes")).to_contain_text("'나'")
    expect(page.locator(TOP)).to_have_text(top_char(client, "tsingtao-gru", "나"))
    page.locator(PROMPT).fill("나는 한국")
    expect(page.locator(TOP)).to_have_text(top_char(client, "tsingtao-gru", "나는 한국"))


def upload_a_file_that_is_not_a_checkpoint(page, server_url, tmp_path, open_app, upload):
    """Open the app and upload a text file named like a checkpoint; the banner's locator."""
    bad = tmp_path / "notes.safetensors"
    bad.write_text("this is not a model\n", encoding="utf-8")
    open_app(page, server_url)
    upload(page, bad)
    return page.locator("#cm-message")


def test_uploading_a_file_that_is_not_a_checkpoint_shows_an_error(page, server_url, tmp_path, open_app, upload):
    message = upload_a_file_that_is_not_a_checkpoint(page, server_url, tmp_path, open_app, upload)
    expect(message).to_contain_text("not a readable safetensors file")
    assert "/tmp" not in message.inner_text() and "notes" not in message.inner_text()  # no path of the server
    # the page still works, and the next success clears the message
    page.locator(PROMPT).fill("Willing")
    expect(page.locator(TOP)).to_have_text(SPACE)
    expect(message).to_be_hidden()


def test_a_refused_upload_while_the_page_still_loads_keeps_its_message(page, server_url, tmp_path, open_app, upload, monkeypatch):
    """The page's loading goes on after the first model answers (the lab's views follow). A success of
    that loading cleared the banner: a refused upload's message vanished on a busy machine."""
    from charmodels import labflow

    shipped, answered = labflow.shipped, threading.Event()

    def slowly():  # the Memory lab's flow view, last of the loading, arrives 4 s late
        time.sleep(4)
        try:
            return shipped()
        finally:
            answered.set()

    monkeypatch.setattr(labflow, "shipped", slowly)
    message = upload_a_file_that_is_not_a_checkpoint(page, server_url, tmp_path, open_app, upload)
    expect(message).to_contain_text("not a readable safetensors file")
    assert answered.wait(30)
    page.wait_for_timeout(1500)  # the loading's last steps have reached the page
    expect(message).to_contain_text("not a readable safetensors file")


def test_an_event_already_under_way_when_an_upload_is_refused_leaves_its_message(page, server_url, tmp_path, open_app, upload, monkeypatch):
    """The page's loading sets the Inside prompt, which sets off the Inside views. When those were
    still being computed as a refused upload's message arrived, their success cleared it (seen in CI
    on a busy machine). Only an event begun after the message may clear it."""
    from demo import handlers

    heat_views, entered, refused, done = handlers.heat_views, threading.Event(), threading.Event(), threading.Event()

    def held(*args):  # the Inside views the loading set off: held until the refusal is on the page
        entered.set()
        refused.wait(30)
        try:
            return heat_views(*args)
        finally:
            done.set()

    monkeypatch.setattr(handlers, "heat_views", held)
    open_app(page, server_url)
    assert entered.wait(30)  # under way before the upload
    bad = tmp_path / "notes.safetensors"
    bad.write_text("this is not a model\n", encoding="utf-8")
    upload(page, bad)
    message = page.locator("#cm-message")
    expect(message).to_contain_text("not a readable safetensors file")
    refused.set()
    assert done.wait(30)
    page.wait_for_timeout(1500)  # its answer has reached the page
    expect(message).to_contain_text("not a readable safetensors file")
    page.locator(PROMPT).fill("Willing")  # an action of the visitor's that succeeds clears it
    expect(message).to_be_hidden()
    assert page.locator(".toast-body, [data-testid=toast-body]").count() == 0  # no event failed on the way (Gradio's toast)


def test_a_prompt_typed_on_inside_while_the_page_loads_is_kept(page, server_url, monkeypatch):
    """The Inside and Compare tabs start from the page's prompt once the first model answers. A
    visitor who typed on Inside before that (a busy class server) keeps what they typed."""
    from demo import handlers

    lab_choices, answered = handlers.lab_choices, threading.Event()

    def slowly(lang):  # the first model's answer arrives 4 s late
        time.sleep(4)
        try:
            return lab_choices(lang)
        finally:
            answered.set()

    monkeypatch.setattr(handlers, "lab_choices", slowly)
    page.goto(server_url, wait_until="load")
    page.get_by_role("tab", name="Inside").click()
    inside = page.locator("#cm-inside-prompt textarea")
    inside.fill("Willing is not")
    assert answered.wait(30)
    expect(page.locator(PROMPT)).to_have_value(re.compile("^Knowing"))  # the page's prompt arrived
    page.wait_for_timeout(1500)  # the loading's last steps have reached the page
    expect(inside).to_have_value("Willing is not")
    page.get_by_role("tab", name="RNN vs LSTM vs GRU").click()  # an untouched tab got the page's prompt
    expect(page.locator("#cm-compare-prompt textarea")).to_have_value(page.locator(PROMPT).input_value())


def test_errors_are_said_in_korean_on_a_korean_page(page_ko, server_url, tmp_path, open_app, upload):
    page = page_ko
    message = upload_a_file_that_is_not_a_checkpoint(page, server_url, tmp_path, open_app, upload)
    expect(message).to_contain_text("읽을 수 있는 safetensors 파일이 아닙니다")
    assert "/tmp" not in message.inner_text() and "not a readable" not in message.inner_text()
