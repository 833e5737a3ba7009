"""What the page does when it is used: one function per event, each asking demo/service.py
and answering with named updates ({"bars": ..., "notes": ...}).

demo/app.py maps the names to its components and wires the events; a handler never
sees a component. Words come from demo/i18n.py in the page's language (`lang`), drawings
from demo/views.py. A handler that fails raises: demo/app.py says the problem in the
page's language beside what it concerns, or in the page's one banner, and leaves every
other view as it was.

torch is imported on first use (demo/service.py), never before the page is served.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import gradio as gr
import pandas as pd

from charmodels import labflow
from demo.i18n import MESSAGES, TABLES, code_text, say
from demo.views import (
    STATES_OF,
    card_markdown,
    corpus_markdown,
    heatmap_html,
    label_value,
    probe_html,
    quoted,
    saliency_html,
    shaded_html,
    snapshot_html,
    state_choices,
    state_name,
    vector_html,
    visible_text,
)

CELLS = ("rnn", "lstm", "gru")
FIRST_TEXT = "goethe"
FIRST_CELL = "lstm"
FIRST_CHECKPOINT = f"{FIRST_TEXT}-{FIRST_CELL}"
SHADE_EVERY = 0.5  # seconds between refreshes of the shaded text while streaming
# Seconds between streamed updates of the page: one per character swamped the browser, which
# then drew for seconds after the server had finished (and after Stop)
SEND_EVERY = 0.05
LAB_GRIDS = [key.removeprefix("lab_note_") for key in MESSAGES["en"] if key.startswith("lab_note_")]
OWN_KEPT = 3  # models of one's own (uploaded or trained) the text picker keeps offering
PROGRESS = " …"  # how a running lab's status line ends


def backend():
    """demo/service.py, which imports torch: loaded on first use, never before the page is up."""
    from demo import service

    return service


# ---- words ----


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


def text_label(key: str, lang: str) -> str:
    """A text's name in the picker: its own for the built-in ones, a described one for the others."""
    return say(lang, f"text_{key}") if f"text_{key}" in TABLES["en"] else key


def text_choices(lang: str, own: list | None = None) -> list[tuple[str, str]]:
    """The text picker's choices: the offered texts, then the page's own models (label, key)."""
    return [(text_label(key, lang), key) for key in backend().texts()] + [tuple(pair) for pair in own or []]


# ---- the running generation of each page ----


class Runs:
    """Each page's running stream of one kind (a generation, a lab run), by Gradio's session, so
    that an event of the page can end it and wait until it has. Gradio's own cancel lands a
    moment later: a last streamed piece could arrive after the page moved on (a continuation
    under the new model's prompt, a progress line after Stop), and a cancelled event may show
    Gradio's error badge."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, Run] = {}

    def start(self, session: str | None) -> Run:
        run = Run()
        if session is not None:
            self.end(session)
            with self.lock:
                self.running[session] = run
        return run

    def finish(self, session: str | None, run: Run) -> None:
        run.ended.set()
        with self.lock:
            if session is not None and self.running.get(session) is run:
                del self.running[session]

    def end(self, session: str | None, keep: bool = False, timeout: float = 0.5) -> bool:
        """Ask the session's run to stop and wait (at most `timeout` s) until it has; False if none runs.
        `keep`: it ends with what it has so far (Stop), rather than without another word (a new model)."""
        with self.lock:
            run = self.running.get(session) if session is not None else None
        if run is None:
            return False
        run.keep = keep
        run.stop.set()
        run.ended.wait(timeout)
        return True


@dataclasses.dataclass
class Run:
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)
    keep: bool = False  # when stopped: end with what it has so far


GENERATIONS = Runs()


def session_of(request) -> str | None:
    return getattr(request, "session_hash", None)


# ---- the model in use ----


def loss_frame(points) -> pd.DataFrame:
    """(step, loss) pairs as numbers: an empty first frame must not make the plot's axes categorical."""
    return pd.DataFrame(list(points), columns=["step", "loss"]).astype({"step": "int64", "loss": "float64"})


