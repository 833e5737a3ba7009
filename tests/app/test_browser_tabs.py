"""The Inside, Train your own and Memory lab tabs in a real headless Chromium.

Same setup as test_browser.py (Debian's /usr/bin/chromium driven by Playwright; the
fixtures browser, page, page_ko, make_page, open_app and top_char live in conftest.py).
Trainings here are real and short; a page waits on locators, never on sleeps.
Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from charmodels.checkpoint import load_checkpoint
from charmodels.corpora import CORPORA

CHROMIUM = "/usr/bin/chromium"
WAIT = 20_000  # ms: generous, the machine is shared
TRAIN_WAIT = 150_000  # ms: a training ends by charmodels.jobs.QUEUE_TIME_LIMIT (30 s) plus measuring and saving, after those ahead of it
LAB_WAIT = 90_000  # ms: a live lab run ends by charmodels.jobs.LAB_TIME_LIMIT (60 s), after those ahead of it
GOETHE_LONG = "Knowing is not enough; we must apply. Willing is not enough; we must "

PROMPT = "#cm-prompt textarea"
TOP = "#cm-bars [data-testid=label-output-value]"
HEAT = "#cm-heat table.cm-heat"
STEP_INPUT = "number input for Step to look at (its column is outlined)"
ENDED = re.compile(r"^\s*(done|stopped|timed out) · ")

expect.set_options(timeout=WAIT)

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),  # pandas 3 inside Gradio's queue
]


# What the server drew, without Gradio's status tracker (whose classes change as soon as a request is sent)
HEAT_CONTENT = "#cm-heat .cm-heat-wrap"
VECTORS_CONTENT = "#cm-vectors .html-container"


DRAWN = "sel => Array.from(document.querySelectorAll(sel), n => n.outerHTML).join('')"


def html_of(page: Page, selector: str) -> str:
    """The HTML of every node the selector matches."""
    return page.evaluate(DRAWN, selector)


def wait_changed(page: Page, selector: str, before: str) -> None:
    """Until those nodes differ from `before` (a re-render by the server's answer)."""
    page.wait_for_function(f"([sel, old]) => {{ const now = ({DRAWN})(sel); return now !== '' && now !== old; }}", arg=[selector, before])


def set_number(page: Page, label: str, value) -> None:
    """A slider or number box through its number input; Tab commits it (Gradio's blur)."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def which_options(page: Page, expected: str) -> None:
    """Open the "What to show" picker, wait for an option the model has, close it again."""
    page.locator("#cm-which input").click()
    expect(page.get_by_role("option", name=expected)).to_be_visible()
    page.keyboard.press("Escape")


def open_inside(page: Page, prompt: str = GOETHE_LONG) -> None:
    """The Inside tab with `prompt` read by the page's model: heatmap, vectors and saliency drawn."""
    start = page.locator(PROMPT).input_value()
    page.get_by_role("tab", name="Inside").click()
    # on load the Inside tab takes the page's prompt: wait for it, or it could overwrite ours
    expect(page.locator("#cm-inside-prompt textarea")).to_have_value(start)
    page.locator("#cm-inside-prompt textarea").fill(prompt)
    page.locator("#cm-inside").click()
    page.locator(HEAT).wait_for()
    expect(page.locator("#cm-saliency .cm-saliency")).to_have_count(3)


def visible(char: str) -> str:
    return {" ": "␣", "\n": "⏎"}.get(char, char)


# ---- Inside ----


def test_inside_heatmap_gates_saliency_and_steps(page, server_url, open_app, artifacts):
    open_app(page, server_url)
    # a fresh page's Inside tab knows the first model (the LSTM's gates) and starts from the page's prompt
    page.get_by_role("tab", name="Inside").click()
    expect(page.locator("#cm-inside-prompt textarea")).to_have_value("Knowing is not enough; we must ")
    expect(page.locator("#cm-which input")).to_have_value("hidden state h")
    which_options(page, "forget gate f")
    open_inside(page)

    heat = page.locator(HEAT)
    header = heat.locator("tr").first.locator("th")
    expect(header).to_have_count(1 + len(GOETHE_LONG))  # the corner, then one column per character
    assert header.all_inner_texts()[1:] == [visible(c) for c in GOETHE_LONG]
    expect(heat.locator("tr")).to_have_count(1 + 24)  # the header row, then the 24 most varying units
    expect(heat.locator("tr").nth(1).locator("td")).to_have_count(len(GOETHE_LONG))
    expect(heat.locator("th.cm-sel")).to_have_attribute("title", str(len(GOETHE_LONG)))  # the last step, outlined
    expect(page.locator("#cm-vectors .cm-vector")).to_have_count(6)  # h, c, i, f, g, o of one LSTM step
    expect(page.locator("#cm-vectors p")).to_contain_text(f"{len(GOETHE_LONG)}: '␣' → 'd'")

    # every model of the text reads the Goethe prompt and says "do"
    titles = page.locator("#cm-saliency .cm-saliency-title")
    for n, cell in enumerate(["rnn", "lstm", "gru"]):
        expect(titles.nth(n)).to_have_text(re.compile(rf"^goethe-{cell}: 'd' \d+%$"))
    expect(page.locator("#cm-saliency .cm-saliency").first.locator("span")).to_have_count(len(GOETHE_LONG))
    page.locator(HEAT).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "browser-inside.png"), full_page=True)

    # the forget gate: another heatmap, drawn in the gates' green
    before = html_of(page, HEAT_CONTENT)
    page.locator("#cm-which input").click()
    page.get_by_role("option", name="forget gate f").click()
    wait_changed(page, HEAT_CONTENT, before)
    expect(page.locator("#cm-which input")).to_have_value("forget gate f")
    assert "rgba(22,163,74," in heat.locator("td").first.get_attribute("style")
    expect(heat.locator("tr")).to_have_count(1 + 24)

    # the step slider: the outlined column and the per-step vectors follow it
    before = html_of(page, VECTORS_CONTENT)
    slider = page.locator("#cm-inside-step input[type=range]")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    wait_changed(page, VECTORS_CONTENT, before)
    step = int(page.get_by_label(STEP_INPUT).input_value())
    assert 1 < step < len(GOETHE_LONG)
    expect(page.locator("#cm-vectors p")).to_contain_text(f"{step}: '{visible(GOETHE_LONG[step - 1])}' →")
    expect(heat.locator("th.cm-sel")).to_have_attribute("title", str(step))
    # the number box next to it moves it too
    before = html_of(page, VECTORS_CONTENT)
    set_number(page, STEP_INPUT, 10)
    wait_changed(page, VECTORS_CONTENT, before)
    expect(page.locator("#cm-vectors p")).to_contain_text("10: 's' →")  # "Knowing is": the 10th character
    expect(heat.locator("th.cm-sel")).to_have_attribute("title", "10")


