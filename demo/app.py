"""charmodels: watch a character-level RNN, LSTM or GRU read and write.

    python demo/app.py          # opens the page in your browser

Layout and event wiring only: what happens on each event is in demo/handlers.py (which
asks demo/service.py), every word comes from demo/i18n.py (English and Korean), every
drawing from demo/views.py, the page's style and keys from demo/page.css and
demo/page.js. torch loads in the background after the page is served.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import math
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package and demo/, also on a Space

import gradio as gr

from charmodels.corpora import CORPORA
from charmodels.serving import MAX_UPLOAD_BYTES
from demo import gradio_settings
from demo import handlers as on
from demo.explainer import LATEX_DELIMITERS
from demo.i18n import UI, error_text, language, say
from demo.views import corpus_markdown

gradio_settings.apply()  # before the queue is made

HERE = Path(__file__).resolve().parent
CELL_CHOICES = [("RNN", "rnn"), ("LSTM", "lstm"), ("GRU", "gru")]
# Gradio's cache (uploads, offered downloads, a visitor's trained checkpoint): swept every ten
# minutes of what is older than an hour, and emptied when the server stops
DELETE_CACHE = (600, 3600)
CSS = (HERE / "page.css").read_text(encoding="utf-8")
# Projector mode by URL (?projector); Enter generates, Shift+Enter a newline, Escape stops
HEAD_JS = (HERE / "page.js").read_text(encoding="utf-8")
TOGGLE_PROJECTOR = "() => { document.body.classList.toggle('projector'); window.dispatchEvent(new Event('resize')); }"
BROWSER_LANGUAGE = "(lang) => [navigator.language || 'en']"
# A lesson card's element: outlined and scrolled to (demo/page.css: .cm-highlight)
HIGHLIGHT = """(id) => {
  document.querySelectorAll('.cm-highlight').forEach((e) => e.classList.remove('cm-highlight'));
  const el = id ? document.getElementById(id) : null;
  const card = document.getElementById('cm-lesson');
  if (card && id) card.classList.add('cm-lesson-on');
  if (el) { el.classList.add('cm-highlight'); el.scrollIntoView({block: 'start'}); }
}"""
# The copy-link query becomes the page's address (the browser's own address bar shows it too)
SHOW_LINK = "(q) => { window.history.replaceState(null, '', q || window.location.pathname); return window.location.href; }"

THEME = gr.themes.Default(
    primary_hue="blue",
    font=["Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", "Helvetica", "Arial", "sans-serif"],
    font_mono=["Noto Sans Mono CJK KR", "DejaVu Sans Mono", "Menlo", "Consolas", "monospace"],
)

i18n = gr.I18n(**UI)


# ---- the API: named endpoints, the same service the page uses (in English) ----
#
# next_chars and generate are also the MCP server's tools (`python demo/app.py --mcp`): their
# docstrings' Args and their type hints are the tools' schema.


def api_errors(fn):
    """A refused API request as gr.Error, said from the error's code (never str(error): no server path)."""

    def explain(error: Exception) -> gr.Error:
        return gr.Error(error_text("en", error), print_exception=False)

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def streaming_async(*args):
            try:
                async for item in fn(*args):
                    yield item
            except gr.Error:
                raise
            except Exception as error:  # every failure becomes a message; unexpected ones are logged by error_text
                raise explain(error) from error

        return streaming_async

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args):
            try:
                yield from fn(*args)
            except gr.Error:
                raise
            except Exception as error:  # every failure becomes a message; unexpected ones are logged by error_text
                raise explain(error) from error

        return streaming

    @functools.wraps(fn)
    def plain(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except Exception as error:
            raise explain(error) from error

    return plain


@api_errors
def next_chars(checkpoint: str, prompt: str) -> tuple[dict, str]:
    """The model's next-character distribution after a prompt: the ten most likely characters.

    Args:
        checkpoint: a shipped model, named <text>-<cell>, e.g. "goethe-lstm", "shakespeare-gru", "lecture_ko-rnn".
        prompt: the text the model reads first; characters it never saw are left out (the notes say which).

    Returns:
        {character: probability} for the ten most likely next characters, most likely first, and notes on how
        the prompt was read (an empty string when it was read as given).
    """
    pairs, notes = on.backend().next_chars(checkpoint, prompt)
    return dict(pairs), on.word_notes("en", notes, between="\n")


@api_errors
def generate(
    checkpoint: str,
    prompt: str,
    length: int = 200,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
) -> Iterator[tuple[str, dict]]:
    """Continue a prompt one character at a time, as the model writes it.

    Args:
        checkpoint: a shipped model, named <text>-<cell>, e.g. "goethe-lstm".
        prompt: the text the model reads first.
        length: characters to write, 0 to 2000.
        temperature: 0 takes the most likely character every time (greedy); up to 2, higher is more random.
        top_k: draw only from the k most likely characters (0: all).
        top_p: draw only from the most likely characters whose probabilities add up to p (1: all).
        seed: the random seed of the draws (-1: a new one each time).

    Returns:
        Streams (the text written so far, the step just written: its character, its probability and the top of
        the model's distribution and of the one drawn from); the last item holds the whole continuation.
    """
    service = on.backend()
    request = service.check_request(length, temperature, top_k, top_p, seed)
    _, _, steps = service.stream(checkpoint, prompt, request)
    text, record = "", None
    for step in steps:
        text += step.char
        record = service.step_record(step)
        yield text, record
    if record is None:  # length 0 writes nothing: still one answer
        yield text, record


@api_errors
async def train(text: str, cell: str = "lstm", hidden_size: int = 64, steps: int = 300, lines: bool = False,
                request: gr.Request = None) -> AsyncIterator[tuple[dict, str | None]]:
    """Train a model on your own text, in the same fair line as the page's Train tab (never refused).

    Args:
        text: the text to learn by heart (at most 50,000 characters).
        cell: "rnn", "lstm" or "gru".
        hidden_size: 8 to 256.
        steps: passes over the text, at most (1 to 3000); training ends earlier when the model recites the text.
        lines: the text is separate lines, each learned from a fresh state.

    Returns:
        Streams (status, None): the status's "state" (waiting, running, done, failed, left, expired), while
        waiting its "position" in line and "start_expected", "start_at_most", "end_expected", "end_at_most"
        (seconds from now), while running "step", "max_steps", "loss" and "prediction". The last item is
        (status, the .safetensors checkpoint): its status says "reason" (learned, all_steps: did not reach the
        quality bar within its steps and was saved as it is, by_request, time_up) and the model's "metrics".
    """
    service = on.backend()
    owner = on.session_of(request)
    ticket, _ = await asyncio.to_thread(service.start_training, owner, text, "mytext", cell, hidden_size, steps, lines)
    try:
        async for status in ticket.updates_async():
            record = on.train_record(status)
            yield record, str(status.result.path) if status.state == "done" else None
    finally:
        ticket.leave()  # the checkpoint was handed over (Gradio keeps its own copy): its folder goes


async def keep_session_open() -> AsyncIterator[None]:
    """Pending while the page is open, so that the server never closes the page's event stream.

    Gradio 6.31 closes a session's stream whenever its last pending event completes; a request
    the page sends at that moment is registered by the client against the closing stream and
    its answer is never read (the page or gradio_client sees CancelledError, the server logs
    nothing). With this event pending the stream stays open; Gradio cancels it when the page
    goes. A script with many concurrent requests can submit it too (/keep_session_open).
    """
    while True:
        await asyncio.sleep(3600)
        yield None


# ---- the page's events: named updates, and a refusal said where it belongs ----


class Wiring:
    """Wires demo/handlers.py's functions to components by name.

    A handler answers with named updates; those it leaves out stay as they are. A handler
    that raises never reaches Gradio (whose error badges cover the components an event
    updates, pickers included): its problem is said in the page's language in the event's
    `notice` component (beside what it concerns) or else in the page's one banner, which
    takes its own line and hides nothing. An action that succeeds clears the banner: the first
    event of a chain (never what follows it with .then, such as the page's loading), and only if
    it began after the banner was shown (an event already under way says nothing about the
    action that was refused).
    """

    def __init__(self, components: dict, banner: gr.Markdown, lang: gr.Textbox):
        self.components, self.banner, self.lang = components, banner, lang
        self.shown: dict[str, float] = {}  # session -> when its banner was shown (only while it is)

    def forget(self, session: str) -> None:
        self.shown.pop(session, None)

    def clears_banner(self, session: str, started: float) -> bool:
        """Whether an event of `session` that began at `started` may clear its banner (and so forget it)."""
        if started < self.shown.get(session, -math.inf):
            return False
        self.shown.pop(session, None)
        return True

    def __call__(self, triggers, fn, inputs: list, outputs: list[str], notice: str | None = None,
                 emptied: str | None = None, **kwargs):
        """`triggers`: a list of events (`button.click`, ...), or an event to follow (its `.then`).
        `emptied`: an output emptied when the handler fails (a refused upload leaves the box free)."""
        clears = not isinstance(triggers, gr.events.Dependency)  # a follow-up leaves the banner to its chain's head
        targets = [self.components[name] for name in outputs]
        lang_at = inputs.index(self.lang) if self.lang in inputs else None
        banner, components = self.banner, self.components
        cleared = gr.Markdown(value="", visible=False)

        def named(updates: dict, first: bool, session: str, started: float) -> dict:
            answer = {components[name]: value for name, value in updates.items()}
            if first and clears and self.clears_banner(session, started):
                answer[banner] = cleared
            return answer or {banner: gr.skip()}  # Gradio takes an empty dict for one value, not for no update

        def refused(error: Exception, args: tuple, session: str, started: float) -> dict:
            said = error_text(args[lang_at] if lang_at is not None else "en", error)
            answer = {components[emptied]: None} if emptied is not None else {}
            if notice is not None:
                answer[components[notice]] = f"⚠️ {said}"
                return {**answer, banner: cleared} if clears and self.clears_banner(session, started) else answer
            self.shown[session] = time.monotonic()
            return {**answer, banner: gr.Markdown(value=f"⚠️ {said}", visible=True)}

        # a handler with a `request` parameter is told the page's session (Gradio fills the first parameter)
        wants_request = "request" in inspect.signature(fn).parameters

        def call(request, args):
            return fn(*args, request=request) if wants_request else fn(*args)

        if inspect.isasyncgenfunction(fn):  # waits (in the training line) without holding a server thread

            async def run(request: gr.Request, *args):
                first, session, started = True, request.session_hash, time.monotonic()
                try:
                    async for updates in call(request, args):
                        yield named(updates, first, session, started)
                        first = False
                except Exception as error:  # noqa: BLE001 (said in the page; unexpected ones logged by error_text)
                    yield refused(error, args, session, started)
        elif inspect.isgeneratorfunction(fn):

            def run(request: gr.Request, *args):
                first, session, started = True, request.session_hash, time.monotonic()
                try:
                    for updates in call(request, args):
                        yield named(updates, first, session, started)
                        first = False
                except Exception as error:  # noqa: BLE001 (said in the page; unexpected ones logged by error_text)
                    yield refused(error, args, session, started)
        else:

            def run(request: gr.Request, *args):
                session, started = request.session_hash, time.monotonic()
                try:
                    return named(call(request, args), True, session, started)
                except Exception as error:  # noqa: BLE001
                    return refused(error, args, session, started)

        kwargs.setdefault("show_progress", "hidden")
        kwargs.setdefault("api_visibility", "private")
        extra = [self.components[notice]] if notice is not None and notice not in outputs else []
        if isinstance(triggers, gr.events.Dependency):
            return triggers.then(run, inputs, [*targets, *extra, banner], **kwargs)
        return gr.on(triggers, run, inputs, [*targets, *extra, banner], **kwargs)


def text_row(name: str, lines: int = 3, **kwargs) -> gr.Textbox:
    return gr.Textbox(show_label=False, lines=lines, interactive=False, elem_id=name, **kwargs)


# ---- layout ----

with gr.Blocks(title="charmodels", delete_cache=DELETE_CACHE) as demo:
    lang = gr.Textbox(value="en", visible=False)
    checkpoint = gr.Textbox(value=on.FIRST_CHECKPOINT, visible=False)
    run = gr.State(None)  # this session's last generation, for the step inspector
    own = gr.State([])  # the page's own models (uploaded or trained): [label, key] for the text picker
    inside_drawn = gr.State(False)  # the inside views have been drawn: redraw them for a new model
    # links and the guided lesson (demo/urlstate.py, demo/lessons.py)
    pending_step = gr.State(None)  # a link's or card's Inside step, applied after the Inside views follow its prompt
    current_tab = gr.State("predict")  # the tab shown, for the copy-link button
    trained = gr.State(None)  # the model a training ended with, to be used by the page

    with gr.Row(elem_id="cm-header", equal_height=True):
        gr.Markdown(i18n("title"), elem_id="cm-title")
        projector = gr.Button(i18n("projector"), variant="secondary", size="sm", scale=0, min_width=150, elem_id="cm-projector")
    gr.Markdown(i18n("intro"), elem_id="cm-intro")
    with gr.Row(elem_id="cm-models"):
        with gr.Row(elem_id="cm-pickers", scale=4):
            corpus = gr.Dropdown(
                choices=list(CORPORA), value=on.FIRST_TEXT, label=i18n("corpus"), elem_id="cm-corpus", scale=1, min_width=150
            )
            cell = gr.Radio(choices=CELL_CHOICES, value=on.FIRST_CELL, label=i18n("cell"), elem_id="cm-cell", scale=1, min_width=200)
            # tiny versions of hihello and seoul (every weight visible): a size, not 18 more texts
            size = gr.Radio(choices=[], label=i18n("size"), visible=False, elem_id="cm-size", scale=1, min_width=200)
        with gr.Column(scale=3, min_width=200, elem_id="cm-more"):
            # two by two, so the column is no taller than the pickers beside it: on a projector the first
            # screen keeps its room for the prompt and the bars
            with gr.Row(equal_height=True):
                with gr.Column(min_width=200):
                    with gr.Accordion(i18n("about_title"), open=False, elem_id="cm-about-box"):
                        first = CORPORA[on.FIRST_TEXT]
                        about = gr.Markdown(corpus_markdown(first.text, first.source), elem_id="cm-about")
                with gr.Column(min_width=200):
                    with gr.Accordion(i18n("upload_title"), open=False, elem_id="cm-upload-box"):
                        upload = gr.File(label=i18n("upload"), file_types=[".safetensors"], type="filepath", height=110,
                                         elem_id="cm-upload")
            with gr.Row(elem_id="cm-lesson-row", equal_height=True):
                with gr.Column(scale=3, min_width=160):
                    with gr.Accordion(i18n("lesson_title"), open=False, elem_id="cm-lesson") as lesson_box:
                        with gr.Row(elem_id="cm-lesson-controls", equal_height=True):
                            lesson_prev = gr.Button(i18n("lesson_prev"), size="sm", scale=0, min_width=170, elem_id="cm-lesson-prev")
                            lesson_pick = gr.Dropdown(choices=[], value=None, label=i18n("lesson_pick"), scale=3, elem_id="cm-lesson-pick")
                            lesson_next = gr.Button(i18n("lesson_next"), size="sm", scale=0, min_width=170, elem_id="cm-lesson-next")
                        lesson_card = gr.Markdown(elem_id="cm-lesson-card")
                copy_link = gr.Button(i18n("copy_link"), size="sm", scale=0, min_width=170, elem_id="cm-copy-link")
    banner = gr.Markdown(visible=False, elem_id="cm-message")
    with gr.Row(elem_id="cm-link-row", equal_height=True):  # shown only with a link's notes or a link to copy
        link_notes = gr.Markdown(visible=False, elem_id="cm-link-notes")
        link_box = gr.Textbox(show_label=False, interactive=False, buttons=["copy"], visible=False, scale=3, elem_id="cm-link")
    link_query = gr.Textbox(visible=False)  # the copy-link query, turned into the page's address by a js step
    highlight_id = gr.Textbox(visible=False)  # the element a lesson card highlights

    with gr.Tabs(elem_id="cm-tabs") as tabs:
        with gr.Tab(i18n("tab_predict"), id="predict") as predict_tab:
            with gr.Row(elem_id="cm-predict"):
                with gr.Column(scale=3, elem_id="cm-predict-main"):
                    prompt = gr.Textbox(label=i18n("prompt"), lines=2, max_lines=6, elem_id="cm-prompt")
                    notes = gr.Markdown(elem_id="cm-notes")
                    with gr.Row(elem_id="cm-actions"):
                        generate_button = gr.Button(i18n("generate"), variant="primary", elem_id="cm-generate")
                        stop_button = gr.Button(i18n("stop"), variant="stop", elem_id="cm-stop")
                    continuation = gr.Textbox(
                        label=i18n("continuation"), lines=3, max_lines=8, interactive=False, buttons=["copy"], elem_id="cm-continuation"
                    )
                bars = gr.Label(label=i18n("next"), num_top_classes=10, elem_id="cm-bars", scale=2, min_width=200)
            with gr.Row(elem_id="cm-settings"):
                length = gr.Slider(1, 2000, value=71, step=1, label=i18n("length"), elem_id="cm-length")
                temperature = gr.Slider(0, 2, value=0, step=0.05, label=i18n("temperature"), elem_id="cm-temperature")
                top_k = gr.Slider(0, 50, value=0, step=1, label=i18n("top_k"))
                top_p = gr.Slider(0.05, 1, value=1, step=0.05, label=i18n("top_p"))
                seed = gr.Number(value=0, precision=0, label=i18n("seed"), minimum=-1, min_width=120)
            with gr.Row(elem_id="cm-unsure", visible=False) as unsure_row:
                gr.Markdown(i18n("unsure_hint"), elem_id="cm-unsure-hint")
                unsure_buttons = {
                    key: gr.Button(i18n(f"text_{key}"), size="sm", scale=0, min_width=200, elem_id=f"cm-use-{key}")
                    for key in ("shakespeare", "lecture_ko")
                }
            gr.Markdown(i18n("shaded"))
            shaded = gr.HTML(elem_id="cm-shaded")
            step = gr.Slider(1, 2, value=1, step=1, label=i18n("step"), interactive=False, elem_id="cm-step")
            inspect_notes = gr.Markdown(elem_id="cm-inspect-notes")
            with gr.Row():
                model_dist = gr.Label(label=i18n("model_dist"), num_top_classes=10)
                drawn_dist = gr.Label(label=i18n("drawn_dist"), num_top_classes=10)

        with gr.Tab(i18n("tab_compare"), id="compare") as compare_tab:
            compare_title = gr.Markdown(elem_id="cm-compare-title")
            with gr.Row():
                compare_prompt = gr.Textbox(label=i18n("prompt"), lines=2, max_lines=4, scale=3, elem_id="cm-compare-prompt")
                compare_length = gr.Slider(1, 300, value=60, step=1, label=i18n("length"), scale=2, min_width=240)
            with gr.Row():
                compare_button = gr.Button(i18n("compare"), variant="primary", elem_id="cm-compare")
                example = gr.Button(i18n("example"), elem_id="cm-example")
            compared = {}
            with gr.Row(elem_id="cm-compared"):
                for name, value in CELL_CHOICES:
                    with gr.Column(min_width=200):
                        gr.Markdown(f"### {name}")
                        compared[f"compare_{value}_bars"] = gr.Label(num_top_classes=5, show_label=False, elem_id=f"cm-compare-{value}-bars")
                        compared[f"compare_{value}_text"] = text_row(f"cm-compare-{value}-text")
            gr.Markdown(i18n("probe_title"))
            gr.Markdown(i18n("probe_intro"), elem_id="cm-probe-intro")
            probe_table = gr.HTML(elem_id="cm-probe")
            gr.Markdown(i18n("compare_intro"), elem_id="cm-compare-intro")

        with gr.Tab(i18n("tab_inside"), id="inside") as inside_tab:
            gr.Markdown(i18n("inside_intro"), elem_id="cm-inside-intro")
            with gr.Row():
                inside_prompt = gr.Textbox(label=i18n("prompt"), lines=2, max_lines=4, scale=3, elem_id="cm-inside-prompt")
                with gr.Column(scale=1, min_width=200):
                    which = gr.Dropdown(choices=[("h", "h")], value="h", label=i18n("state_pick"), elem_id="cm-which")
                    layer = gr.Slider(1, 2, value=1, step=1, label=i18n("layer"), interactive=False, visible=False)
                    inside_button = gr.Button(i18n("inside_button"), variant="primary", elem_id="cm-inside")
            inside_title = gr.Markdown()
            heat = gr.HTML(elem_id="cm-heat")
            with gr.Row(elem_id="cm-step-row", equal_height=True):
                step_prev = gr.Button("◀", size="sm", scale=0, min_width=64, elem_id="cm-step-prev")
                inside_step = gr.Slider(1, 2, value=1, step=1, label=i18n("inside_step"), elem_id="cm-inside-step", scale=8)
                step_next = gr.Button("▶", size="sm", scale=0, min_width=64, elem_id="cm-step-next")
                step_play = gr.Button("⏯", size="sm", scale=0, min_width=64, elem_id="cm-step-play")
            gr.Markdown(i18n("explain_title"), elem_id="cm-explain-title")
            with gr.Row(elem_id="cm-explain-head"):
                gr.Markdown(i18n("explain_intro"), elem_id="cm-explain-intro")
                # custom values allowed: an event sent while the model changes may still carry the old model's
                # units, which Gradio would refuse before any handler runs; handlers.picked_units drops them
                units = gr.Dropdown(choices=[], value=[], multiselect=True, max_choices=on.MAX_UNITS_PICKED,
                                    allow_custom_value=True, label=i18n("units"), elem_id="cm-units")
            with gr.Row(elem_id="cm-explain"):
                with gr.Column(scale=1, min_width=320):
                    explain_input = gr.HTML(elem_id="cm-explain-input")
                    explain_diagram = gr.HTML(elem_id="cm-explain-diagram")
                with gr.Column(scale=1, min_width=320):
                    explain_card = gr.Markdown(latex_delimiters=LATEX_DELIMITERS, elem_id="cm-explain-card")
            vectors = gr.HTML(elem_id="cm-vectors")
            gr.Markdown(i18n("saliency_title"))
            gr.Markdown(i18n("saliency_intro"))
            saliency_view = gr.HTML(elem_id="cm-saliency")
            gr.Markdown(i18n("flow_title"))
            flow_button = gr.Button(i18n("flow_button"), elem_id="cm-flow-run")
            flow_view = gr.HTML(elem_id="cm-flow")

        with gr.Tab(i18n("tab_train"), id="train") as train_tab:
            gr.Markdown(i18n("train_intro"), elem_id="cm-train-intro")
            with gr.Row():
                with gr.Column(scale=3):
                    train_text = gr.Textbox(label=i18n("train_text"), lines=4, max_lines=12, elem_id="cm-train-text")
                    with gr.Row():
                        train_button = gr.Button(i18n("train"), variant="primary", elem_id="cm-train")
                        train_stop = gr.Button(i18n("stop"), variant="stop", elem_id="cm-train-stop")
                with gr.Column(scale=2, min_width=240):
                    train_cell = gr.Radio(choices=CELL_CHOICES, value="lstm", label=i18n("cell"), elem_id="cm-train-cell")
                    train_steps = gr.Slider(10, 3000, value=300, step=10, label=i18n("train_steps"))
                    hidden_size = gr.Slider(8, 256, value=64, step=8, label=i18n("hidden_size"))
            with gr.Row():
                train_file = gr.File(label=i18n("train_file"), file_types=[".txt"], type="filepath", height=100, scale=3)
                with gr.Column(scale=2, min_width=240):
                    train_name = gr.Textbox(value="mytext", label=i18n("train_name"), max_lines=1)
                    train_lines = gr.Checkbox(value=False, label=i18n("train_lines"))
            train_status = gr.Markdown(elem_id="cm-train-status")
            train_loss = gr.LinePlot(x="step", y="loss", label=i18n("loss"), height=260, elem_id="cm-train-loss")
            train_view = gr.HTML(elem_id="cm-train-view")
            train_download = gr.File(label=i18n("train_download"), interactive=False, elem_id="cm-train-download")

        with gr.Tab(i18n("tab_lab"), id="lab") as lab_tab:
            # the plot and the runs side by side: a run picked, its curves change in the same screen
            with gr.Row():
                with gr.Column(scale=3):
                    gr.Markdown(on.CELL_LEGEND, elem_id="cm-lab-legend")  # Vega's legend, under the plot, was cut off
                    lab_plot = gr.LinePlot(
                        x="gap", y="accuracy", color="cell", label=i18n("lab_accuracy"), height=360, y_lim=[0.4, 1.02],
                        color_map=on.CELL_COLORS, colors_in_legend=[], elem_id="cm-lab-plot",
                    )
                lab_grid = gr.Radio(
                    choices=[(say("en", f"lab_note_{name}"), name) for name in on.LAB_GRIDS], value="main",
                    label=i18n("lab_grid"), elem_id="cm-lab-grid", scale=2,
                )
            lab_table = gr.Markdown(elem_id="cm-lab-table")
            gr.Markdown(i18n("lab_intro"), elem_id="cm-lab-intro")
            # why the curves fall: the gradient that reaches the first letter (charmodels.labflow, shipped)
            gr.Markdown(i18n("lab_flow_title"))
            gr.Markdown(i18n("lab_flow_intro"))
            lab_flow_gap = gr.Radio(choices=[(f"L = {gap}", gap) for gap in on.LAB_FLOW_GAPS], value=on.LAB_FLOW_GAPS[-1],
                                    label=i18n("lab_flow_gap"), elem_id="cm-lab-flow-gap")
            lab_flow = gr.HTML(elem_id="cm-lab-flow")
            gr.Markdown(i18n("lab_live"))
            with gr.Row():
                lab_cell = gr.Radio(choices=CELL_CHOICES, value="rnn", label=i18n("cell"), elem_id="cm-lab-cell")
                lab_gap = gr.Slider(1, 80, value=10, step=1, label=i18n("lab_gap"))
                lab_steps = gr.Slider(50, 2000, value=600, step=50, label=i18n("lab_steps"))
                lab_seed = gr.Number(value=0, precision=0, minimum=0, label=i18n("lab_seed"))
            with gr.Row():
                lab_forget = gr.Checkbox(value=False, label=i18n("lab_forget"), visible=False, elem_id="cm-lab-forget")
                lab_curriculum = gr.Checkbox(value=False, label=i18n("lab_curriculum"))
                lab_button = gr.Button(i18n("lab_run"), variant="primary", elem_id="cm-lab-run")
                lab_stop = gr.Button(i18n("stop"), variant="stop", elem_id="cm-lab-stop")
            lab_result = gr.Markdown(elem_id="cm-lab-result")
            lab_loss = gr.LinePlot(x="step", y="loss", label=i18n("loss"), height=260, elem_id="cm-lab-loss")

        with gr.Tab(i18n("tab_card"), id="card") as card_tab:
            card = gr.Markdown(elem_id="cm-card")
            loss_plot = gr.LinePlot(x="step", y="loss", color="attempt", label=i18n("loss_by_attempt"), height=260,
                                    colors_in_legend=[], elem_id="cm-loss-plot")
            snapshot = gr.Slider(1, 2, value=1, step=1, label=i18n("snapshot"), elem_id="cm-snapshot-step")
            gr.Markdown(i18n("prediction"))
            prediction = gr.HTML(elem_id="cm-snapshot")

        with gr.Tab(i18n("tab_time"), id="time") as time_tab:
            gr.Markdown(i18n("surprise_title"))
            with gr.Row(equal_height=True):
                surprise_text = gr.Textbox(label=i18n("surprise_text"), lines=2, max_lines=6, scale=4, elem_id="cm-surprise-text")
                surprise_button = gr.Button(i18n("surprise_button"), variant="primary", scale=1, elem_id="cm-surprise-run")
            surprise_view = gr.HTML(elem_id="cm-surprise")
            gr.Markdown(i18n("recital_title"))
            recital_button = gr.Button(i18n("recital_button"), elem_id="cm-recital-run")
            recital_view = gr.HTML(elem_id="cm-recital")
            gr.Markdown(i18n("course_title"))
            with gr.Row(equal_height=True):
                course_text = gr.Textbox(label=i18n("course_text"), lines=3, max_lines=8, scale=4, elem_id="cm-course-text")
                course_cell = gr.Radio(choices=CELL_CHOICES, value="lstm", label=i18n("cell"), scale=1, elem_id="cm-course-cell")
            with gr.Row():
                course_button = gr.Button(i18n("course_button"), variant="primary", elem_id="cm-course-run")
                course_stop = gr.Button(i18n("stop"), variant="stop", elem_id="cm-course-stop")
            course_status = gr.Markdown(elem_id="cm-course-status")
            course_view = gr.HTML(elem_id="cm-course")

    tabs_by_id = {"predict": predict_tab, "compare": compare_tab, "inside": inside_tab, "train": train_tab,
                  "lab": lab_tab, "card": card_tab, "time": time_tab}
    # ---- wiring ----
    components = {
        name: value for name, value in dict(locals()).items() if isinstance(value, (gr.components.Component, gr.Row))
    }
    components.update(compared)
    components.update({"tabs": tabs, "lesson_box": lesson_box})  # layouts a link or a card opens
    wire = Wiring(components, banner, lang)
    model_views = [
        "checkpoint", "corpus", "cell", "about", "prompt", "length", "bars", "notes", "continuation", "shaded", "run",
        "step", "inspect_notes", "model_dist", "drawn_dist", "unsure_row", "card", "loss_plot", "snapshot", "prediction",
        "compare_title", *compared,
    ]
    generation_views = ["continuation", "shaded", "run", "step", "notes", "inspect_notes", "model_dist", "drawn_dist"]
    inspector_views = ["model_dist", "drawn_dist", "inspect_notes", "shaded"]
    explain_views = ["explain_card", "explain_diagram", "explain_input", "units"]
    # the Inside tab live: heatmap, vectors and the explainer of one step (the saliency only when asked)
    live_views = ["inside_title", "heat", "inside_step", "vectors", *explain_views]
    sampling = [temperature, top_k, top_p]
    # what a link or a lesson card sets (handlers.view_updates, lesson_views)
    lesson_views = [*model_views, "inside_prompt", "compare_prompt", "surprise_text", "temperature", "top_k", "top_p", "seed",
                    "tabs", "current_tab", "pending_step", "lesson_card", "lesson_pick", "lesson_box", "highlight_id", "units"]

    # Enter (page.js) and the button start one event; the inspector follows it
    generating = wire(
        [generate_button.click, prompt.submit], on.on_generate,
        [checkpoint, prompt, length, temperature, top_k, top_p, seed, lang], generation_views, notice="notes",
        concurrency_limit=4, concurrency_id="generate", show_progress="minimal", show_progress_on=[continuation],
    )
    wire(generating, on.on_inspect, [run, step, lang], inspector_views)
    # Stop and another model end it from inside (handlers.Runs), never by Gradio's cancel
    wire([stop_button.click], on.on_stop, [], [], concurrency_limit=None)

    # first the browser's language (for what the server writes), then the first model
    loading = demo.load(language, [lang], [lang], js=BROWSER_LANGUAGE, api_visibility="private")
    # the plots' axis names in that language, before any points (handlers.plot_titles says why)
    loading = wire(loading, on.plot_titles, [lang], list(on.PLOT_AXES))
    loading = wire(loading, on.on_load, [lang], [*model_views, "lab_grid"])
    # the Inside and Compare tabs start from the page's prompt, unless a visitor already typed there
    # while the page loaded (then keep what is typed there)
    loading = loading.then(lambda text, *typed: tuple(mine or text for mine in typed),
                           [prompt, inside_prompt, compare_prompt], [inside_prompt, compare_prompt], api_visibility="private")
    loading = wire(loading, on.on_lab_grid, [lab_grid, lang], ["lab_plot", "lab_table"])
    loading = wire(loading, on.on_lab_flow, [lab_flow_gap, lang], ["lab_flow"])
    # checkpoint.change does not fire for the value the page starts with: the inside pickers are filled here too
    wire(loading, on.on_model_inside, [checkpoint, lang], ["which", "layer"])
    # a link's view (?text=...&lesson=3), after the first model and the copied prompts
    linked = wire(loading, on.on_link, [lang, own, checkpoint, inside_prompt], [*lesson_views, "link_notes"])
    linked.then(None, [highlight_id], None, js=HIGHLIGHT, api_visibility="private")

    # another model ends a running generation and clears it (the handlers do both)
    switching = {"trigger_mode": "always_last"}
    wire([corpus.change], on.on_text, [corpus, cell, checkpoint, own, lang], model_views, **switching)
    wire([cell.input], on.on_cell, [corpus, cell, prompt, own, lang], model_views, **switching)
    wire([upload.upload], on.on_upload, [upload, own, lang], [*model_views, "own", "upload"], emptied="upload", **switching)
    for key, button in unsure_buttons.items():
        wire([button.click], functools.partial(on.on_unsure, key), [own, lang], model_views, **switching)
    new_model = wire([checkpoint.change], on.on_new_model_inside, [checkpoint, inside_prompt, inside_drawn, lang],
                     ["which", "layer", *live_views])
    wire(new_model, on.on_saliency_drawn, [checkpoint, inside_prompt, inside_drawn, lang], ["saliency_view"])
    wire([size.input], on.on_size, [size, prompt, own, lang], model_views, **switching)
    wire([checkpoint.change], on.size_view, [checkpoint], ["size"])  # shown for hihello and seoul

    # .change, not .input: in Gradio 6.31 a Textbox's .input fires only for typed characters, not for
    # Backspace, Delete or paste, which left the bars showing an older prompt's distribution
    wire([prompt.change], on.on_prompt, [checkpoint, prompt, lang], ["bars", "notes"], notice="notes", trigger_mode="always_last")
    wire([step.input], on.on_inspect, [run, step, lang], inspector_views)

    wire([compare_button.click, compare_prompt.submit], on.on_compare, [checkpoint, compare_prompt, compare_length, lang],
         ["compare_title", *compared], notice="compare_title", show_progress="minimal", show_progress_on=list(compared.values()))
    wire([example.click], on.on_example, [cell, compare_length, own, lang], [*model_views, "compare_prompt"],
         notice="compare_title", **switching)
    wire([compare_tab.select], on.on_probe, [lang], ["probe_table"])

    # Inside follows its prompt as it is typed: its own event, so the bars (prompt.change) never wait for it
    live_inputs = [checkpoint, inside_prompt, which, layer, units, *sampling, lang]
    following = wire([inside_prompt.change], on.on_inside_live, live_inputs, live_views, notice="inside_title", trigger_mode="always_last")
    # the button (and Enter) ask for the saliency too: a third of a second, never per keystroke
    asked = wire([inside_button.click, inside_prompt.submit], on.on_inside_live, live_inputs, live_views,
                 notice="inside_title", show_progress="minimal", show_progress_on=[heat])
    wire(asked, on.on_inside_drawn, [checkpoint, inside_prompt, lang], ["saliency_view", "inside_drawn"],
         notice="inside_title", show_progress="minimal", show_progress_on=[saliency_view])
    # one step control (the slider, ◀ ▶) drives the heatmap's column, the vectors, the card and the diagram
    step_inputs = [checkpoint, inside_prompt, which, layer, inside_step, units, *sampling, lang]
    wire([which.input, layer.input, inside_step.release], on.on_inside_step, step_inputs, live_views,
         notice="inside_title", trigger_mode="always_last")
    for button, delta in ((step_prev, -1), (step_next, +1)):
        wire([button.click], functools.partial(on.on_inside_move, delta), step_inputs, live_views,
             notice="inside_title", trigger_mode="always_last")
    # ⏯ plays the prompt a character a second (page.js clicks ▶ until the last, or until ⏯ again)
    wire([step_play.click], on.on_inside_play, step_inputs, live_views, notice="inside_title", trigger_mode="always_last")
    wire([units.input], on.explain_views, [checkpoint, inside_prompt, inside_step, units, layer, *sampling, lang],
         explain_views, notice="inside_title", trigger_mode="always_last")

    wire([train_file.upload], on.read_text_upload, [train_file, lang], ["train_text"], notice="train_status")
    # Trainings wait in charmodels' one fair line, which shows each visitor their place and times:
    # no Gradio limit in front of it (whose waiting shows neither). Another click with other
    # settings replaces the page's request in its place; the same one again is the same request.
    in_line = {"concurrency_limit": None, "trigger_mode": "multiple"}
    training = wire(
        [train_button.click], on.on_train,
        [train_text, train_name, train_cell, hidden_size, train_steps, train_lines, lang],
        ["trained", "train_status", "train_loss", "train_view", "train_download"], notice="train_status", **in_line,
    )
    wire(training, on.on_adopt, [trained, own, lang], [*model_views, "own"])
    # Stop ends the training with its model so far (saved, offered and used), or leaves the line
    wire([train_stop.click], on.on_stop_training, [], [], concurrency_limit=None)

    wire([lab_grid.change], on.on_lab_grid, [lab_grid, lang], ["lab_plot", "lab_table"])
    wire([lab_flow_gap.change], on.on_lab_flow, [lab_flow_gap, lang], ["lab_flow"])
    wire([lab_cell.change], on.on_lab_cell, [lab_cell], ["lab_forget"])
    wire(
        [lab_button.click], on.on_lab_run, [lab_cell, lab_gap, lab_steps, lab_seed, lab_forget, lab_curriculum, lang],
        ["lab_loss", "lab_result"], notice="lab_result", **in_line,
    )
    # Stop asks the run to end: the model so far is measured and said (no cancel: see handlers.Runs)
    wire([lab_stop.click], on.on_lab_stop, [], [], concurrency_limit=None)

    wire([snapshot.input], lambda *args: {"prediction": on.snapshot_text(*args)}, [checkpoint, snapshot, lang], ["prediction"])
    projector.click(None, js=TOGGLE_PROJECTOR)

    # ---- through time (issue 13) ----
    wire([surprise_button.click, surprise_text.submit], on.on_surprise, [checkpoint, surprise_text, lang], ["surprise_view"],
         notice="surprise_view", show_progress="minimal", show_progress_on=[surprise_view])
    wire([recital_button.click], on.on_recital, [checkpoint, prompt, length, temperature, seed, lang], ["recital_view"],
         notice="recital_view", concurrency_limit=4, concurrency_id="generate", show_progress="minimal",
         show_progress_on=[recital_view])
    wire([flow_button.click], on.on_flow, [checkpoint, inside_prompt, inside_step, lang], ["flow_view"],
         notice="flow_view", show_progress="minimal", show_progress_on=[flow_view])
    wire([course_button.click], on.on_course, [course_text, course_cell, lang], ["course_status", "course_view"],
         notice="course_status", **in_line)
    wire([course_stop.click], on.on_course_stop, [], [], concurrency_limit=None)

    # ---- links and the guided lesson ----
    # a card's or link's Inside step, once the Inside views have followed its prompt (its .change)
    step_after = [checkpoint, inside_prompt, pending_step, *sampling, lang]
    for inside_event in (following, new_model):
        wire(inside_event, on.on_pending_step, step_after, [*live_views, "pending_step"], notice="inside_title")
    lesson_inputs = [lesson_pick, own, checkpoint, inside_prompt, lang]
    shown = wire([lesson_pick.input], on.on_lesson, lesson_inputs, lesson_views, **switching)
    moves = [wire([button.click], functools.partial(on.on_lesson_move, delta), lesson_inputs, lesson_views, **switching)
             for button, delta in ((lesson_prev, -1), (lesson_next, +1))]
    for event in (shown, *moves):
        event.then(None, [highlight_id], None, js=HIGHLIGHT, api_visibility="private")
    for tab_id, tab in tabs_by_id.items():
        tab.select(lambda tab_id=tab_id: tab_id, None, current_tab, api_visibility="private")
    copying = wire([copy_link.click], on.on_copy_link,
                   [checkpoint, prompt, inside_prompt, current_tab, inside_step, temperature, top_k, top_p, seed,
                    lesson_pick, lang], ["link_query", "link_box"])
    copying.then(None, [link_query], [link_box], js=SHOW_LINK, api_visibility="private")

    # The page's session ends (tab closed): its trainings, their files, its own models and its banner go
    def ended(request: gr.Request) -> None:
        wire.forget(request.session_hash)
        on.on_unload(request)

    demo.unload(ended)
    # One event per page pending while the page is open (see keep_session_open)
    demo.load(keep_session_open, None, None, api_name="keep_session_open", api_visibility="undocumented",
              concurrency_limit=None, show_progress="hidden")

    gr.api(next_chars, api_name="next_chars", concurrency_limit=8, concurrency_id="predict")
    gr.api(generate, api_name="generate", concurrency_limit=4, concurrency_id="generate")
    # /train returns a file: typed by hidden components (gr.api's outputs are not moved into Gradio's file cache)
    with gr.Group(visible=False):
        api_train_inputs = [gr.Textbox(), gr.Textbox(value="lstm"), gr.Number(value=64), gr.Number(value=300), gr.Checkbox()]
        api_train_outputs = [gr.JSON(), gr.File()]
    gr.on([], train, api_train_inputs, api_train_outputs, api_name="train", concurrency_limit=None, show_progress="hidden")

# Gradio counts every event in progress against max_threads (40 by default), async ones too: each open
# page's keep_session_open and each training waiting in line hold one for minutes, and with 40 pages
# open nothing else ran. The real limits are each event's concurrency_limit.
MAX_EVENTS = 1000
# Uploads are checkpoints and texts: no file larger than the largest checkpoint the registry takes
LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "js": HEAD_JS, "i18n": i18n, "max_file_size": MAX_UPLOAD_BYTES,
                  "max_threads": MAX_EVENTS}