def loss_curve(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A loss curve's new points, and nothing else: the axis names were set when the page
    opened (plot_titles)."""
    return frame


# Each plot's axis names (x, y, colour legend), as i18n keys.
PLOT_AXES = {
    "train_loss": ("axis_step", "axis_loss", None),
    "lab_loss": ("axis_step", "axis_loss", None),
    "loss_plot": ("axis_step", "axis_loss", "axis_attempt"),
    "lab_plot": ("axis_gap", "axis_accuracy", "axis_cell"),
}


def plot_titles(lang: str) -> dict:
    """The plots' axis names in the page's language, sent once when the page opens, never with
    points. In Gradio 6.31 a plot shows a gr.I18n title untranslated (its raw JSON), and an
    update that sets a plot's titles together with new points drops the points."""
    def titles(x: str, y: str, color: str | None) -> gr.LinePlot:
        named = {"x_title": say(lang, x), "y_title": say(lang, y)}
        return gr.LinePlot(**named, **({"color_title": say(lang, color)} if color else {}))
    return {name: titles(*axes) for name, axes in PLOT_AXES.items()}


def about_text(model, text: str | None, lang: str) -> str:
    corpus = model.info.get("corpus", {})
    about = say(lang, f"about_{text}") if text and f"about_{text}" in TABLES["en"] else ""
    return corpus_markdown(corpus.get("text"), corpus.get("source", ""), lang, chars=corpus.get("chars"), about=about)


def snapshot_text(checkpoint: str, index: float | None, lang: str) -> str:
    """The prediction string recorded at a training step, wrong characters marked."""
    service = backend()
    snapshots = service.history(checkpoint).get("snapshots", [])
    if not snapshots:
        return say(lang, "no_snapshots")
    step, prediction = snapshots[min(max(int(index or 1), 1), len(snapshots)) - 1]
    return snapshot_html(step, prediction, service.training_text(checkpoint) or prediction, lang)


def card_views(checkpoint: str, model, lang: str) -> dict:
    """Model card, loss curve, and the snapshot slider with its last prediction."""
    history = model.info.get("history", {})
    loss = loss_frame(history.get("loss", []))
    starts = history.get("restarts", [])  # each new attempt began at these steps
    loss["attempt"] = [str(1 + sum(step >= start for start in starts)) for step in loss["step"]]
    last = len(history.get("snapshots", []))
    return {
        "card": card_markdown(model.info, lang),
        "loss_plot": loss_curve(loss, lang),
        # a slider needs min < max; a long-text model records no predictions
        "snapshot": gr.Slider(minimum=1, maximum=max(last, 2), value=max(last, 1), step=1, interactive=last > 1, visible=last > 0),
        "prediction": snapshot_text(checkpoint, last, lang),
    }


def next_views(checkpoint: str, prompt: str | None, lang: str) -> dict:
    pairs, notes = backend().next_chars(checkpoint, prompt)
    return {"bars": label_value(pairs, lang=lang), "notes": word_notes(lang, notes)}


CLEARED_GENERATION = {
    "continuation": "", "shaded": "", "run": None, "inspect_notes": "", "model_dist": {}, "drawn_dist": {},
}


def use_model(checkpoint: str, lang: str, prompt: str | None = None, own: list | None = None) -> dict:
    """Every view of the model now in use: the pickers (which never disagree with the card),
    its text, a prompt (the text's default unless given), the default length, the bars, the
    card, the comparison's heading; the last generation and comparison cleared."""
    service = backend()
    model = service.serving.get_model(checkpoint)
    text = service.text_of(checkpoint)
    yours = service.serving.is_upload(checkpoint)
    if prompt is None:
        prompt = service.DEFAULT_PROMPTS.get(text, "") if text and not yours else ""
    unsure_offered = [key for key in service.UNSURE if key in service.texts()]
    updates = {
        "checkpoint": checkpoint,
        "corpus": gr.Dropdown(choices=text_choices(lang, own), value=checkpoint if yours else text),
        "cell": gr.Radio(value=model.config.cell, interactive=not yours),  # one's own model has one cell
        "about": about_text(model, text, lang),
        "prompt": prompt,
        "length": gr.Slider(value=service.default_length(model)),
        **next_views(checkpoint, prompt, lang),
        **CLEARED_GENERATION,
        "step": gr.Slider(minimum=1, maximum=2, value=1, interactive=False),
        "unsure_row": gr.Row(visible=bool(unsure_offered) and text not in service.UNSURE),
        **card_views(checkpoint, model, lang),
        **compare_heading(text, lang),
    }
    return updates


def compare_heading(text: str | None, lang: str) -> dict:
    """The comparison's heading for the model's text, its old results cleared."""
    heading = say(lang, "compare_of", text=text_label(text, lang)) if text else say(lang, "compare_own")
    return {"compare_title": heading, **{f"compare_{cell}_bars": {} for cell in CELLS},
            **{f"compare_{cell}_text": "" for cell in CELLS}}


def on_load(lang: str) -> dict:
    """The first model, the lab's run names in the page's language."""
    return {**use_model(FIRST_CHECKPOINT, lang), "lab_grid": lab_choices(lang)}


def on_text(value: str, cell: str, current: str | None, own: list | None, lang: str, request=None) -> dict:
    """A text picked (or one's own model, by its key): its model with the cell shown.

    Picking the model already in use changes nothing: Gradio 6.31's Dropdown sends its input
    event twice for one click, and the second must not undo what was typed meanwhile.
    """
    service = backend()
    if not value:
        raise service.PageError("error_pick_text")
    checkpoint = value if service.serving.is_upload(value) else service.checkpoint_name(value, cell)
    if checkpoint == current or (current or "").startswith(checkpoint + service.serving.TINY_MARK):
        return {}  # the model in use, or a tiny one of the same text and cell (a link's or a card's size)
    GENERATIONS.end(session_of(request))
    return use_model(checkpoint, lang, own=own)


def on_unsure(text: str, own: list | None, lang: str, request=None) -> dict:
    """A button toward an unsure model: its LSTM."""
    GENERATIONS.end(session_of(request))
    return use_model(backend().checkpoint_name(text, FIRST_CELL), lang, own=own)


def on_cell(value: str, cell: str, prompt: str | None, own: list | None, lang: str, request=None) -> dict:
    """A cell picked: the same text's model of that cell, the prompt kept."""
    service = backend()
    if not value or service.serving.is_upload(value):
        raise service.PageError("error_upload_in_use")
    GENERATIONS.end(session_of(request))
    return use_model(service.checkpoint_name(value, cell), lang, prompt=prompt, own=own)


def size_view(checkpoint: str) -> dict:
    """The size picker (hidden units) follows the model in use (demo/app.py: checkpoint.change): shown
    for a model with tiny versions (hihello, seoul), its choices the standard model and the tiny ones,
    each a checkpoint name; hidden otherwise."""
    serving = backend().serving
    sizes = serving.tiny_sizes(checkpoint) if not serving.is_upload(checkpoint) else {}
    if not sizes:
        return {"size": gr.Radio(choices=[], value=None, visible=False)}
    standard = checkpoint.split(serving.TINY_MARK)[0]
    choices = [(str(serving.get_model(standard).config.hidden_size), standard)]
    choices += [(str(size), name) for size, name in sorted(sizes.items(), reverse=True)]
    return {"size": gr.Radio(choices=choices, value=checkpoint, visible=True)}


def on_size(value: str, prompt: str | None, own: list | None, lang: str, request=None) -> dict:
    """A size picked: that model of the same text and cell (a tiny one, or the standard), the prompt kept."""
    service = backend()
    if not value or value not in service.serving.shipped():
        raise service.PageError("error_pick_text")
    GENERATIONS.end(session_of(request))
    return use_model(value, lang, prompt=prompt, own=own)


def own_model(key: str, own: list | None, lang: str, how: str, file_name: str = "") -> tuple[list, dict]:
    """Keep a model of one's own in the text picker (the newest OWN_KEPT) and use it. It is
    named after its text and cell, or after its file when it names no text."""
    model = backend().serving.get_model(key)
    text = model.info.get("corpus", {}).get("name")
    name = f"{text}-{model.config.cell}" if text else Path(file_name).name.removesuffix(".safetensors") or key
    label = say(lang, how, name=name)
    kept = [pair for pair in own or [] if pair[0] != label and pair[1] != key][-(OWN_KEPT - 1):] + [[label, key]]
    return kept, {"own": kept, **use_model(key, lang, prompt="", own=kept)}


def on_upload(path: str | None, own: list | None, lang: str, request=None) -> dict:
    service = backend()
    if not path:
        raise service.PageError("error_no_file")
    key = service.register_own(session_of(request), path)
    GENERATIONS.end(session_of(request))
    # the box empties again: the model is in the text picker now, and another file can be chosen
    return {**own_model(key, own, lang, "own_uploaded", file_name=path)[1], "upload": None}


def on_adopt(key: str | None, own: list | None, lang: str, request=None) -> dict:
    """A training of the page ended with a model: it becomes the model in use."""
    if not key:
        return {}
    GENERATIONS.end(session_of(request))
    return own_model(key, own, lang, "own_trained")[1]


def on_prompt(checkpoint: str, prompt: str | None, lang: str) -> dict:
    return next_views(checkpoint, prompt, lang)


# ---- generating ----


def on_generate(checkpoint, prompt, length, temperature, top_k, top_p, seed, lang, request=None) -> Iterator[dict]:
    """Streams the continuation, at most 1 / SEND_EVERY updates a second, the shaded view sparingly;
    ends without another word when the page switches its model (GENERATIONS)."""
    service = backend()
    sampling = service.check_request(length, temperature, top_k, top_p, seed)
    text, notes, steps = service.stream(checkpoint, prompt, sampling)
    session = session_of(request)
    run = GENERATIONS.start(session)
    try:
        yield from streamed(text, notes, steps, sampling, lang, run)
    finally:
        GENERATIONS.finish(session, run)


def streamed(text: str, notes, steps, sampling, lang: str, run: Run) -> Iterator[dict]:
    service = backend()
    chars: list[str] = []
    probs: list[float] = []
    records: list[dict] = []
    yield {"notes": word_notes(lang, notes), **CLEARED_GENERATION}
    sent_at, shaded_at = -SEND_EVERY, time.monotonic()  # the first character goes out at once
    for step in steps:
        if run.stop.is_set():
            break
        chars.append(step.char)
        probs.append(step.prob)
        records.append(service.step_record(step))
        now = time.monotonic()
        if now - sent_at < SEND_EVERY:
            continue
        sent_at = now
        update = {"continuation": "".join(chars)}
        if now - shaded_at >= SHADE_EVERY:  # the shaded view is heavy: refresh it sparingly
            shaded_at = now
            update["shaded"] = shaded_html(text, chars, probs, lang=lang)
        yield update
    if run.stop.is_set() and not run.keep:
        # the page moved on to another model, which cleared these views. A piece made as it did may
        # reach the page after them (the new model waits for the end half a second at most): the
        # last word clears them again
        yield CLEARED_GENERATION
        return
    last = max(len(records), 1)
    yield {
        "continuation": "".join(chars),
        "shaded": shaded_html(text, chars, probs, selected=last, lang=lang),
        "run": {"prompt": text, "records": records, "request": dataclasses.asdict(sampling)},
        "step": gr.Slider(minimum=1, maximum=max(last, 2), value=last, step=1, interactive=len(records) > 1),
    }


def on_inspect(run: dict | None, index, lang: str) -> dict:
    if not run or not run.get("records"):
        return {"model_dist": {}, "drawn_dist": {}, "inspect_notes": say(lang, "inspect_none")}
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
    return {
        "model_dist": label_value([tuple(pair) for pair in record["model_top"]], lang=lang),
        "drawn_dist": label_value([tuple(pair) for pair in record["top"]], lang=lang),
        "inspect_notes": "\n\n".join(lines),
        "shaded": shaded_html(run["prompt"], chars, probs, selected=n, lang=lang),
    }


# ---- RNN vs LSTM vs GRU ----


def on_compare(checkpoint: str, prompt: str | None, length, lang: str) -> dict:
    text, results = backend().compare(checkpoint, prompt, length)
    updates = {"compare_title": say(lang, "compare_of", text=text_label(text, lang))}
    for result in results:
        updates[f"compare_{result['cell']}_bars"] = label_value(result["next"], k=5, lang=lang)
        updates[f"compare_{result['cell']}_text"] = result["text"]
    return updates


def on_example(cell: str, length, own: list | None, lang: str, request=None) -> dict:
    """The long-context example: goethe's models (the cell in use), the prompt, the comparison."""
    service = backend()
    GENERATIONS.end(session_of(request))
    text, prompt = service.LONG_CONTEXT_EXAMPLE
    checkpoint = service.checkpoint_name(text, cell if cell in CELLS else FIRST_CELL)
    return {**use_model(checkpoint, lang, own=own), "compare_prompt": prompt, **on_compare(checkpoint, prompt, length, lang)}


def on_probe(lang: str) -> dict:
    return {"probe_table": probe_html(backend().probe(), lang)}


# ---- inside ----


def on_model_inside(checkpoint: str, lang: str) -> dict:
    """The states and gates a model has, and its layers, for the pickers of the inside tab."""
    model = backend().serving.get_model(checkpoint)
    layers = model.config.layers
    return {
        "which": gr.Dropdown(choices=state_choices(model.config.cell, lang), value="h"),
        "layer": gr.Slider(minimum=1, maximum=max(layers, 2), value=1, step=1, interactive=layers > 1, visible=layers > 1),
    }


def on_inside(checkpoint: str, prompt: str | None, which: str, layer, step, lang: str) -> dict:
    """The heatmap and the step's vectors of the prompt typed in the Inside tab, and the saliency."""
    return {**heat_views(checkpoint, prompt, which, layer, step, lang), **on_inside_drawn(checkpoint, prompt, lang)}


def on_inside_drawn(checkpoint: str, prompt: str | None, lang: str) -> dict:
    """Asked for (the button, Enter): the saliency too, slow (occlusion through three models), so never
    on every keystroke; from now on a new model redraws it."""
    return {**on_saliency(checkpoint, prompt, lang), "inside_drawn": True}


def on_saliency_drawn(checkpoint: str, prompt: str | None, drawn: bool, lang: str) -> dict:
    """The saliency for a new model, when it had been asked for."""
    return on_saliency(checkpoint, prompt, lang) if drawn else {}


def heat_views(checkpoint: str, prompt: str | None, which: str, layer, step, lang: str) -> dict:
    """The heatmap of one state over the prompt and every vector of the selected step (step None: the last)."""
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
    noted = word_notes(lang, notes)
    return {
        "inside_title": f"**{state_name(which, lang)}**" + ("\n\n" + noted if noted else ""),
        "heat": heatmap_html(trace.chars, values_of[which], which, selected=n),
        "inside_step": gr.Slider(minimum=1, maximum=max(steps, 2), value=n, step=1, interactive=steps > 1),
        "vectors": read + "".join(vectors),
    }


def on_saliency(checkpoint: str, prompt: str | None, lang: str) -> dict:
    """How much each prompt character drove the prediction, through the text's three cells (occlusion)."""
    service = backend()
    text = service.text_of(checkpoint)
    checkpoints = [service.checkpoint_name(text, other) for other in CELLS] if text else [checkpoint]
    salient = service.saliencies(checkpoints, prompt)
    saliency = "".join(
        saliency_html(f"{r['checkpoint']}: '{visible_text(r['target'])}' {r['prob']:.0%}", r["chars"], r["scores"]) for r in salient
    )
    return {"saliency_view": saliency}


# ---- inside: one step explained (charmodels.explain.step, typeset by demo/explainer.py) ----

MAX_UNITS_PICKED = 8  # units one card and the diagram explain at once


def picked_units(units, hidden: int) -> list[int] | None:
    """The units picker's value as unit numbers below `hidden` (None: let the library choose)."""
    chosen = []
    for unit in units or []:
        try:
            number = int(unit)
        except (TypeError, ValueError):
            continue
        if 0 <= number < hidden and number not in chosen:
            chosen.append(number)
    return chosen[:MAX_UNITS_PICKED] or None


def explain_views(checkpoint: str, prompt: str | None, step, units, layer, temperature, top_k, top_p, lang: str) -> dict:
    """The card, the diagram and the input of step `step` (1-based; None: the last character) for
    the picked units; the softmax walk at the page's temperature (greedy, 0, explains the bars: T = 1)."""
    from charmodels.explain import step as explain_step
    from demo.explainer import card_markdown, diagram_svg, input_html

    service = backend()
    model = service.serving.get_model(checkpoint)
    text, _ = service.prepare_prompt(model, prompt, limit=service.MAX_INSIDE)
    t = min(max(int(step), 1), len(text)) - 1 if step else len(text) - 1
    layer = min(max(int(layer or 1), 1), model.config.layers) - 1
    request = service.check_request(0, temperature or 0, top_k, top_p, None)
    e = explain_step(model, text, t, picked_units(units, model.config.hidden_size), layer,
                     request.temperature or 1.0, request.top_k, request.top_p)
    hidden = model.config.hidden_size
    return {
        "explain_card": card_markdown(e, lang),
        "explain_diagram": diagram_svg(e, lang),
        "explain_input": input_html(e, lang),
        "units": gr.Dropdown(multiselect=True, choices=[(str(u), str(u)) for u in range(hidden)], value=[str(u.unit) for u in e.units]),
    }


def on_inside_live(checkpoint: str, prompt: str | None, which: str, layer, units, temperature, top_k, top_p,
                   lang: str) -> dict:
    """The Inside tab follows its prompt as it is typed: the heatmap, the vectors, the card and the
    diagram at the last character. Not the saliency: slow (a third of a second for 160 characters), it
    is drawn when asked for (on_inside_drawn); the one shown spells out the prompt it explains."""
    return {**heat_views(checkpoint, prompt, which, layer, None, lang),
            **explain_views(checkpoint, prompt, None, units, layer, temperature, top_k, top_p, lang)}


def on_inside_step(checkpoint: str, prompt: str | None, which: str, layer, step, units, temperature, top_k, top_p,
                   lang: str) -> dict:
    """One step control drives the heatmap's marked column, the vectors, the card and the diagram."""
    return {**heat_views(checkpoint, prompt, which, layer, step, lang),
            **explain_views(checkpoint, prompt, step, units, layer, temperature, top_k, top_p, lang)}


def on_inside_move(delta: int, checkpoint: str, prompt: str | None, which: str, layer, step, units, temperature,
                   top_k, top_p, lang: str) -> dict:
    """The previous or next character (clamped to the prompt read)."""
    service = backend()
    text, _ = service.prepare_prompt(service.serving.get_model(checkpoint), prompt, limit=service.MAX_INSIDE)
    moved = min(max(int(step or len(text)) + delta, 1), len(text))
    return on_inside_step(checkpoint, prompt, which, layer, moved, units, temperature, top_k, top_p, lang)


def on_inside_play(checkpoint: str, prompt: str | None, which: str, layer, step, units, temperature,
                   top_k, top_p, lang: str) -> dict:
    """Play starts where the step is, or from the first character when it is at the last one
    (page.js then moves it on, one character a second, to the end)."""
    service = backend()
    text, _ = service.prepare_prompt(service.serving.get_model(checkpoint), prompt, limit=service.MAX_INSIDE)
    at_end = int(step or len(text)) >= len(text)
    return on_inside_step(checkpoint, prompt, which, layer, 1 if at_end else step, units, temperature, top_k, top_p, lang)


def on_model_explain(checkpoint: str, lang: str) -> dict:
    """A new model: its units picker starts empty (the library's choice), the views blank until drawn."""
    hidden = backend().serving.get_model(checkpoint).config.hidden_size
    return {"units": gr.Dropdown(multiselect=True, choices=[(str(u), str(u)) for u in range(hidden)], value=[])}


def on_new_model_inside(checkpoint: str, prompt: str | None, drawn: bool, lang: str) -> dict:
    """The model changed: the inside pickers follow it (the units picker emptied, for the library's
    choice), and the views are redrawn for it from the prompt typed there (kept, never replaced by
    the page's prompt); a saliency asked for follows in a second update (on_saliency_drawn)."""
    updates = {**on_model_inside(checkpoint, lang), **on_model_explain(checkpoint, lang)}
    updates.update(on_inside_live(checkpoint, prompt, "h", 1, None, 0, 0, 1, lang))
    return updates


# ---- training one's own ----


def read_text_upload(path: str | None, lang: str) -> dict:
    """A .txt upload into the text box, checked (size, UTF-8) by charmodels.jobs."""
    if not path:
        return {}
    from charmodels.jobs import read_text_file

    return {"train_text": read_text_file(path)}


def seconds(value: float) -> int:
    """A time as the page says it: whole seconds, at least 1."""
    return max(1, round(value))


def line_text(lang: str, status) -> str:
    """Where a waiting request stands: its place in line and its expected and latest start and end."""
    return say(lang, "queue_waiting", position=status.position, start=seconds(status.start_expected),
               start_max=seconds(status.start_at_most), end=seconds(status.end_expected))


def left_text(lang: str, status) -> str:
    """Why a request is no longer in line (it left, the session or the app ended, it expired)."""
    reason = "expired" if status.state == "expired" else status.reason
    return f"**{say(lang, 'job_left')}** · {say(lang, f'left_{reason}')}"


def scores_text(lang: str, metrics) -> str:
    return say(lang, "job_scores", tf_acc=metrics.tf_acc, recon=metrics.recon, min_p=metrics.min_p)


def trained_text(lang: str, status) -> str:
    """How a training ended, with its metrics; a text that did not reach the bar is said plainly."""
    if status.state == "failed":
        problem = code_text(lang, status.error, status.error_params)
        return f"**{say(lang, 'job_failed')}** · {say(lang, 'job_error', problem=problem)}"
    result = status.result
    m, history = result.metrics, result.history
    if result.reason == "all_steps":
        message = say(lang, "job_not_reached", step=history.steps, recon=m.recon, tf_acc=m.tf_acc, min_p=m.min_p)
    else:
        from charmodels.jobs import QUEUE_TIME_LIMIT

        message = say(lang, f"job_{result.reason}", step=history.steps, seconds=history.seconds,
                      time_limit=QUEUE_TIME_LIMIT, scores=scores_text(lang, m))
    cached = say(lang, "queue_cached") if status.cached else ""
    return f"**{say(lang, f'job_{result.state}')}** · {message}{cached}"


def train_update(lang: str, status, truth: str) -> dict:
    """What the Train tab shows of a ticket's status (nothing for a ticket another click replaced)."""
    if status.state == "waiting":
        return {"train_status": f"**{say(lang, 'job_waiting')}** · {line_text(lang, status)}"}
    if status.state == "running":
        progress = status.progress
        ends = say(lang, "queue_ends", end=seconds(status.end_expected), end_max=seconds(status.end_at_most))
        if progress is None:
            return {"train_status": f"**{say(lang, 'job_running')}** · {say(lang, 'job_starting')}{ends}"}
        return {
            "train_status": f"**{say(lang, 'job_running')}** · "
                            f"{say(lang, 'job_training', step=progress.step, max_steps=progress.max_steps)}{ends}",
            "train_loss": loss_curve(loss_frame(progress.loss), lang),
            "train_view": snapshot_html(progress.step, progress.prediction, truth, lang) if progress.prediction else "",
        }
    if status.state in ("left", "expired"):
        return {} if status.reason == "replaced" else {"train_status": left_text(lang, status)}
    update = {"train_status": trained_text(lang, status)}
    if status.state == "done":
        history = status.result.history
        update["train_loss"] = loss_curve(loss_frame(history.loss), lang)
        if history.snapshots:
            step, prediction = history.snapshots[-1]
            update["train_view"] = snapshot_html(step, prediction, truth, lang)
    return update


def train_record(status) -> dict:
    """A text training's status as plain JSON for the API (English): state, place in line and
    times while waiting, step, loss and prediction while running, reason and metrics at the end."""
    record = {"state": status.state}
    if status.state == "waiting":
        record.update(position=status.position, start_expected=round(status.start_expected, 1),
                      start_at_most=round(status.start_at_most, 1))
    if status.state in ("waiting", "running"):
        record.update(end_expected=round(status.end_expected, 1), end_at_most=round(status.end_at_most, 1))
    progress = status.progress
    if status.state == "running" and progress is not None:
        record.update(step=progress.step, max_steps=progress.max_steps, loss=progress.loss[-1][1] if progress.loss else None,
                      prediction=progress.prediction)
    if status.state == "done":
        result = status.result
        m = result.metrics
        record.update(reason=result.reason, step=result.history.steps, seconds=round(result.history.seconds, 2),
                      cached=status.cached, meets_bar=m.meets_bar,
                      metrics={"tf_acc": m.tf_acc, "recon": m.recon, "bpc": m.bpc, "min_p": m.min_p})
        record["message"] = trained_text("en", status).split(" · ", 1)[1].replace("**", "")
    if status.state == "failed":
        record.update(error=status.error, message=code_text("en", status.error, status.error_params))
    if status.state in ("left", "expired"):
        record.update(reason=status.reason or "expired", message=left_text("en", status).split(" · ", 1)[1])
    return record


async def on_train(text: str, name: str, cell: str, hidden_size, steps, lines: bool, lang: str,
                   request=None) -> AsyncIterator[dict]:
    """The page's text in the one fair line (never refused): its place and times while it waits,
    the loss and the prediction string while it runs, then the model, offered and used.

    An async generator: a visitor waiting in line holds no server thread.
    """
    service = backend()
    owner = session_of(request)
    ticket, truth = await asyncio.to_thread(service.start_training, owner, text, name, cell, hidden_size, steps, lines)
    yield {"trained": None}  # the page adopts a model only when this training ends with one
    async for status in ticket.updates_async():
        update = train_update(lang, status, truth)
        if status.state == "done":  # a model to offer, and to use in every tab
            path = status.result.path
            update.update(train_download=str(path), trained=await asyncio.to_thread(service.register_own, owner, path))
        if update:
            yield update


def on_stop_training(request=None) -> dict:
    """Stop: a running training ends with its model so far (saved, offered and used); one still
    waiting leaves the line."""
    ticket = backend().owned(session_of(request), "text")
    if ticket is not None:
        ticket.stop()
    return {}


# ---- the memory lab ----


def lab_choices(lang: str):
    return gr.Radio(choices=[(say(lang, f"lab_note_{name}"), name) for name in LAB_GRIDS])


def on_lab_grid(name: str, lang: str) -> dict:
    from charmodels.lab import format_table

    grid = backend().lab_results()[name]
    frame = pd.DataFrame(
        [(row["cell"].upper(), row["gap"], row["mean"]) for row in grid["means"]], columns=["cell", "gap", "accuracy"]
    ).astype({"gap": "int64", "accuracy": "float64"})
    note = say(lang, f"lab_note_{name}") if name in LAB_GRIDS else grid["config"].get("note", name)
    table = f"```text\n{format_table(grid['means'])}\n```\n{note}"
    return {"lab_plot": frame, "lab_table": table}  # the plot gets its points only: see loss_curve


LAB_FLOW_GAPS = labflow.GAPS


def on_lab_flow(gap, lang: str) -> dict:
    """The lab task's gradient flow at gap L for the three cells, as shipped (charmodels.labflow)."""
    from demo import through_time

    flows = labflow.shipped().get(int(gap))
    if flows is None:
        from charmodels.errors import CharmodelsError

        raise CharmodelsError("not_choice", name="gap", choices=", ".join(map(str, LAB_FLOW_GAPS)), got=str(gap))
    return {"lab_flow": through_time.flow_svg({cell.upper(): flow for cell, flow in flows.items()}, lang)}


CELL_COLORS = {"RNN": "#2563eb", "LSTM": "#ea580c", "GRU": "#16a34a"}
CELL_LEGEND = " · ".join(f'<span style="color:{color}">■</span> {cell}' for cell, color in CELL_COLORS.items())


def on_lab_cell(cell: str) -> dict:
    """The forget-gate option is the LSTM's alone."""
    return {"lab_forget": gr.Checkbox(visible=cell == "lstm")}


def lab_result_text(lang: str, result, stopped_by_you: bool) -> str:
    verdict = "lab_yes" if result.accuracy >= 0.9 else "lab_no" if result.accuracy <= 0.6 else "lab_partly"
    ended = "" if not result.stopped else say(lang, "lab_stopped" if stopped_by_you else "lab_limit")
    cell = result.config.cell
    return say(lang, "lab_result", cell=cell.upper(), gap=result.config.gap, accuracy=result.accuracy,
               verdict=say(lang, verdict), chance=result.chance, loss=result.eval_loss, hidden=result.hidden,
               parameters=result.parameters, steps=result.steps, seconds=result.seconds, limit=ended)


def lab_update(lang: str, status, stopped_by_you: bool) -> dict:
    """What the lab shows of its ticket's status (nothing for a ticket another click replaced)."""
    if status.state == "waiting":
        return {"lab_result": line_text(lang, status)}
    if status.state == "running":
        progress = status.progress
        ends = say(lang, "queue_ends", end=seconds(status.end_expected), end_max=seconds(status.end_at_most))
        if progress is None:
            return {"lab_result": say(lang, "job_starting") + ends + PROGRESS}
        return {"lab_loss": loss_curve(loss_frame(progress.loss), lang),
                "lab_result": say(lang, "lab_progress", taken=progress.step, steps=progress.max_steps) + ends + PROGRESS}
    if status.state in ("left", "expired"):
        return {} if status.reason == "replaced" else {"lab_result": left_text(lang, status)}
    if status.state == "failed":
        return {"lab_result": say(lang, "job_error", problem=code_text(lang, status.error, status.error_params))}
    result = status.result
    cached = say(lang, "queue_cached") if status.cached else ""
    return {"lab_loss": loss_curve(loss_frame(result.loss_curve), lang),
            "lab_result": lab_result_text(lang, result, stopped_by_you) + cached}


async def on_lab_run(cell: str, gap, steps, seed, forget_bias: bool, curriculum: bool, lang: str,
                     request=None) -> AsyncIterator[dict]:
    """One lab point through the fair line: a point a classmate already ran (same settings and
    seed) is served at once; Stop ends it with the model so far measured."""
    service = backend()
    owner = session_of(request)
    ticket = await asyncio.to_thread(service.start_lab_point, owner, cell, gap, steps, seed, forget_bias, curriculum)
    try:
        async for status in ticket.updates_async():
            update = lab_update(lang, status, stopped_by_you=ticket.id in LAB_STOPPED)
            if update:
                yield update
    finally:
        LAB_STOPPED.discard(ticket.id)


LAB_STOPPED: set[str] = set()  # lab tickets whose page pressed Stop (a stopped result says "stopped by you")


def on_lab_stop(request=None) -> dict:
    """Stop: the page's lab point ends after its current step and the model so far is measured
    (one still waiting leaves the line; a run shared with classmates goes on for them)."""
    ticket = backend().owned(session_of(request), "lab")
    if ticket is not None:
        LAB_STOPPED.add(ticket.id)
        ticket.stop()
    return {}


def on_unload(request=None) -> None:
    """The page went away: its trainings, their files and its own models go with it."""
    backend().end_session(session_of(request))


def on_stop(request=None) -> dict:
    """Stop pressed: the page's generation ends at once, what it wrote kept and inspectable."""
    GENERATIONS.end(session_of(request), keep=True)
    return {}


# ---- through time (issue 13), links and the guided lesson ----
# Append to demo/handlers.py. demo.urlstate, demo.lessons and demo.through_time import torch (through
# charmodels): imported inside the functions, as backend() is, never before the page is served.


def notes_html(lang: str, notes) -> str:
    """service.Note's as a paragraph above an HTML view."""
    return f"<p class='cm-tt-notes'>{html.escape(word_notes(lang, notes, between=' '))}</p>" if notes else ""


def on_surprise(checkpoint: str, text: str | None, lang: str) -> dict:
    """The text typed in the through-time tab, each character shaded by its surprisal under the model,
    a bigram and a unigram of the training text."""
    from demo import through_time

    read, notes = backend().surprise(checkpoint, text)
    return {"surprise_view": notes_html(lang, notes) + through_time.surprise_html(read, lang)}


def on_recital(checkpoint: str, prompt: str | None, length, temperature, seed, lang: str) -> dict:
    """A continuation of the page's prompt at the page's temperature and seed, marked recited / invented."""
    from demo import through_time

    service = backend()
    request = service.check_request(length, temperature, 0, 1, seed)
    marked, notes = service.recital(checkpoint, prompt, request)
    return {"recital_view": notes_html(lang, notes) + through_time.recital_html(marked, lang)}


def on_flow(checkpoint: str, prompt: str | None, step, lang: str) -> dict:
    """The gradient flow of the prediction at the Inside tab's step, for the text's three cells side by side."""
    from demo import through_time

    flows, notes = backend().flow(checkpoint, prompt, step)
    return {"flow_view": notes_html(lang, notes) + through_time.flow_svg(flows, lang)}


def course_update(lang: str, status) -> dict:
    """What the course comparison shows of its ticket's status."""
    from demo import through_time

    if status.state == "waiting":
        return {"course_status": line_text(lang, status)}
    if status.state == "running":
        if status.progress is None:
            return {"course_status": say(lang, "job_starting") + PROGRESS}
        return {"course_status": through_time.course_progress_markdown(status.progress, lang)}
    if status.state in ("left", "expired"):
        return {} if status.reason == "replaced" else {"course_status": left_text(lang, status)}
    if status.state == "failed":
        return {"course_status": say(lang, "job_error", problem=code_text(lang, status.error, status.error_params))}
    cached = say(lang, "queue_cached") if status.cached else ""
    return {"course_status": cached, "course_view": through_time.course_html(status.result, lang)}


async def on_course(text: str | None, cell: str, lang: str, request=None) -> AsyncIterator[dict]:
    """Seed 000's windowed recipe against charmodels' whole-sequence one, through the fair line (a class
    clicking the same button shares one run), live: the prediction string as it trains, then the verdict."""
    service = backend()
    ticket = await asyncio.to_thread(service.start_course, session_of(request), text, cell)
    async for status in ticket.updates_async():
        update = course_update(lang, status)
        if update:
            yield update


def on_course_stop(request=None) -> dict:
    """Stop: the comparison ends after its current step, the runs so far measured and shown."""
    ticket = backend().owned(session_of(request), "course")
    if ticket is not None:
        ticket.stop()
    return {}


# ---- links (demo/urlstate.py) and the guided lesson (demo/lessons.py) ----


def view_updates(view, lang: str, own: list | None, checkpoint: str, inside_prompt: str | None) -> dict:
    """A link's or a lesson card's view (demo.urlstate.View) as the page's updates: the model (and its
    size), the prompts of every tab, the sampling settings, the tab, and the Inside tab's step.

    A new model or a new Inside prompt sets the Inside views to the last character (their own events,
    which run after this one): the step is then applied after each of them (`pending_step`, read by
    on_pending_step), and at once when neither changes."""
    from demo import urlstate

    updates: dict = {}
    target = checkpoint
    if view.text is not None or view.cell is not None or view.size is not None:
        target = urlstate.checkpoint_of(view, FIRST_TEXT, FIRST_CELL)
        updates.update(use_model(target, lang, prompt=view.prompt, own=own))
        # the units picker emptied with the new model's choices in the same update: an Inside event this
        # update starts must not send the previous model's units (Gradio refuses a value not in the choices)
        updates.update(on_model_explain(target, lang))
    elif view.prompt is not None:
        updates.update({"prompt": view.prompt})
    if view.prompt is not None:
        updates.update({"inside_prompt": view.prompt, "compare_prompt": view.prompt, "surprise_text": view.prompt})
    for name in ("temperature", "top_k", "top_p", "seed"):
        if getattr(view, name) is not None:
            updates[name] = getattr(view, name)
    if view.tab is not None:
        updates["tabs"] = gr.Tabs(selected=view.tab)
        updates["current_tab"] = view.tab
    prompt = inside_prompt if view.prompt is None else view.prompt
    followers = int(target != checkpoint) + int(prompt != inside_prompt)  # Inside events this update starts
    updates["pending_step"] = None
    if view.step is not None and followers:
        updates["pending_step"] = {"checkpoint": target, "prompt": prompt, "step": view.step, "left": followers}
    elif view.step is not None:
        sampling = (view.temperature or 0.0, view.top_k or 0, 1.0 if view.top_p is None else view.top_p)
        updates.update(on_inside_step(target, prompt, "h", 1, view.step, None, *sampling, lang))
    return updates


def lesson_views(n: int, lang: str) -> dict:
    """Card n: its text in the page's language, the picker on it, what to highlight."""
    from demo import lessons

    return {"lesson_card": lessons.card_markdown(lang, n),
            "lesson_pick": gr.Dropdown(choices=lessons.choices(lang), value=n),
            "lesson_box": gr.Accordion(open=True), "highlight_id": lessons.card(n).highlight}


def on_link(lang: str, own: list | None, checkpoint: str, inside_prompt: str | None, request=None) -> dict:
    """The page opened from a link: its view (over the lesson card it names), and a note naming every
    parameter it ignored, in the page's language. A link without parameters changes nothing."""
    from demo import lessons, urlstate

    view, notes = urlstate.parse(getattr(request, "query_params", None), FIRST_TEXT, FIRST_CELL)
    updates = {"lesson_pick": gr.Dropdown(choices=lessons.choices(lang)),
               "link_notes": gr.Markdown(value=urlstate.notes_markdown(lang, notes), visible=bool(notes))}
    if view.lesson is not None:
        view = view.over(lessons.view_of(view.lesson))
        updates.update(lesson_views(view.lesson, lang))
    if view != urlstate.View():
        updates.update(view_updates(view, lang, own, checkpoint, inside_prompt))
    return updates


def on_lesson(n, own: list | None, checkpoint: str, inside_prompt: str | None, lang: str, request=None) -> dict:
    """A card picked (the picker, or a link): its view, its text, its highlight."""
    from charmodels.checks import whole
    from demo import lessons

    n = whole("lesson", n, 1, len(lessons.LESSONS))
    GENERATIONS.end(session_of(request))
    return {**view_updates(lessons.view_of(n), lang, own, checkpoint, inside_prompt), **lesson_views(n, lang)}


def on_lesson_move(delta: int, n, own: list | None, checkpoint: str, inside_prompt: str | None, lang: str,
                   request=None) -> dict:
    """The previous or next card (clamped to the lesson); from no card, the first."""
    from demo import lessons

    moved = min(max(int(n or 0) + delta, 1), len(lessons.LESSONS))
    return on_lesson(moved, own, checkpoint, inside_prompt, lang, request=request)


def on_pending_step(checkpoint: str, prompt: str | None, pending: dict | None, temperature, top_k, top_p,
                    lang: str) -> dict:
    """After an Inside event a link or a card started (a new model, a new prompt: the views at the last
    character), the link's or card's step, with the library's choice of units (the units picker may
    still hold the previous model's). Once every such event has run, the pending step is dropped."""
    if pending is None or (checkpoint, prompt) != (pending["checkpoint"], pending["prompt"]):
        return {}  # an event of the view before the link's (its inputs read before the link's arrived)
    left = pending["left"] - 1
    return {**on_inside_step(checkpoint, prompt, "h", 1, pending["step"], None, temperature, top_k, top_p, lang),
            "pending_step": {**pending, "left": left} if left > 0 else None}


def on_copy_link(checkpoint: str, prompt: str | None, inside_prompt: str | None, tab: str | None, step, temperature,
                 top_k, top_p, seed, lesson, lang: str) -> dict:
    """The link of the view on the page (a model of one's own is left out: a link cannot carry it)."""
    from demo import urlstate

    service = backend()
    model = service.serving.get_model(checkpoint)
    text = None if service.serving.is_upload(checkpoint) else service.text_of(checkpoint)
    on_inside = tab == "inside"
    view = urlstate.View(
        text=text, cell=model.config.cell if text else None, size=model.config.hidden_size if text else None,
        prompt=(inside_prompt if on_inside else prompt) or None, tab=tab, step=int(step) if on_inside and step else None,
        temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), seed=int(seed),
        lesson=int(lesson) if lesson else None,
    )
    view, _ = urlstate.parse(urlstate.build(view))  # what the page holds is valid; anything else is left out
    return {"link_query": urlstate.build(view), "link_box": gr.Textbox(visible=True)}