SIZES = """() => ({
  cell: document.querySelector('#cm-heat table.cm-heat td').getBoundingClientRect().width,
  header: parseFloat(getComputedStyle(document.querySelector('#cm-heat table.cm-heat th[title]')).fontSize),
  saliency: parseFloat(getComputedStyle(document.querySelector('#cm-saliency .cm-saliency')).fontSize),
})"""


def test_inside_is_larger_in_projector_mode(make_page, server_url, open_app, artifacts):
    # Gradio 6.31 scopes custom CSS to its container, which outranks a plain `body.projector ...` rule:
    # these sizes catch a projector rule that silently stops applying
    sizes = {}
    for mode, url in (("normal", server_url), ("projector", server_url + "?projector")):
        page = make_page()
        open_app(page, url)
        assert page.evaluate("document.body.classList.contains('projector')") == (mode == "projector")
        open_inside(page)
        expect(page.locator(HEAT).locator("tr")).to_have_count(1 + 24)
        sizes[mode] = page.evaluate(SIZES)
        if mode == "projector":
            page.locator("#cm-saliency").scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts / "browser-inside-projector.png"))
    normal, projector = sizes["normal"], sizes["projector"]
    assert projector["cell"] >= 1.3 * normal["cell"], sizes  # the heatmap's cells (16 -> 24 px)
    assert projector["header"] >= 1.5 * normal["header"], sizes  # its characters
    assert projector["saliency"] >= 1.5 * normal["saliency"], sizes


