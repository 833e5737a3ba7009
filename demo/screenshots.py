"""Take the README's screenshots of the real app in a real headless Chromium.

    python demo/screenshots.py               # writes demo/screenshots/*.png (eleven of them)
    python demo/screenshots.py --out /tmp/s  # somewhere else

Launches demo/app.py on a free localhost port (as the tests do) and drives Debian's
Chromium (/usr/bin/chromium) with Playwright; no internet, no `playwright install`.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio imports huggingface_hub

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
WAIT = 30_000  # ms
TOP = "#cm-bars [data-testid=label-output-value]"
PROMPT = "#cm-prompt textarea"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch():
    import app

    app.demo.queue(default_concurrency_limit=4)
    _, url, _ = app.demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        **app.LAUNCH_OPTIONS,
    )
    return app.demo, url


def open_page(browser, url: str, locale: str, width: int, height: int):
    from playwright.sync_api import expect

    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    page.goto(url, wait_until="load")  # "networkidle" never fires on a Gradio page
    page.locator("#cm-bars").wait_for()
    expect(page.locator(PROMPT)).not_to_have_value("", timeout=WAIT)
    expect(page.locator(TOP)).not_to_have_text("", timeout=WAIT)
    return page


def set_number(page, label: str, value) -> None:
    box = page.get_by_label(label)
    box.fill(str(value))
    box.press("Tab")


def generate(page, characters: int) -> None:
    from playwright.sync_api import expect

    page.locator("#cm-generate").click()
    expect(page.locator("#cm-shaded .cm-char")).to_have_count(characters, timeout=WAIT)
    expect(page.locator("#cm-shaded .cm-selected")).to_have_count(1, timeout=WAIT)  # the inspector has run


def scroll_to(page, selector: str, margin: int = 12) -> None:
    page.evaluate(
        "([sel, m]) => window.scrollTo(0, document.querySelector(sel).getBoundingClientRect().top + window.scrollY - m)",
        [selector, margin],
    )
    page.wait_for_timeout(300)


def shoot(page, path: Path) -> None:
    page.mouse.move(0, 0)  # no hover highlight
    page.wait_for_timeout(400)  # let the last bars' transition finish
    page.screenshot(path=str(path))
    print(f"{path}  {path.stat().st_size / 1024:.0f} KB")


def shoot_part(page, path: Path, top: str, bottom: str, left: str | None = None, margin: int = 10) -> None:
    """A full-page screenshot clipped from the top of `top` to the bottom of `bottom` (and from the left of `left`)."""
    box = page.evaluate(
        """([top, bottom, left, m]) => {
          const r = s => document.querySelector(s).getBoundingClientRect();
          const y = r(top).top + window.scrollY - m, x = left ? Math.max(0, r(left).left + window.scrollX - m) : 0;
          return {x, y, width: document.documentElement.clientWidth - x, height: r(bottom).bottom + window.scrollY + m - y};
        }""",
        [top, bottom, left, margin],
    )
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True, clip=box)
    print(f"{path}  {path.stat().st_size / 1024:.0f} KB  ({box['width']:.0f}x{box['height']:.0f})")


def pick_text(page, name: str) -> None:
    from playwright.sync_api import expect

    page.locator("#cm-corpus input").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.locator("#cm-corpus input")).to_have_value(name, timeout=WAIT)


def predict(browser, url: str, out: Path) -> None:
    """An unsure model (Tiny Shakespeare) sampled at temperature 0.8: the bars, the shading and
    the step inspector show real uncertainty."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    pick_text(page, "Tiny Shakespeare (unsure)")
    expect(page.locator(PROMPT)).to_have_value("KING RICHARD III:\nNow is the winter of our ", timeout=WAIT)
    set_number(page, "number input for Characters to write", 120)
    set_number(page, "number input for Temperature (0 = greedy)", 0.8)
    set_number(page, "Seed (-1 = random)", 7)
    generate(page, 120)
    scroll_to(page, "[role=tablist]")
    shoot(page, out / "predict.png")
    page.context.close()