def warm_up_in_background() -> None:
    """Import torch and load the first model while the visitor reads the page."""
    threading.Thread(target=lambda: on.backend().warm_up(on.FIRST_CHECKPOINT), daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The charmodels page (and, with --mcp, an MCP server).")
    parser.add_argument("--mcp", action="store_true", default=os.environ.get("CHARMODELS_MCP", "") not in ("", "0"),
                        help="also serve next_chars and generate as MCP tools at /gradio_api/mcp/ "
                             "(needs charmodels[mcp]; CHARMODELS_MCP=1 does the same)")
    args = parser.parse_args(argv)
    local = not (os.environ.get("SPACE_ID") or os.environ.get("CI"))
    demo.max_threads = MAX_EVENTS  # read by queue(); launch() sets it again, a mounted app (--mcp) does not
    demo.queue(default_concurrency_limit=4)
    if not args.mcp:
        demo.launch(inbrowser=local, prevent_thread_lock=True, **LAUNCH_OPTIONS)
        warm_up_in_background()
        demo.block_thread()
        return
    import uvicorn

    from demo.mcp_tools import mounted_app

    warm_up_in_background()
    # where launch() would listen: a Space sets these; locally, this machine only
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    uvicorn.run(mounted_app(demo, {"next_chars": next_chars, "generate": generate}, **LAUNCH_OPTIONS), host=host, port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                log_level="warning")


if __name__ == "__main__":
    main()