# ---- Train your own ----


def fill_training(page: Page, text: str, cell: str, steps: int, hidden: int | None = None) -> None:
    page.get_by_role("tab", name="Train your own").click()
    page.locator("#cm-train-text textarea").fill(text)
    page.get_by_role("tabpanel").get_by_label(cell, exact=True).check()
    set_number(page, "number input for Training steps (at most)", steps)
    if hidden is not None:
        set_number(page, "number input for Hidden size", hidden)


def download_checkpoint(page: Page, folder: Path) -> Path:
    """The file the page offers, downloaded as a visitor would."""
    link = page.locator("#cm-train-download a[download]")
    expect(link).to_have_attribute("download", re.compile(r"\.safetensors$"))
    with page.expect_download() as download:
        link.click()
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    return path


def test_train_a_short_text_then_predict_with_it(page, server_url, client, open_app, top_char, tmp_path, artifacts, about):
    from charmodels.serving import UPLOAD_PREFIX

    text = "abcabcabd abcabcabd"
    open_app(page, server_url)
    fill_training(page, text, "GRU", 200)
    page.locator("#cm-train").click()
    status = page.locator("#cm-train-status")
    expect(status).to_have_text(ENDED, timeout=TRAIN_WAIT)  # done, or stopped/timed out on a slow machine
    expect(page.locator("#cm-train-view .cm-snapshot")).to_be_visible()
    expect(page.locator("#cm-train-download")).to_contain_text("mytext-gru")
    path = download_checkpoint(page, tmp_path)
    assert path.name == "mytext-gru.safetensors"
    model = load_checkpoint(path)
    assert model.config.cell == "gru"
    assert model.config.hidden_size == 64
    assert model.info["corpus"]["text"] == text
    page.screenshot(path=str(artifacts / "browser-train.png"), full_page=True)

    # the trained model is now the page's model: pickers emptied, its text shown, the bars its own
    key = UPLOAD_PREFIX + hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # as serving.register_upload names it
    expect(about(page)).to_contain_text(text)
    expect(page.locator("#cm-corpus input")).to_have_value("mytext-gru (trained here)")
    expect(page.locator("#cm-cell input[value=gru]")).to_be_checked()
    page.get_by_role("tab", name="Predict & generate").click()
    expect(page.locator(PROMPT)).to_have_value("")
    expect(page.locator("#cm-notes")).to_contain_text("'a'")  # an empty prompt starts at the text's first character
    expect(page.locator(TOP)).to_have_text(top_char(client, key, ""))
    for prompt in ("abcab", "abcabcab"):
        page.locator(PROMPT).fill(prompt)
        expect(page.locator(TOP)).to_have_text(top_char(client, key, prompt))
    if status.inner_text().strip().startswith("done"):
        expect(page.locator(TOP)).to_have_text("d")  # it learned the text: after abcabcab comes d