def compare(browser, url: str, out: Path) -> None:
    """The Goethe example through the three cells, and the far-word probe below it."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    page.get_by_role("tab", name="RNN vs LSTM vs GRU").click()
    page.locator("#cm-example").click()
    for cell in ("rnn", "lstm", "gru"):
        expect(page.locator(f"#cm-compare-{cell}-text textarea")).not_to_have_value("", timeout=WAIT)
    expect(page.locator("#cm-probe table tr")).to_have_count(7, timeout=WAIT)
    shoot_part(page, out / "compare.png", top="#cm-compare-title", bottom="#cm-probe", left="[role=tablist]")
    page.context.close()


def korean(browser, url: str, out: Path) -> None:
    """The course notes' Korean prose written back by the lecture model, in the Korean page."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "ko-KR", 1280, 800)
    pick_text(page, "강의 노트 (확신 없는 모델)")
    expect(page.locator(PROMPT)).to_have_value("LSTM은 ", timeout=WAIT)
    set_number(page, "number input for 생성할 문자 수", 120)
    set_number(page, "number input for 온도 (0 = 탐욕적)", 0.7)
    generate(page, 120)
    page.evaluate("window.scrollTo(0, 0)")  # the Korean title, labels, pickers and bars
    shoot(page, out / "korean.png")
    page.context.close()


def projector(browser, url: str, out: Path) -> None:
    """Projector mode at 1280x720: the first screen, as a class sees it."""
    from playwright.sync_api import expect

    page = open_page(browser, url + "?projector", "en-US", 1280, 720)
    page.locator(PROMPT).fill("Knowing is not enough; we must apply. Willing is not enough; we must ")
    expect(page.locator(TOP)).to_have_text("d", timeout=WAIT)
    page.locator(PROMPT).press("Enter")  # Enter generates
    expect(page.locator("#cm-continuation textarea")).not_to_have_value("", timeout=WAIT)
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, out / "projector.png")
    page.context.close()


def phone(browser, url: str, out: Path) -> None:
    """A phone (390x844): the prompt and the bars first."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "ko-KR", 390, 844)
    page.locator(PROMPT).fill("Knowing is not enough; we must apply. Willing is not enough; we must ")
    expect(page.locator(TOP)).to_have_text("d", timeout=WAIT)
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, out / "phone.png")
    page.context.close()


def card(browser, url: str, out: Path) -> None:
    """goethe-rnn's training replay at an early step: wrong characters, spaces as ␣, marked."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    page.locator("#cm-cell").get_by_text("RNN").click()
    page.get_by_role("tab", name="Model card").click()
    expect(page.locator("#cm-card")).to_contain_text("goethe-rnn", timeout=WAIT)
    set_number(page, "number input for Training step (recorded predictions)", 2)  # step 17: spaces everywhere
    expect(page.locator("#cm-snapshot .cm-ws").first).to_be_visible(timeout=WAIT)
    page.wait_for_timeout(800)  # the loss plot draws itself
    shoot_part(page, out / "card.png", top="#cm-card", bottom="#cm-snapshot", left="[role=tablist]")
    page.context.close()


GOETHE_LONG = "Knowing is not enough; we must apply. Willing is not enough; we must "


def inside(browser, url: str, out: Path) -> None:
    from playwright.sync_api import expect

    def which_offers(option: str) -> None:
        page.locator("#cm-which input").click()
        expect(page.get_by_role("option", name=option)).to_be_visible(timeout=WAIT)
        page.keyboard.press("Escape")

    page = open_page(browser, url, "en-US", 1280, 800)
    page.get_by_role("tab", name="Inside").click()
    # on load the Inside tab takes the page's prompt and the model's gates: wait, then ours
    expect(page.locator("#cm-inside-prompt textarea")).to_have_value(page.locator(PROMPT).input_value(), timeout=WAIT)
    which_offers("forget gate f")
    page.locator("#cm-inside-prompt textarea").fill(GOETHE_LONG)
    page.locator("#cm-inside").click()
    page.locator("#cm-heat table.cm-heat").wait_for()
    expect(page.locator("#cm-vectors .cm-vector")).to_have_count(6, timeout=WAIT)  # the LSTM's h, c, i, f, g, o
    expect(page.locator("#cm-saliency .cm-saliency")).to_have_count(3, timeout=WAIT)
    # the heatmap is wider than the page: show its end, where the outlined last step is
    page.evaluate("document.querySelector('#cm-heat .cm-heat-wrap').scrollLeft = 1e6")
    # the prompt, the heatmap, one step's vectors and the saliency of all three cells
    shoot_part(page, out / "inside.png", top="#cm-inside-prompt", bottom="#cm-saliency", left="[role=tablist]")
    page.context.close()


