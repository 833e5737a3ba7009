"""Fixtures for the real-component tests of the Gradio app (demo/app.py).

One real server per test session on a free localhost port, driven by real
gradio_client clients (test_api.py) and a real headless Chromium (test_browser*.py:
Debian's /usr/bin/chromium driven by Playwright, one browser per module, a fresh
context per test). No mocks anywhere.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

# Before anything imports gradio (which imports huggingface_hub): otherwise every
# offline Hub lookup retries for about 23 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The app's training workers at normal priority: lowered ones yield to every other process on a
# shared test machine and crawl there (tests/test_queue.py checks the lowering itself)
os.environ.setdefault("CHARMODELS_TRAINING_NICE", "0")

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
PAGE_WAIT = 20_000  # ms: a page's default timeout; generous, the machine is shared
PROMPT = "#cm-prompt textarea"
TOP = "#cm-bars [data-testid=label-output-value]"
DEMO = ROOT / "demo"
ARTIFACTS = ROOT / "tests" / "artifacts"
for folder in (ROOT, DEMO):  # `from demo import service` in the tests; `import app` as demo/app.py runs
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import app  # noqa: E402  (demo/app.py: a module-level `demo`, LAUNCH_OPTIONS)


def free_port() -> int:
    """A port nobody listens on right now (Gradio refuses server_port=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server_url():
    """The real app, queued and served on 127.0.0.1 for the whole session."""
    app.demo.queue(default_concurrency_limit=4)
    _, url, _ = app.demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        **app.LAUNCH_OPTIONS,
    )
    try:
        yield url
    finally:
        app.demo.close()


@pytest.fixture(scope="session")
def client(server_url):
    from gradio_client import Client

    c = Client(server_url, verbose=False, download_files=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory) -> Path:
    """An untrained 768 x 2 LSTM (27 MB) that names no text: 2,000 characters take seconds, long
    enough to press Stop and to time the stream (the shipped models write them in a fraction of a second)."""
    import torch

    import charmodels as cm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = cm.CharModel(cm.ModelConfig("lstm", 768, 2), cm.Vocab("abcdefghijklmnopqrstuvwxyz .,"))
    return cm.save_checkpoint(model.eval(), tmp_path_factory.mktemp("slow") / "slow-lstm.safetensors")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/ (gitignored): screenshots of the browser tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ---- the browser (test_browser.py, test_browser_tabs.py) ----


@pytest.fixture(scope="module")
def browser():
    # A student's laptop may lack Debian's chromium: skip with the fix. CI installs it, so there it must run.
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium fonts-noto-cjk (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, locale: str, width: int = 1280, height: int = 800):
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(PAGE_WAIT)
    return page


@pytest.fixture
def page(browser):
    page = new_page(browser, "en-US")
    yield page
    page.context.close()


@pytest.fixture
def page_ko(browser):
    page = new_page(browser, "ko-KR")
    yield page
    page.context.close()


@pytest.fixture
def make_page(browser):
    """More pages in one test: make_page(locale="en-US", width=1280, height=800); all closed afterwards."""
    pages = []

    def make(locale: str = "en-US", width: int = 1280, height: int = 800):
        pages.append(new_page(browser, locale, width, height))
        return pages[-1]

    yield make
    for made in pages:
        made.context.close()


def _open_app(page, url: str, first_top: str | None = "a") -> None:
    """Load the page and wait until the first model has answered (networkidle never fires on Gradio)."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="load")
    page.locator("#cm-bars").wait_for()
    expect(page.locator(PROMPT)).not_to_have_value("")  # the corpus's default prompt arrived
    if first_top is not None:
        expect(page.locator(TOP)).to_have_text(first_top)


def _top_char(client, checkpoint: str, prompt: str, lang: str = "en") -> str:
    """The most likely next character as the bars show it, asked of the same server through its API."""
    from demo.views import bar_label

    probs, _ = client.predict(checkpoint, prompt, api_name="/next_chars")
    return bar_label(next(iter(probs)), lang)


def upload_checkpoint(page, path) -> None:
    """Upload a file as a visitor does: open the folded "Your checkpoint" box, choose the file."""
    box = page.locator("#cm-upload-box")
    if not box.locator("input[type=file]").count():
        box.locator("button, .label-wrap").first.click()
    box.locator("input[type=file]").set_input_files(str(path))


@pytest.fixture(scope="session")
def open_app():
    """open_app(page, url, first_top="a"): load the app and wait for its first answer."""
    return _open_app


@pytest.fixture(scope="session")
def top_char():
    """top_char(client, checkpoint, prompt, lang="en"): the top of the bars, as the API computes it."""
    return _top_char


def about_box(page):
    """The text the model learned, its folded box opened."""
    box = page.locator("#cm-about-box")
    if not box.locator("#cm-about").count():
        box.locator("button, .label-wrap").first.click()
    return page.locator("#cm-about")


@pytest.fixture(scope="session")
def about():
    """about(page): the locator of the text the model learned (its folded box opened)."""
    return about_box


@pytest.fixture(scope="session")
def upload():
    """upload(page, path): choose a checkpoint file in the page's folded upload box."""
    return upload_checkpoint
