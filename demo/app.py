"""charmodels: watch a character-level RNN, LSTM or GRU read and write.

    python demo/app.py          # opens the page in your browser

Layout and event wiring only: what the models do is asked of demo/service.py, every word
comes from demo/i18n.py (English and Korean), every drawing from demo/views.py. torch
loads in the background after the page is served.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import inspect
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package and demo/, also on a Space

import gradio as gr
import pandas as pd

from charmodels.corpora import CORPORA
from charmodels.serving import MAX_UPLOAD_BYTES
from demo.i18n import MESSAGES, UI, code_text, error_text, language, say
from demo.views import (
    corpus_markdown,
    label_value,
    quoted,
    shaded_html,
    snapshot_html,
    visible_text,
)

CELL_CHOICES = [("RNN", "rnn"), ("LSTM", "lstm"), ("GRU", "gru")]
CELL_COLORS = {"RNN": "#2563eb", "LSTM": "#ea580c", "GRU": "#16a34a"}
FIRST_CORPUS = "goethe"
FIRST_CELL = "lstm"
SHADE_EVERY = 0.5  # seconds between refreshes of the shaded text while streaming
# Seconds between streamed updates of the page: one per character swamped the browser, which
# then drew for seconds after the server had finished (and after Stop)
SEND_EVERY = 0.05
LAB_GRIDS = [key.removeprefix("lab_note_") for key in MESSAGES["en"] if key.startswith("lab_note_")]
# Gradio's cache (uploads, offered downloads): swept every hour of what is older than three hours,
# and emptied when the server stops
DELETE_CACHE = (3600, 3 * 3600)


def backend():
    """demo/service.py, which imports torch: loaded on first use, never before the page is up."""
    from demo import service

    return service


def friendly(fn):
    """Turn a refused request into a message in the page (gr.Error), in the page's language.

    The language is the handler's `lang` argument (English without one: the API). The
    message is said from the error's code, never str(error), so no server path shows.
    """
    names = list(inspect.signature(fn).parameters)
    lang_at = names.index("lang") if "lang" in names else None

    def explain(error: Exception, args: tuple) -> gr.Error:
        lang = args[lang_at] if lang_at is not None and lang_at < len(args) else "en"
        return gr.Error(error_text(lang, error), print_exception=False)

    if inspect.isgeneratorfunction(fn):  # a generator: stream it

        @functools.wraps(fn)
        def streaming(*args):
            try:
                yield from fn(*args)
            except gr.Error:
                raise
            except Exception as error:  # every failure becomes a message; unexpected ones are logged by error_text
                raise explain(error, args) from error

        return streaming

    @functools.wraps(fn)
    def plain(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except Exception as error:
            raise explain(error, args) from error

    return plain


i18n = gr.I18n(**UI)

CSS = """
/* Gradio 6.31 scopes these rules to its container; the projector overrides need !important to win */
#cm-about pre, #cm-about code { white-space: pre-wrap !important; word-break: break-word; }
.cm-shaded { font-family: var(--font-mono); font-size: 1.1em; line-height: 1.9; white-space: normal; word-break: break-all; }
.cm-prompt { color: var(--body-text-color-subdued); }
.cm-char { border-radius: 3px; padding: 1px 1px; }
.cm-selected { outline: 3px solid #f59e0b; outline-offset: 1px; }
#cm-continuation textarea { font-family: var(--font-mono); }
body.projector .gradio-container { --body-text-size: 26px; --text-md: 26px; --text-lg: 30px; --text-xl: 38px;
  --input-text-size: 28px; --block-label-text-size: 22px; --block-title-text-size: 24px; --button-large-text-size: 26px;
  --body-text-color: #000; --block-label-text-color: #000; --body-background-fill: #fff; max-width: 100% !important; }
body.projector .cm-shaded { font-size: 34px !important; }
body.projector .cm-prompt { color: #444 !important; }
body.projector #cm-about pre, body.projector #cm-about code { font-size: 22px !important; }
body.projector button[role="tab"] { font-size: 17px !important; padding-left: 6px !important; padding-right: 6px !important; }
body.projector #cm-cell label span, body.projector #cm-corpus input { font-size: 24px !important; }
body.projector #cm-bars h2 { margin-top: 18px !important; }
.cm-heat-wrap { overflow-x: auto; }
.cm-heat { border-collapse: collapse; font-family: var(--font-mono); width: max-content; }  /* scroll, never squeeze */
.cm-heat td { width: 16px; min-width: 16px; height: 14px; padding: 0; border: 1px solid rgba(0,0,0,0.04); }
.cm-heat th { font-weight: normal; padding: 0 1px; font-size: 13px; text-align: center; }
.cm-heat th.cm-unit { font-size: 10px; color: var(--body-text-color-subdued); text-align: right; padding-right: 4px; }
.cm-heat .cm-sel { outline: 2px solid #f59e0b; }
.cm-vector { margin: 6px 0; }
.cm-vector div { display: flex; flex-wrap: wrap; }
.cm-vector span { width: 10px; height: 18px; border: 1px solid rgba(0,0,0,0.04); }
.cm-saliency { margin: 10px 0; font-family: var(--font-mono); font-size: 1.1em; line-height: 1.9; }
.cm-saliency span { border-radius: 3px; padding: 1px 0; }
.cm-saliency-title { font-family: var(--font-sans); font-weight: 600; }
body.projector .cm-heat td { width: 24px !important; min-width: 24px !important; height: 20px !important; }
body.projector .cm-heat th { font-size: 22px !important; }
body.projector .cm-saliency { font-size: 30px !important; }
.cm-snapshot { font-family: var(--font-mono); font-size: 1.1em; line-height: 1.8; }
.cm-snapshot .cm-wrong { background: rgba(220,38,38,0.85); color: #fff; border-radius: 3px; }
.cm-snapshot-title { color: var(--body-text-color-subdued); }
body.projector .cm-snapshot { font-size: 30px !important; }
"""

# Projector mode by URL (?projector) and by button; Korean/English follows the browser.
HEAD_JS = """
() => {
  if (new URLSearchParams(window.location.search).has('projector')) document.body.classList.add('projector');
}
"""
TOGGLE_PROJECTOR = "() => { document.body.classList.toggle('projector'); }"
BROWSER_LANGUAGE = "(lang) => [navigator.language || 'en']"

THEME = gr.themes.Default(
    primary_hue="blue",
    font=["Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", "Helvetica", "Arial", "sans-serif"],
    font_mono=["Noto Sans Mono CJK KR", "DejaVu Sans Mono", "Menlo", "Consolas", "monospace"],
)


# ---- event handlers: each asks demo/service.py and hands the answer, worded, to components ----


def word_notes(lang: str, notes, between: str = "\n\n") -> str:
    """service.Note's (a key and characters or numbers) as sentences, characters made visible."""

    def shown(params: dict) -> dict:
        params = dict(params)
        if "chars" in params:
            params["chars"] = ", ".join(quoted(c) for c in params["chars"])
        if "char" in params:
            params["char"] = quoted(params["char"])
        return params

    return between.join(say(lang, note.key, **shown(note.params)) for note in notes)


@friendly
def select_model(corpus: str, cell: str, lang: str, prompt: str | None = None):
    service = backend()
    if not corpus:
        raise service.PageError("error_upload_in_use")
    checkpoint = f"{corpus}-{cell}"
    model = service.serving.get_model(checkpoint)
    text = service.DEFAULT_PROMPTS.get(corpus, "") if prompt is None else prompt
    return (checkpoint, text, *model_views(checkpoint, model, lang), *next_views(checkpoint, text, lang))


@friendly
def select_corpus(corpus: str, cell: str, lang: str):
    info = CORPORA[corpus]
    return (corpus_markdown(info.text, info.source, lang), *select_model(corpus, cell, lang))


@friendly
def upload_model(path: str | None, lang: str):
    service = backend()
    if not path:
        raise service.PageError("error_no_file")
    checkpoint = service.serving.register_upload(path)
    model = service.serving.get_model(checkpoint)
    text = ""
    pickers = (gr.Dropdown(value=None), gr.Radio(value=model.config.cell))  # the pickers no longer name it
    return (*pickers, about_model(model, lang), checkpoint, text, *model_views(checkpoint, model, lang),
            *next_views(checkpoint, text, lang))


def loss_frame(points) -> pd.DataFrame:
    """(step, loss) pairs as numbers: an empty first frame must not make the plot's axes categorical."""
    return pd.DataFrame(list(points), columns=["step", "loss"]).astype({"step": "int64", "loss": "float64"})


def loss_curve(frame: pd.DataFrame, lang: str) -> gr.LinePlot:
    """A loss curve with its axes named in the page's language (gr.I18n keys in a plot's titles
    are not translated again after the server updates the plot, so the server words them)."""
    return gr.LinePlot(value=frame, x_title=say(lang, "axis_step"), y_title=say(lang, "axis_loss"),
                       color_title=say(lang, "axis_attempt"))


def about_model(model, lang: str) -> str:
    corpus = model.info.get("corpus", {})
    return corpus_markdown(corpus.get("text"), corpus.get("source", ""), lang)


@friendly
def show_model(checkpoint: str, lang: str):
    """Every view of the model now in use, from an empty prompt (after training one's own)."""
    model = backend().serving.get_model(checkpoint)
    return (about_model(model, lang), "", *model_views(checkpoint, model, lang), *next_views(checkpoint, "", lang))


def model_views(checkpoint: str, model, lang: str):
    """Model card, loss curve, and the snapshot slider with its first prediction."""
    from demo.views import card_markdown

    history = model.info.get("history", {})
    loss = loss_frame(history.get("loss", []))
    starts = history.get("restarts", [])  # each new attempt began at these steps
    loss["attempt"] = [str(1 + sum(step >= start for start in starts)) for step in loss["step"]]
    snapshots = history.get("snapshots", [])
    last = len(snapshots)
    slider = gr.Slider(minimum=1, maximum=max(last, 2), value=max(last, 1), step=1, interactive=last > 1)  # a slider needs min < max
    return card_markdown(model.info, lang), loss_curve(loss, lang), slider, snapshot_text(checkpoint, last, lang)


def snapshot_text(checkpoint: str, index: float | None, lang: str) -> str:
    """The prediction string recorded at a training step, wrong characters marked."""
    service = backend()
    snapshots = service.history(checkpoint).get("snapshots", [])
    if not snapshots:
        return ""
    step, prediction = snapshots[min(max(int(index or 1), 1), len(snapshots)) - 1]
    return snapshot_html(step, prediction, service.training_text(checkpoint) or prediction, lang)


def next_views(checkpoint: str, prompt: str | None, lang: str):
    pairs, notes = backend().next_chars(checkpoint, prompt)
    return label_value(pairs), word_notes(lang, notes)


@friendly
def on_prompt(checkpoint: str, prompt: str | None, lang: str):
    return next_views(checkpoint, prompt, lang)


@friendly
def on_generate(checkpoint, prompt, length, temperature, top_k, top_p, seed, lang):
    service = backend()
    request = service.check_request(length, temperature, top_k, top_p, seed)
    text, notes, steps = service.stream(checkpoint, prompt, request)
    chars: list[str] = []
    probs: list[float] = []
    records: list[dict] = []
    note = word_notes(lang, notes)
    sent_at, shaded_at = -SEND_EVERY, time.monotonic()  # the first character goes out at once
    for step in steps:
        chars.append(step.char)
        probs.append(step.prob)
        records.append(service.step_record(step))
        now = time.monotonic()
        if now - sent_at < SEND_EVERY:
            continue
        sent_at = now
        if now - shaded_at >= SHADE_EVERY:  # the shaded view is heavy: refresh it sparingly
            shaded_at = now
            yield "".join(chars), shaded_html(text, chars, probs), gr.skip(), gr.skip(), note
        else:
            yield "".join(chars), gr.skip(), gr.skip(), gr.skip(), note
    run = {"prompt": text, "records": records, "request": dataclasses.asdict(request)}
    last = max(len(records), 1)
    yield (
        "".join(chars),
        shaded_html(text, chars, probs, selected=last),
        run,
        gr.Slider(minimum=1, maximum=max(last, 2), value=last, step=1, interactive=len(records) > 1),
        note,
    )


def on_inspect(run: dict | None, index, lang: str):
    if not run or not run.get("records"):
        return {}, {}, say(lang, "inspect_none"), gr.skip()
    records = run["records"]
    n = min(max(int(index or 1), 1), len(records))
    record = records[n - 1]
    request = run["request"]
    lines = [say(lang, "inspect_step", n=n, char=quoted(record["char"]), p=record["prob"])]
    if request["temperature"] == 0:
        lines.append(say(lang, "inspect_greedy"))
    else:
        off = say(lang, "off")
        lines.append(
            say(lang, "inspect_reshaped", t=request["temperature"], k=request["top_k"] or off, p=request["top_p"] or 1)
        )
    chars = [r["char"] for r in records]
    probs = [r["prob"] for r in records]
    return (
        label_value([tuple(pair) for pair in record["model_top"]]),
        label_value([tuple(pair) for pair in record["top"]]),
        "\n\n".join(lines),
        shaded_html(run["prompt"], chars, probs, selected=n),
    )


@friendly
def on_compare(corpus: str | None, prompt: str | None, length, lang: str):
    outputs = []
    for result in backend().compare(corpus, prompt, length):
        outputs += [label_value(result["next"]), result["text"]]
    return outputs


@friendly
def on_example(length, lang: str):
    corpus, prompt = backend().LONG_CONTEXT_EXAMPLE
    return (corpus, prompt, *on_compare(corpus, prompt, length, lang))


@friendly
def on_model_inside(checkpoint: str, lang: str):
    """The states and gates a model has, and its layers, for the pickers of the inside tab."""
    from demo.views import state_choices

    model = backend().serving.get_model(checkpoint)
    layers = model.config.layers
    return (
        gr.Dropdown(choices=state_choices(model.config.cell, lang), value="h"),
        gr.Slider(minimum=1, maximum=max(layers, 2), value=1, step=1, interactive=layers > 1, visible=layers > 1),
    )


@friendly
def on_inside(checkpoint: str, corpus: str | None, prompt: str | None, which: str, layer, step, lang: str):
    from demo.views import (
        STATES_OF,
        heatmap_html,
        saliency_html,
        state_name,
        vector_html,
    )

    service = backend()
    trace, cell, notes = service.inside(checkpoint, prompt)
    which = which if which in STATES_OF[cell] else "h"
    layer_trace = trace.layers[min(max(int(layer or 1), 1), len(trace.layers)) - 1]
    values_of = {"h": layer_trace.h, "c": layer_trace.c, **layer_trace.gates}
    steps = len(trace.chars)
    n = min(max(int(step or steps), 1), steps)
    vectors = [vector_html(state_name(key, lang), values_of[key][n - 1], key, lang) for key in STATES_OF[cell]]
    after = ", ".join(
        f"'{visible_text(trace.vocab[i])}' {trace.probs[n - 1][i]:.0%}" for i in trace.probs[n - 1].argsort()[::-1][:3]
    )
    read = f"<p><b>{n}: '{html.escape(visible_text(trace.chars[n - 1]))}'</b> → {html.escape(after)}</p>"
    checkpoints = [f"{corpus}-{value}" for _, value in CELL_CHOICES] if corpus else [checkpoint]
    salient = service.saliencies(checkpoints, prompt)
    saliency = "".join(
        saliency_html(f"{r['checkpoint']}: '{visible_text(r['target'])}' {r['prob']:.0%}", r["chars"], r["scores"]) for r in salient
    )
    noted = word_notes(lang, notes)
    return (
        f"**{state_name(which, lang)}**" + ("\n\n" + noted if noted else ""),
        heatmap_html(trace.chars, values_of[which], which, selected=n),
        gr.Slider(minimum=1, maximum=max(steps, 2), value=n, step=1, interactive=steps > 1),
        read + "".join(vectors),
        saliency,
    )


@friendly
def read_text_upload(path: str | None, lang: str):
    """A .txt upload into the text box, checked (size, UTF-8) by charmodels.jobs."""
    if not path:
        return gr.skip()
    from charmodels.jobs import read_text_file

    return read_text_file(path)


def job_status(lang: str, snap) -> str:
    """A training's state and what it does or why it ended, as the page says it."""
    scores = ""
    if snap.metrics is not None:
        m = snap.metrics
        scores = say(lang, "job_scores", tf_acc=m.tf_acc, recon=m.recon, min_p=m.min_p)
    problem = "" if snap.error is None else code_text(lang, snap.error, snap.error_params)
    message = say(lang, f"job_{snap.reason}", step=snap.step, max_steps=snap.max_steps, seconds=snap.seconds,
                  time_limit=snap.time_limit, scores=scores, problem=problem)
    return f"**{say(lang, f'job_{snap.state}')}** · {message}"


@friendly
def on_train(text: str, name: str, cell: str, hidden_size, steps, lines: bool, previous: str | None, lang: str):
    service = backend()
    job_id, job = service.start_training(text, name, cell, hidden_size, steps, lines, replaces=previous)
    truth = "".join(job.corpus.sequences())
    for snap in job.updates():
        loss = loss_curve(loss_frame(snap.loss), lang)
        view = snapshot_html(snap.step, snap.prediction, truth, lang) if snap.prediction else ""
        status = job_status(lang, snap)
        if not snap.finished or snap.path is None:  # running, or failed: nothing to offer
            yield job_id, status, loss, view, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            continue
        key = service.serving.register_upload(snap.path)  # now usable in every tab, like an upload
        yield job_id, status, loss, view, snap.path, key, gr.Dropdown(value=None), gr.Radio(value=job.model_config.cell)


def lab_choices(lang: str):
    return gr.Radio(choices=[(say(lang, f"lab_note_{name}"), name) for name in LAB_GRIDS])


@friendly
def on_lab_grid(name: str, lang: str):
    from charmodels.lab import format_table

    grid = backend().lab_results()[name]
    frame = pd.DataFrame(
        [(row["cell"].upper(), row["gap"], row["mean"]) for row in grid["means"]], columns=["cell", "gap", "accuracy"]
    ).astype({"gap": "int64", "accuracy": "float64"})
    legend = " · ".join(f'<span style="color:{color}">■</span> {cell}' for cell, color in CELL_COLORS.items())
    note = say(lang, f"lab_note_{name}") if name in LAB_GRIDS else grid["config"].get("note", name)
    plot = gr.LinePlot(value=frame, x_title=say(lang, "axis_gap"), y_title=say(lang, "axis_accuracy"),
                       color_title=say(lang, "axis_cell"))
    return plot, f"{legend}\n\n```text\n{format_table(grid['means'])}\n```\n{note}"


@friendly
def on_lab_run(cell: str, gap, steps, seed, forget_bias: bool, curriculum: bool, lang: str):
    for taken, curve, result in backend().lab_run(cell, gap, steps, seed, forget_bias, curriculum):
        loss = loss_curve(loss_frame(curve), lang)
        if result is None:
            yield loss, say(lang, "lab_progress", taken=taken, steps=int(steps))
            continue
        verdict = "lab_yes" if result.accuracy >= 0.9 else "lab_no" if result.accuracy <= 0.6 else "lab_partly"
        yield loss, say(
            lang, "lab_result", cell=cell.upper(), gap=int(gap), accuracy=result.accuracy, verdict=say(lang, verdict),
            chance=result.chance, loss=result.eval_loss, hidden=result.hidden, parameters=result.parameters,
            steps=result.steps, seconds=result.seconds, limit=say(lang, "lab_limit") if result.stopped else "",
        )


# ---- the API: two named endpoints, the same service the page uses (in English) ----


@friendly
def api_next_chars(checkpoint: str, prompt: str) -> tuple[dict, str]:
    """The top-10 next characters after `prompt` as {char: probability}, and notes on how the prompt was read."""
    pairs, notes = backend().next_chars(checkpoint, prompt)
    return dict(pairs), word_notes("en", notes, between="\n")


@friendly
def api_generate(
    checkpoint: str,
    prompt: str,
    length: int = 200,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
) -> Iterator[tuple[str, dict]]:
    """Streams (text so far, the step just written: its char, probability and the top of both distributions)."""
    service = backend()
    request = service.check_request(length, temperature, top_k, top_p, seed)
    _, _, steps = service.stream(checkpoint, prompt, request)
    text, record = "", None
    for step in steps:
        text += step.char
        record = service.step_record(step)
        yield text, record
    if record is None:  # length 0 writes nothing: still one answer
        yield text, record


# ---- layout ----

with gr.Blocks(title="charmodels", delete_cache=DELETE_CACHE) as demo:
    lang = gr.Textbox(value="en", visible=False)
    checkpoint = gr.Textbox(value=f"{FIRST_CORPUS}-{FIRST_CELL}", visible=False)
    run = gr.State(None)  # this session's last generation, for the step inspector

    with gr.Row(equal_height=True):
        with gr.Column(scale=5):
            gr.Markdown(i18n("title"))
            gr.Markdown(i18n("intro"))
        with gr.Column(scale=1, min_width=180):
            projector = gr.Button(i18n("projector"), variant="secondary", elem_id="cm-projector")

    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            corpus = gr.Dropdown(
                choices=list(CORPORA), value=FIRST_CORPUS, label=i18n("corpus"), elem_id="cm-corpus"
            )
            cell = gr.Radio(choices=CELL_CHOICES, value=FIRST_CELL, label=i18n("cell"), elem_id="cm-cell")
            first = CORPORA[FIRST_CORPUS]
            about = gr.Markdown(corpus_markdown(first.text, first.source), elem_id="cm-about")
            upload = gr.File(label=i18n("upload"), file_types=[".safetensors"], type="filepath")
        with gr.Column(scale=3):
            with gr.Tabs():
                with gr.Tab(i18n("tab_predict"), id="predict"):
                    with gr.Row():
                        with gr.Column(scale=3):
                            prompt = gr.Textbox(label=i18n("prompt"), lines=2, elem_id="cm-prompt")
                            notes = gr.Markdown(elem_id="cm-notes")
                            with gr.Row():
                                length = gr.Slider(1, 2000, value=200, step=1, label=i18n("length"))
                                temperature = gr.Slider(0, 2, value=0, step=0.05, label=i18n("temperature"))
                            with gr.Row():
                                top_k = gr.Slider(0, 50, value=0, step=1, label=i18n("top_k"))
                                top_p = gr.Slider(0.05, 1, value=1, step=0.05, label=i18n("top_p"))
                                seed = gr.Number(value=0, precision=0, label=i18n("seed"), minimum=-1)
                            with gr.Row():
                                generate_button = gr.Button(i18n("generate"), variant="primary", elem_id="cm-generate")
                                stop_button = gr.Button(i18n("stop"), variant="stop", elem_id="cm-stop")
                        bars = gr.Label(label=i18n("next"), num_top_classes=10, elem_id="cm-bars", scale=2)
                    continuation = gr.Textbox(
                        label=i18n("continuation"), lines=4, interactive=False, buttons=["copy"], elem_id="cm-continuation"
                    )
                    gr.Markdown(i18n("shaded"))
                    shaded = gr.HTML(elem_id="cm-shaded")
                    step = gr.Slider(1, 2, value=1, step=1, label=i18n("step"), interactive=False, elem_id="cm-step")
                    inspect_notes = gr.Markdown()
                    with gr.Row():
                        model_dist = gr.Label(label=i18n("model_dist"), num_top_classes=10)
                        drawn_dist = gr.Label(label=i18n("drawn_dist"), num_top_classes=10)
                with gr.Tab(i18n("tab_compare"), id="compare"):
                    gr.Markdown(i18n("compare_intro"))
                    example = gr.Button(i18n("example"), elem_id="cm-example")
                    compare_prompt = gr.Textbox(label=i18n("prompt"), lines=2, elem_id="cm-compare-prompt")
                    compare_length = gr.Slider(1, 300, value=60, step=1, label=i18n("length"))
                    compare_button = gr.Button(i18n("compare"), variant="primary")
                    compared = []
                    with gr.Row():
                        for name, _ in CELL_CHOICES:
                            with gr.Column(min_width=200):
                                gr.Markdown(f"### {name}")
                                compared.append(gr.Label(num_top_classes=5, show_label=False))
                                compared.append(gr.Textbox(show_label=False, lines=3, interactive=False))
                with gr.Tab(i18n("tab_inside"), id="inside"):
                    gr.Markdown(i18n("inside_intro"))
                    with gr.Row():
                        inside_prompt = gr.Textbox(label=i18n("prompt"), lines=2, scale=3, elem_id="cm-inside-prompt")
                        with gr.Column(scale=1, min_width=200):
                            which = gr.Dropdown(choices=[("h", "h")], value="h", label=i18n("state_pick"), elem_id="cm-which")
                            layer = gr.Slider(1, 2, value=1, step=1, label=i18n("layer"), interactive=False, visible=False)
                    inside_button = gr.Button(i18n("inside_button"), variant="primary", elem_id="cm-inside")
                    inside_title = gr.Markdown()
                    heat = gr.HTML(elem_id="cm-heat")
                    inside_step = gr.Slider(1, 2, value=1, step=1, label=i18n("inside_step"), elem_id="cm-inside-step")
                    vectors = gr.HTML(elem_id="cm-vectors")
                    gr.Markdown(i18n("saliency_title"))
                    gr.Markdown(i18n("saliency_intro"))
                    saliency_view = gr.HTML(elem_id="cm-saliency")
                with gr.Tab(i18n("tab_train"), id="train"):
                    gr.Markdown(i18n("train_intro"))
                    with gr.Row():
                        with gr.Column(scale=3):
                            train_text = gr.Textbox(label=i18n("train_text"), lines=6, max_lines=12, elem_id="cm-train-text")
                            train_file = gr.File(label=i18n("train_file"), file_types=[".txt"], type="filepath", height=130)
                        with gr.Column(scale=2, min_width=240):
                            train_name = gr.Textbox(value="mytext", label=i18n("train_name"), max_lines=1)
                            train_cell = gr.Radio(choices=CELL_CHOICES, value="lstm", label=i18n("cell"))
                            hidden_size = gr.Slider(8, 256, value=64, step=8, label=i18n("hidden_size"))
                            train_steps = gr.Slider(10, 3000, value=300, step=10, label=i18n("train_steps"))
                            train_lines = gr.Checkbox(value=False, label=i18n("train_lines"))
                    with gr.Row():
                        train_button = gr.Button(i18n("train"), variant="primary", elem_id="cm-train")
                        train_stop = gr.Button(i18n("stop"), variant="stop", elem_id="cm-train-stop")
                    train_status = gr.Markdown(elem_id="cm-train-status")
                    train_loss = gr.LinePlot(x="step", y="loss", label=i18n("loss"), height=280)
                    train_view = gr.HTML(elem_id="cm-train-view")
                    train_download = gr.File(label=i18n("train_download"), interactive=False, elem_id="cm-train-download")
                    job_id = gr.State(None)
                with gr.Tab(i18n("tab_lab"), id="lab"):
                    gr.Markdown(i18n("lab_intro"))
                    lab_grid = gr.Radio(
                        choices=[(say("en", f"lab_note_{name}"), name) for name in LAB_GRIDS], value="main", label=i18n("lab_grid")
                    )
                    lab_plot = gr.LinePlot(
                        x="gap", y="accuracy", color="cell", label=i18n("lab_accuracy"), height=380, y_lim=[0.4, 1.02],
                        color_map=CELL_COLORS,
                        elem_id="cm-lab-plot",
                    )
                    lab_table = gr.Markdown(elem_id="cm-lab-table")
                    gr.Markdown(i18n("lab_live"))
                    with gr.Row():
                        lab_cell = gr.Radio(choices=CELL_CHOICES, value="rnn", label=i18n("cell"))
                        lab_gap = gr.Slider(1, 80, value=10, step=1, label=i18n("lab_gap"))
                        lab_steps = gr.Slider(50, 2000, value=600, step=50, label=i18n("lab_steps"))
                        lab_seed = gr.Number(value=0, precision=0, minimum=0, label=i18n("lab_seed"))
                    with gr.Row():
                        lab_forget = gr.Checkbox(value=False, label=i18n("lab_forget"))
                        lab_curriculum = gr.Checkbox(value=False, label=i18n("lab_curriculum"))
                        lab_button = gr.Button(i18n("lab_run"), variant="primary", elem_id="cm-lab-run")
                        lab_stop = gr.Button(i18n("stop"), variant="stop")
                    lab_result = gr.Markdown(elem_id="cm-lab-result")
                    lab_loss = gr.LinePlot(x="step", y="loss", label=i18n("loss"), height=280)
                with gr.Tab(i18n("tab_card"), id="card"):
                    card = gr.Markdown(elem_id="cm-card")
                    loss_plot = gr.LinePlot(x="step", y="loss", color="attempt", label=i18n("loss"), height=260)
                    snapshot = gr.Slider(1, 2, value=1, step=1, label=i18n("snapshot"))
                    gr.Markdown(i18n("prediction"))
                    prediction = gr.HTML(elem_id="cm-snapshot")

    # ---- wiring ----
    model_outputs = [checkpoint, prompt, card, loss_plot, snapshot, prediction, bars, notes]
    private = {"api_visibility": "private"}

    # first the browser's language (for messages the functions write), then the first model
    # (checkpoint.change does not fire for the value the page starts with: the inside pickers are filled here too)
    demo.load(language, [lang], [lang], js=BROWSER_LANGUAGE, **private).then(
        select_corpus, [corpus, cell, lang], [about, *model_outputs], **private
    ).then(on_model_inside, [checkpoint, lang], [which, layer], **private).then(
        lambda text: text, [prompt], [inside_prompt], **private
    ).then(lab_choices, [lang], [lab_grid], **private).then(on_lab_grid, [lab_grid, lang], [lab_plot, lab_table], **private)
    corpus.input(select_corpus, [corpus, cell, lang], [about, *model_outputs], **private)
    cell.input(select_model, [corpus, cell, lang, prompt], model_outputs, **private)
    upload.upload(upload_model, [upload, lang], [corpus, cell, about, *model_outputs], **private)
    # .change, not .input: in Gradio 6.31 a Textbox's .input fires only for typed characters, not for
    # Backspace, Delete or paste, which left the bars showing an older prompt's distribution
    prompt.change(on_prompt, [checkpoint, prompt, lang], [bars, notes], trigger_mode="always_last", **private)
    # one event for the button and the keyboard: Stop cancels it and the inspector follows it, however it started
    generating = gr.on(
        [generate_button.click, prompt.submit],
        on_generate,
        [checkpoint, prompt, length, temperature, top_k, top_p, seed, lang],
        [continuation, shaded, run, step, notes],
        concurrency_limit=4,
        concurrency_id="generate",
        **private,
    )
    generating.then(on_inspect, [run, step, lang], [model_dist, drawn_dist, inspect_notes, shaded], **private)
    stop_button.click(None, cancels=[generating])
    step.input(on_inspect, [run, step, lang], [model_dist, drawn_dist, inspect_notes, shaded], **private)
    compare_button.click(on_compare, [corpus, compare_prompt, compare_length, lang], compared, **private)
    example.click(on_example, [compare_length, lang], [corpus, compare_prompt, *compared], **private)
    snapshot.input(snapshot_text, [checkpoint, snapshot, lang], [prediction], **private)
    projector.click(None, js=TOGGLE_PROJECTOR)
    checkpoint.change(on_model_inside, [checkpoint, lang], [which, layer], **private)
    checkpoint.change(lambda text: text, [prompt], [inside_prompt], **private)  # start from the page's prompt
    inside_inputs = [checkpoint, corpus, inside_prompt, which, layer, inside_step, lang]
    inside_outputs = [inside_title, heat, inside_step, vectors, saliency_view]
    gr.on(
        [inside_button.click, inside_prompt.submit],
        on_inside, [checkpoint, corpus, inside_prompt, which, layer, gr.State(None), lang], inside_outputs, **private
    )
    for control in (which, layer):
        control.input(on_inside, inside_inputs, inside_outputs, **private)
    inside_step.release(on_inside, inside_inputs, inside_outputs, **private)
    train_file.upload(read_text_upload, [train_file, lang], [train_text], **private)
    training = train_button.click(
        on_train,
        [train_text, train_name, train_cell, hidden_size, train_steps, train_lines, job_id, lang],
        [job_id, train_status, train_loss, train_view, train_download, checkpoint, corpus, cell],
        concurrency_limit=2,  # the second is refused at once by charmodels.jobs, never queued for minutes
        concurrency_id="train",
        **private,
    )
    training.then(show_model, [checkpoint, lang], [about, *model_outputs[1:]], **private)
    lab_grid.change(on_lab_grid, [lab_grid, lang], [lab_plot, lab_table], **private)
    lab_running = lab_button.click(
        on_lab_run,
        [lab_cell, lab_gap, lab_steps, lab_seed, lab_forget, lab_curriculum, lang],
        [lab_loss, lab_result],
        concurrency_limit=1,  # one live lab run at a time; others wait their turn (each at most 60 s)
        concurrency_id="lab",
        **private,
    )
    lab_stop.click(None, cancels=[lab_running])
    # Stop asks the job to end: its model so far is still saved, offered and used
    train_stop.click(lambda job: backend().stop_training(job), [job_id], None, **private)

    gr.api(api_next_chars, api_name="next_chars", concurrency_limit=8, concurrency_id="predict")
    gr.api(api_generate, api_name="generate", concurrency_limit=4, concurrency_id="generate")

# Uploads are checkpoints and texts: no file larger than the largest checkpoint the registry takes
LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "js": HEAD_JS, "i18n": i18n, "max_file_size": MAX_UPLOAD_BYTES}


def warm_up_in_background() -> None:
    """Import torch and load the first model while the visitor reads the page."""
    threading.Thread(target=lambda: backend().warm_up(f"{FIRST_CORPUS}-{FIRST_CELL}"), daemon=True).start()


if __name__ == "__main__":
    local = not (os.environ.get("SPACE_ID") or os.environ.get("CI"))
    demo.queue(default_concurrency_limit=4)
    demo.launch(inbrowser=local, prevent_thread_lock=True, **LAUNCH_OPTIONS)
    warm_up_in_background()
    demo.block_thread()