def test_stop_ends_a_long_training_and_offers_its_model(page, server_url, open_app, tmp_path, artifacts, about):
    sentence = CORPORA["goethe"].text + " "
    text = (sentence * (5000 // len(sentence) + 1))[:5000]
    open_app(page, server_url)
    fill_training(page, text, "LSTM", 3000, hidden=256)
    page.locator("#cm-train").click()
    status = page.locator("#cm-train-status")
    expect(status).to_contain_text(re.compile(r"running · training: step \d+ of 3,000"), timeout=60_000)
    page.locator("#cm-train-stop").click()
    expect(status).to_have_text(re.compile(r"^\s*stopped · stopped at step [\d,]+;"), timeout=TRAIN_WAIT)
    steps = int(re.search(r"stopped at step ([\d,]+)", status.inner_text()).group(1).replace(",", ""))
    assert 1 <= steps < 3000
    path = download_checkpoint(page, tmp_path)
    model = load_checkpoint(path)
    assert (model.config.cell, model.config.hidden_size) == ("lstm", 256)
    assert model.info["corpus"]["text"] == text
    expect(about(page)).to_contain_text(text[:40])
    page.screenshot(path=str(artifacts / "browser-train-stopped.png"), full_page=True)


def test_a_text_over_the_limit_is_refused_and_the_page_keeps_working(page, server_url, open_app):
    open_app(page, server_url)
    fill_training(page, "ab" * 25_000 + "c", "RNN", 50)
    page.locator("#cm-train").click()
    expect(page.get_by_text("the text is 50,001 characters long; the limit is 50,000")).to_be_visible()
    expect(page.locator("#cm-train-download a[download]")).to_have_count(0)
    # the bars still answer, the page's model is unchanged
    page.get_by_role("tab", name="Predict & generate").click()
    page.locator(PROMPT).fill("Willing")
    expect(page.locator(TOP)).to_have_text("␣ space")
    expect(page.locator("#cm-corpus input")).to_have_value("goethe")
    # and a text within the limit trains (the refusal took no training slot)
    fill_training(page, "abcabd", "RNN", 50)
    page.locator("#cm-train").click()
    expect(page.locator("#cm-train-status")).to_have_text(ENDED, timeout=TRAIN_WAIT)
    expect(page.locator("#cm-train-download a[download]")).to_have_attribute("download", "mytext-rnn.safetensors")


def job_folder(name: str) -> list[Path]:
    """The folders of this server's trainings (charmodels.fairqueue's, one per work) that hold `name`'s checkpoint."""
    return [path.parent for path in Path(tempfile.gettempdir()).glob(f"charmodels-queue-*/*/{name}")]


def test_a_new_training_removes_the_last_ones_folder_and_its_offered_file_stays_valid(page, server_url, open_app, tmp_path):
    """Issue 9, defect 10: every training left its temporary folder behind. The page's next training
    replaces it; what the page offered is Gradio's own copy, still there to download."""
    run = uuid.uuid4().hex[:8]  # names no other run of this test (on this machine, ever) has used
    first_name, second_name = f"first{run}", f"second{run}"
    open_app(page, server_url)
    fill_training(page, "abcabd", "RNN", 30)
    page.get_by_label("Name", exact=True).fill(first_name)
    page.locator("#cm-train").click()
    expect(page.locator("#cm-train-status")).to_have_text(ENDED, timeout=TRAIN_WAIT)
    (first,) = job_folder(f"{first_name}-rnn.safetensors")
    href = page.locator("#cm-train-download a[download]").get_attribute("href")
    assert first.name not in href  # the page links Gradio's copy, not the job's folder

    fill_training(page, "xyzxyw", "GRU", 30)
    page.get_by_label("Name", exact=True).fill(second_name)
    page.locator("#cm-train").click()
    expect(page.locator("#cm-train-download a[download]")).to_have_attribute(
        "download", f"{second_name}-gru.safetensors", timeout=TRAIN_WAIT)
    assert not first.exists()  # replaced: its folder is gone
    assert len(job_folder(f"{second_name}-gru.safetensors")) == 1  # the newest training's folder stays while offered
    offered = tmp_path / "first.safetensors"
    offered.write_bytes(page.request.get(href).body())
    assert load_checkpoint(offered).info["corpus"]["text"] == "abcabd"


def test_training_statuses_are_korean_on_a_korean_page(page_ko, server_url, open_app):
    page = page_ko
    open_app(page, server_url)
    page.get_by_role("tab", name="직접 학습시키기").click()
    page.locator("#cm-train-text textarea").fill("abcabd")
    set_number(page, "number input for 학습 스텝 (최대)", 30)
    page.locator("#cm-train").click()
    status = page.locator("#cm-train-status")
    expect(status).to_have_text(re.compile(r"^\s*(완료|정지됨|시간 초과) · "), timeout=TRAIN_WAIT)
    said = status.inner_text()
    assert "스텝" in said and not re.search(r"\b(done|stopped|steps|training)\b", said), said
    # a refused request is said in Korean too
    page.locator("#cm-train-text textarea").fill("aaaa")
    page.locator("#cm-train").click()
    expect(page.get_by_text("텍스트가 한 가지 문자('a')만 씁니다")).to_be_visible()


# ---- Memory lab ----


def test_memory_lab_plot_table_runs_and_a_live_point(page, server_url, open_app, artifacts):
    open_app(page, server_url)
    page.get_by_role("tab", name="Memory lab").click()
    plot = page.locator("#cm-lab-plot")
    expect(plot.locator("svg, canvas").first).to_be_visible()
    table = page.locator("#cm-lab-table")
    expect(table).to_contain_text("L=80")
    expect(table).to_contain_text("the plain recipe")
    plain = table.inner_text()

    # another shipped run: another table, and the plot follows
    lines = "#cm-lab-plot .mark-line path"  # the three drawn curves, without axes or Gradio's status tracker
    expect(plot.locator(".mark-line path")).to_have_count(3)
    before = html_of(page, lines)
    page.get_by_role("tabpanel").get_by_label("curriculum: the training gap grows").check()
    expect(table).not_to_have_text(plain)
    expect(table).to_contain_text("curriculum")
    expect(table).to_contain_text("L=80")
    wait_changed(page, lines, before)
    # the curves are the new run's (its gaps start at 20), not the old ones redrawn: in Gradio 6.31 an
    # update that also set the plot's titles or a new colors_in_legend list dropped its points
    expect(plot.locator(".mark-line path").first).to_have_attribute("aria-label", re.compile(r"^gap L: 20; accuracy: 1; cell: RNN"))

    # one point trained live: RNN, gap 2, 100 steps
    panel = page.get_by_role("tabpanel")
    panel.get_by_label("RNN", exact=True).check()
    set_number(page, "number input for Gap L", 2)
    set_number(page, "number input for Training steps", 100)
    page.locator("#cm-lab-run").click()
    result = page.locator("#cm-lab-result")
    expect(result).to_contain_text(re.compile(r"RNN, L = 2: accuracy \d+%"), timeout=LAB_WAIT)
    expect(result).to_contain_text("100 steps")
    page.screenshot(path=str(artifacts / "browser-lab.png"), full_page=True)


# ---- Korean ----


def test_korean_names_of_the_new_tabs(page_ko, server_url, open_app, artifacts):
    page = page_ko
    open_app(page, server_url)
    for name in ("모델의 속", "직접 학습시키기", "기억 실험실"):
        expect(page.get_by_role("tab", name=name)).to_be_visible()
    page.get_by_role("tab", name="모델의 속").click()
    expect(page.locator("#cm-inside")).to_have_text("속 들여다보기")
    page.get_by_role("tab", name="직접 학습시키기").click()
    expect(page.locator("#cm-train")).to_have_text("학습")
    expect(page.locator("#cm-train-stop")).to_have_text("정지")
    page.get_by_role("tab", name="기억 실험실").click()
    expect(page.locator("#cm-lab-run")).to_have_text("실행")
    # the plot's axes and the run names are Korean too
    expect(page.locator("#cm-lab-plot .mark-line path")).to_have_count(3)
    axes = page.evaluate("Array.from(document.querySelectorAll('#cm-lab-plot svg text'), t => t.textContent)")
    assert "간격 L" in axes and "정확도" in axes and "gap L" not in axes, str(axes)
    expect(page.get_by_text("기본 방법: 600 스텝").first).to_be_visible()  # the radio; the table's note below
    expect(page.locator("#cm-lab-table")).to_contain_text("기본 방법")
    expect(page.get_by_text("한 점을 직접 학습하기")).to_be_visible()
    page.screenshot(path=str(artifacts / "browser-korean-tabs.png"), full_page=True)
