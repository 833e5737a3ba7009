"""The fair training line and the page's session in a real headless Chromium (issue 14, items 1,
7 and 8): a visitor sees their place in line and can leave it; a closed page takes its
training's files and its own model with it; typing while a generation streams never loses a
request. Same setup as test_browser.py (conftest.py's fixtures).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from charmodels.errors import CharmodelsError
from demo import service

PROMPT = "#cm-prompt textarea"
TOP = "#cm-bars [data-testid=label-output-value]"

expect.set_options(timeout=30_000)

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]


def set_number(page, label: str, value) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


def test_a_waiting_visitor_sees_their_place_and_can_leave_the_line(page, server_url, open_app):
    from charmodels.jobs import queue_workers
    from test_queue_api import blockers  # tests/app is on the path

    busy = blockers(queue_workers())  # every worker busy: the page's training waits
    try:
        open_app(page, server_url)
        page.get_by_role("tab", name="Train your own").click()
        page.locator("#cm-train-text textarea").fill("abcabd abcabd")
        page.locator("#cm-train").click()
        status = page.locator("#cm-train-status")
        expect(status).to_contain_text(re.compile(r"^\s*waiting · you are number 1 in line: it starts in about \d+ s "
                                                  r"\(at the latest in \d+ s\) and ends in about \d+ s"))
        page.locator("#cm-train-stop").click()  # Stop while waiting leaves the line
        expect(status).to_have_text(re.compile(r"^\s*not in line · you left the line"))
        expect(page.locator("#cm-train-download a[download]")).to_have_count(0)
    finally:
        for ticket in busy:
            ticket.leave()


def test_a_closed_page_takes_its_training_and_its_model_with_it(browser, server_url, open_app):
    """Issue 14, item 7: a student's text and model live only while their page does."""
    from conftest import new_page

    name = f"closed{uuid.uuid4().hex[:8]}"
    page = new_page(browser, "en-US")
    open_app(page, server_url)
    page.get_by_role("tab", name="Train your own").click()
    page.locator("#cm-train-text textarea").fill("xyzxyw xyzxyw")
    set_number(page, "number input for Training steps (at most)", 50)
    page.get_by_label("Name", exact=True).fill(name)
    page.locator("#cm-train").click()
    link = page.locator("#cm-train-download a[download]")
    expect(link).to_have_attribute("download", f"{name}-lstm.safetensors", timeout=120_000)
    offered = page.request.get(link.get_attribute("href")).body()
    key = "upload-" + hashlib.sha256(offered).hexdigest()[:16]  # as serving.register_upload names it
    expect(page.locator("#cm-corpus input")).to_have_value(f"{name}-lstm (trained here)")
    assert service.serving.get_model(key) is not None
    (folder,) = [p.parent for p in Path(tempfile.gettempdir()).glob(f"charmodels-queue-*/*/{name}-lstm.safetensors")]

    page.context.close()  # the tab goes: Gradio's unload ends the session

    def gone() -> bool:
        try:
            service.serving.get_model(key)
        except CharmodelsError as error:
            return error.code == "upload_gone"
        return False

    wait_until(lambda: gone() and not folder.exists(), 30, "the session's model and files removed")


def test_typing_while_a_generation_streams_never_loses_a_request(page, server_url, open_app, upload, slow_model, client, top_char):
    """Issue 14, item 8: the page's typing (one next_chars per key) during a streamed generation,
    with nothing lost: every answer arrives (the bars end on the last prompt's distribution, the
    generation writes all it was asked), no error anywhere."""
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_app(page, server_url)
    upload(page, slow_model)
    expect(page.locator("#cm-corpus input")).to_have_value("slow-lstm (uploaded)")
    key = "upload-" + hashlib.sha256(Path(slow_model).read_bytes()).hexdigest()[:16]
    length = page.get_by_label("number input for Characters to write")
    continuation = page.locator("#cm-continuation textarea")
    for words in ("the quick brown fox jumps", "over the lazy dog, then runs"):
        length.fill("600")
        length.press("Tab")
        page.locator("#cm-generate").click()
        expect(continuation).not_to_have_value("")  # streaming has begun
        prompt = page.locator(PROMPT)
        prompt.click()
        prompt.press("Control+a")
        prompt.press("Delete")
        page.keyboard.type(words, delay=30)  # one change event per key, while the stream runs
        expect(page.locator(TOP)).to_have_text(top_char(client, key, words), timeout=30_000)
        expect(continuation).to_have_value(re.compile(r"^.{600}$", re.DOTALL), timeout=120_000)
    assert not errors, errors
    assert page.locator(".toast-body, [data-testid=toast-body]").count() == 0
    assert not page.get_by_text(re.compile(r"^(Error|Connection errored out\.?)$")).count()