def explainer(browser, url: str, out: Path) -> None:
    """inside_card.png: hihello's hidden-2 RNN reading "hihell", every weight and every multiplication of
    the step that predicts the last letter; inside_diagram.png: goethe's LSTM at the second "we must ",
    its cell state along the top, on a projector (1280x720)."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    pick_text(page, "hihello")
    page.locator("#cm-cell").get_by_text("RNN", exact=True).click()
    expect(page.locator('#cm-size input[value="hihello-rnn-h2"]')).to_have_count(1, timeout=WAIT)
    page.locator("#cm-size").get_by_text("2", exact=True).click()
    page.get_by_role("tab", name="Inside").click()  # the page loaded long ago: its prompt is in the Inside tab
    page.locator("#cm-inside-prompt textarea").fill("hihell")
    expect(page.locator("#cm-explain-diagram svg")).to_have_attribute("data-t", "5", timeout=WAIT)
    expect(page.locator("#cm-explain-diagram svg")).to_have_attribute("data-cell", "rnn", timeout=WAIT)
    page.locator("#cm-explain-card .katex").first.wait_for()
    # the card scrolls beside the diagram: from its tables down to the unit's equations
    page.evaluate("""() => { const card = document.querySelector('#cm-explain-card');
      const unit = [...card.querySelectorAll('h4')][0];
      card.scrollTop = unit.getBoundingClientRect().top - card.getBoundingClientRect().top - 260; }""")
    shoot_part(page, out / "inside_card.png", top="#cm-step-row", bottom="#cm-explain", left="[role=tablist]")
    page.context.close()

    page = open_page(browser, url + "?projector", "en-US", 1280, 720)
    page.get_by_role("tab", name="Inside").click()
    # on load the Inside tab takes the page's prompt: wait for it, then type ours
    expect(page.locator("#cm-inside-prompt textarea")).to_have_value(page.locator(PROMPT).input_value(), timeout=WAIT)
    page.locator("#cm-inside-prompt textarea").fill(GOETHE_LONG)
    expect(page.locator("#cm-explain-diagram svg")).to_have_attribute("data-t", str(len(GOETHE_LONG) - 1), timeout=WAIT)
    scroll_to(page, "#cm-explain")
    shoot(page, out / "inside_diagram.png")
    page.context.close()


def train(browser, url: str, out: Path) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    page.get_by_role("tab", name="Train your own").click()
    page.locator("#cm-train-text textarea").fill("The quick brown fox jumps over the lazy dog.")
    page.locator("#cm-train").click()
    expect(page.locator("#cm-train-status")).to_contain_text("done", timeout=150_000)
    page.locator("#cm-train-download a[download]").wait_for()
    expect(page.locator("#cm-corpus input")).to_have_value("mytext-lstm (trained here)", timeout=WAIT)  # now the page's model
    page.locator("#cm-train-view .cm-snapshot").wait_for()
    shoot_part(page, out / "train.png", top="[role=tablist]", bottom="#cm-train-download")
    page.context.close()


def lab(browser, url: str, out: Path) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    page.get_by_role("tab", name="Memory lab").click()
    expect(page.locator("#cm-lab-plot .mark-line path")).to_have_count(3, timeout=WAIT)  # the plain recipe
    expect(page.locator("#cm-lab-table")).to_contain_text("L=80", timeout=WAIT)
    page.locator("#cm-lab-run").click()  # the defaults: RNN, L = 10, 600 steps, seed 0
    expect(page.locator("#cm-lab-result")).to_contain_text("accuracy", timeout=90_000)
    shoot_part(page, out / "lab.png", top="[role=tablist]", bottom="#cm-lab-result ~ *", left="[role=tablist]")
    page.context.close()


def lesson(browser, url: str, out: Path) -> None:
    """A guided lesson's card, opened by its link, in Korean on the projector."""
    from playwright.sync_api import expect

    page = open_page(browser, url + "?lesson=2&projector", "ko-KR", 1280, 720)
    expect(page.locator("#cm-lesson-card")).to_contain_text("2 /", timeout=WAIT)
    expect(page.locator(".cm-highlight").first).to_be_visible(timeout=WAIT)
    page.wait_for_timeout(800)
    shoot(page, out / "lesson_ko.png")
    page.context.close()


def through_time(browser, url: str, out: Path) -> None:
    """Surprise in a text with a typo: the model, a bigram and a unigram side by side."""
    from playwright.sync_api import expect

    page = open_page(browser, url, "en-US", 1280, 800)
    page.get_by_role("tab", name="Through time").click()
    page.locator("#cm-surprise-text textarea").fill("Knowing is not enoguh; we must apply.")
    page.locator("#cm-surprise-run").click()
    expect(page.locator("#cm-surprise .cm-tt-row")).to_have_count(3, timeout=WAIT)
    shoot_part(page, out / "through_time.png", top="[role=tablist]", bottom="#cm-surprise")
    page.context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "screenshots", help="folder for the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    demo, url = launch()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                for take in (predict, compare, korean, projector, phone, card, inside, explainer, train, lab, lesson, through_time):
                    take(browser, url, args.out)
            finally:
                browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
