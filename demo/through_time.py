"""The through-time views (issue 13): surprise, recital, gradient flow and the course's recipe, typeset.

Pure functions from the library's data to HTML (or a DataFrame) the page shows; no model
logic, every number is a field of the data, only formatted:

- `surprise_html`: a text read by the model, a bigram and a unigram model (charmodels.surprise):
  each character shaded by its surprisal in bits, its bits, probability and rank in a title
  (hover or tap), the most surprising characters listed, and the three bits-per-character figures.
- `recital_html`: a sample marked recited / invented (charmodels.recital), with the shares.
- `flow_svg`: the gradient flow (charmodels.gradflow) of several models side by side on one
  logarithmic scale, saying exactly what is plotted; `flow_frame` the same as a DataFrame
  (log10 of each norm) for a gr.LinePlot.
- `course_html`: the course's recipe against charmodels' (charmodels.course): the two prediction
  strings with the wrong characters marked, the verdicts, and why in two sentences;
  `course_progress_markdown` a run under way; `context_markdown` how much context a text needs.

Every sentence goes through demo/i18n.py (`say`); colour is never the only carrier (numbers in
titles and tables, recited spans underlined, wrong characters bold). Sizes are in em, so the
projector mode's larger type scales them.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from charmodels.course import (
    COURSE_RECIPE,
    Comparison,
    ContextNeed,
    CourseProgress,
    RecipeRun,
)
from charmodels.gradflow import GradientFlow
from charmodels.recital import INVENTED, PROMPT, RECITED, Recital
from charmodels.surprise import Surprise

from .i18n import say
from .views import visible

MONO = "font-family:var(--font-mono),monospace;"
TEXT_STYLE = f"{MONO}font-size:1.15em;line-height:2.0;white-space:pre-wrap;word-break:break-all;"
WORST_SHOWN = 5  # the most surprising characters listed under the text
NAMES = {"model": "tt_model", "bigram": "tt_bigram", "unigram": "tt_unigram"}
# the gradient-flow picture: one panel per model, one line per vector differentiated
PANEL_W, PANEL_H, MARGIN_L, MARGIN_B, MARGIN_T = 400, 330, 70, 70, 46
FONT = 17  # px in the SVG's own units: about 20 px on a 1280-wide projector
LINE_STYLE = {"input": "", "hidden": "8 5", "cell": "2 4"}
LINE_COLOUR = {"input": "#1d4ed8", "hidden": "#b45309", "cell": "#047857"}
FLOOR = 1e-30  # a norm of exactly 0 is drawn at the bottom of the scale, its title says 0
MAX_LABELLED = 40  # characters written under a panel's axis; beyond, every k-th distance


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def markdown_escape(text: str) -> str:
    """Text safe inside gr.Markdown: no HTML, no Markdown syntax."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(text, quote=True))


def bits(value: float) -> str:
    """Bits as every view shows them: 2 decimals."""
    return f"{float(value):.2f}"


# ---- surprise ----


def shade(value: float, scale: float) -> str:
    """A red background whose opacity grows with `value` / `scale` (capped at 1)."""
    alpha = 0.0 if scale <= 0 else min(max(float(value) / scale, 0.0), 1.0)
    return f"rgba(220,38,38,{0.85 * alpha:.3f})"


def surprise_html(read: Surprise, lang: str | None) -> str:
    """The text three times, shaded by each model's surprisal; titles with bits, p and rank; the
    most surprising characters of the recurrent model; the three bits per character."""
    vocab = len(read.vocab)
    blind = math.log2(vocab) if vocab > 1 else 1.0  # a blind guess: full colour
    rows = []
    for name in ("model", "bigram", "unigram"):
        scores = getattr(read, name)
        label = say(lang, NAMES[name])
        cells = [(f'<span class="cm-tt-first" title="{esc(say(lang, "tt_first"))}" '
                  f'style="color:var(--body-text-color-subdued)">{esc(visible(read.text[0]))}</span>')]
        for i, char in enumerate(read.chars):
            tip = say(lang, "tt_surprise_tip", char=visible(char), bits=bits(scores.bits[i]),
                      p=f"{scores.probs[i]:.3f}", rank=int(scores.ranks[i]), of=vocab)
            cells.append(f'<span class="cm-tt-char" data-bits="{bits(scores.bits[i])}" data-rank="{int(scores.ranks[i])}" '
                         f'title="{esc(tip)}" style="background:{shade(scores.bits[i], blind)};border-radius:3px">'
                         f'{esc(visible(char))}</span>')
        rows.append(f'<div class="cm-tt-row" data-model="{name}" style="margin:4px 0">'
                    f'<div style="font-weight:600">{esc(label)}: {bits(scores.bpc)} {esc(say(lang, "tt_bpc_unit"))}</div>'
                    f'<div style="{TEXT_STYLE}">{"".join(cells)}</div></div>')
    figures = "".join(
        f'<tr data-model="{name}"><td style="padding:2px 12px 2px 0">{esc(say(lang, NAMES[name]))}</td>'
        f'<td style="padding:2px 12px;text-align:right;{MONO}">{bits(getattr(read, name).bpc)}</td></tr>'
        for name in ("model", "bigram", "unigram"))
    order = sorted(range(len(read.chars)), key=lambda i: -read.model.bits[i])[:WORST_SHOWN]
    worst = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;{MONO}">{esc(visible(read.chars[i]))}</td>'
        f'<td style="padding:2px 12px;text-align:right">{i + 2}</td>'
        f'<td style="padding:2px 12px;text-align:right;{MONO}">{bits(read.model.bits[i])}</td>'
        f'<td style="padding:2px 12px;text-align:right">{int(read.model.ranks[i])}</td></tr>'
        for i in order)
    head = "".join(f'<th style="padding:2px 12px 2px 0;text-align:left">{esc(say(lang, k))}</th>'
                   for k in ("tt_col_char", "tt_col_position", "tt_col_bits", "tt_col_rank"))
    legend = say(lang, "tt_surprise_legend", blind=bits(blind), of=vocab, chars=f"{read.training_chars:,}")
    return (f'<div class="cm-surprise">'
            f'<p class="cm-tt-legend">{esc(legend)}</p>{"".join(rows)}'
            f'<div style="display:flex;flex-wrap:wrap;gap:32px;margin-top:8px">'
            f'<table class="cm-tt-bpc" style="font-size:1em"><caption style="text-align:left;font-weight:600">{esc(say(lang, "tt_bpc_title"))}</caption>'
            f'{figures}</table>'
            f'<table class="cm-tt-worst" style="font-size:1em"><caption style="text-align:left;font-weight:600">{esc(say(lang, "tt_worst_title"))}</caption>'
            f'<tr>{head}</tr>{worst}</table></div></div>')


# ---- recital ----

SPAN_STYLE = {
    RECITED: "background:rgba(22,163,74,0.22);text-decoration:underline;text-decoration-thickness:2px;",
    INVENTED: "background:rgba(234,88,12,0.25);font-style:italic;",
    PROMPT: "color:var(--body-text-color-subdued);",
}


def recital_html(marked: Recital, lang: str | None) -> str:
    """The sample with recited runs underlined on green and invented ones italic on orange (a
    title on each), and the shares of what was written."""
    spans = []
    for span in marked.spans:
        tip = say(lang, f"tt_{span.kind}_tip", k=marked.min_length, n=span.end - span.start)
        spans.append(f'<span class="cm-tt-{span.kind}" data-kind="{span.kind}" title="{esc(tip)}" '
                     f'style="{SPAN_STYLE[span.kind]}">{esc(span.text)}</span>')
    written = marked.recited + marked.invented
    shares = say(lang, "tt_shares", recited=f"{marked.recited_share:.0%}", invented=f"{marked.invented_share:.0%}",
                 n=f"{written:,}", k=marked.min_length)
    legend = say(lang, "tt_recital_legend", k=marked.min_length)
    return (f'<div class="cm-recital"><p class="cm-tt-shares" style="font-weight:600">{esc(shares)}</p>'
            f'<div style="{TEXT_STYLE}">{"".join(spans)}</div>'
            f'<p class="cm-tt-legend">{esc(legend)}</p></div>')


# ---- gradient flow ----


def _series(flow: GradientFlow) -> dict[str, np.ndarray]:
    series = {"input": flow.input_norms, "hidden": flow.hidden_norms}
    if flow.cell_norms is not None:
        series["cell"] = flow.cell_norms
    return series


def flow_range(flows: Mapping[str, GradientFlow]) -> tuple[int, int]:
    """The powers of ten the shared y axis spans: (low, high) exponents, low < high."""
    values = np.concatenate([v for flow in flows.values() for v in _series(flow).values()])
    positive = values[values > 0]
    if positive.size == 0:
        return -1, 0
    low = math.floor(math.log10(max(float(positive.min()), FLOOR)))
    high = math.ceil(math.log10(float(positive.max())))
    return low, max(high, low + 1)


def flow_svg(flows: Mapping[str, GradientFlow], lang: str | None) -> str:
    """One panel per model, side by side, on the same logarithmic y axis: the L2 norm of the
    gradient of log p(target | text[:position]) with respect to x_t (solid), h_t (dashed) and the
    LSTM's c_t (dotted), against the characters read (the last one, distance 1, at the right).
    Every point has a <title>: the character, its distance and the norms."""
    if not flows:
        return ""
    low, high = flow_range(flows)
    first = next(iter(flows.values()))
    n = first.position
    width, height = MARGIN_L + len(flows) * PANEL_W, MARGIN_T + PANEL_H + MARGIN_B
    parts = []
    plot_w = PANEL_W - 30

    def y_of(value: float) -> float:
        v = math.log10(max(float(value), 10.0**low))
        return MARGIN_T + PANEL_H * (high - v) / (high - low)

    for k, (name, flow) in enumerate(flows.items()):
        left = MARGIN_L + k * PANEL_W
        x_of = (lambda t, left=left: left + (plot_w * (t + 0.5) / n))
        parts.append(f'<g class="cm-flow-panel" data-model="{esc(name)}">')
        parts.append(f'<rect x="{left}" y="{MARGIN_T}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#9ca3af"/>')
        title = say(lang, "tt_flow_panel", name=name, target=visible(flow.target), p=f"{flow.target_prob:.3f}")
        parts.append(f'<text x="{left + plot_w / 2}" y="{MARGIN_T - 14}" text-anchor="middle" font-size="{FONT}" '
                     f'font-weight="600">{esc(title)}</text>')
        for e in range(low, high + 1):  # grid lines at the powers of ten
            y = y_of(10.0**e)
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        step = 1 if n <= MAX_LABELLED else math.ceil(n / 10)
        for t in range(n):
            d = n - t
            if n <= MAX_LABELLED:
                parts.append(f'<text x="{x_of(t):.1f}" y="{MARGIN_T + PANEL_H + 20}" text-anchor="middle" '
                             f'font-size="{FONT if n <= 20 else FONT - 4}" font-family="monospace">{esc(visible(flow.text[t]))}</text>')
            if d % step == 0 or d == 1:
                parts.append(f'<text x="{x_of(t):.1f}" y="{MARGIN_T + PANEL_H + 44}" text-anchor="middle" '
                             f'font-size="{FONT - 4}" fill="#4b5563">{d}</text>')
        for quantity, values in _series(flow).items():
            points = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in enumerate(values))
            dash = f' stroke-dasharray="{LINE_STYLE[quantity]}"' if LINE_STYLE[quantity] else ""
            parts.append(f'<polyline class="cm-flow-line" data-quantity="{quantity}" points="{points}" fill="none" '
                         f'stroke="{LINE_COLOUR[quantity]}" stroke-width="2.5"{dash}/>')
        for t in range(n):
            norms = ", ".join(f"{say(lang, 'tt_flow_' + q)} {float(v[t]):.2e}" for q, v in _series(flow).items())
            tip = say(lang, "tt_flow_tip", char=visible(flow.text[t]), d=n - t, norms=norms)
            parts.append(f'<circle cx="{x_of(t):.1f}" cy="{y_of(flow.input_norms[t]):.1f}" r="4" '
                         f'fill="{LINE_COLOUR["input"]}" data-t="{t}" data-norm="{float(flow.input_norms[t]):.3e}">'
                         f'<title>{esc(tip)}</title></circle>')
        parts.append("</g>")
    for e in range(low, high + 1):  # the shared axis, left of the first panel
        parts.append(f'<text x="{MARGIN_L - 8}" y="{y_of(10.0**e) + 5:.1f}" text-anchor="end" font-size="{FONT - 2}">'
                     f'10<tspan dy="-7" font-size="{FONT - 6}">{e}</tspan></text>')
    axis = say(lang, "tt_flow_axis")
    parts.append(f'<text x="{width / 2}" y="{height - 4}" text-anchor="middle" font-size="{FONT - 2}" fill="#374151">{esc(axis)}</text>')
    legend = " · ".join(f"{say(lang, 'tt_flow_line_' + q)}" for q in ("input", "hidden", "cell")
                        if any(q in _series(f) for f in flows.values()))
    caption = say(lang, "tt_flow_caption", of=first.of, position=first.position, norm=first.norm.upper())
    if first.lines > 1:  # charmodels.gradflow.lab_flow: the means over the lab's held-out lines
        caption += " " + say(lang, "tt_flow_lines", lines=first.lines)
    return (f'<div class="cm-flow"><p class="cm-tt-legend" style="font-weight:600">{esc(caption)}</p>'
            f'<svg class="cm-flow-svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{esc(caption)}" style="max-width:{width}px">{"".join(parts)}</svg>'
            f'<p class="cm-tt-legend">{esc(legend)}</p></div>')


def flow_frame(flows: Mapping[str, GradientFlow]):
    """The same numbers as a pandas DataFrame for a gr.LinePlot: one row per model, quantity and
    step, with `log10_norm` (Gradio's native plots have no log axis: plot this column)."""
    import pandas as pd

    rows = []
    for name, flow in flows.items():
        for quantity, values in _series(flow).items():
            for t, value in enumerate(values):
                rows.append({"model": name, "quantity": quantity, "distance": int(flow.distance[t]),
                             "char": visible(flow.text[t]), "norm": float(value),
                             "log10_norm": math.log10(max(float(value), FLOOR))})
    return pd.DataFrame(rows, columns=["model", "quantity", "distance", "char", "norm", "log10_norm"])


# ---- the course's recipe against ours ----


def _marked(want: str, got: str) -> str:
    """`got` with each character that differs from `want` bold on red (and underlined)."""
    out = []
    for i, char in enumerate(got):
        if i >= len(want) or want[i] != char:  # a wrong space or newline must be seen: by its symbol
            out.append(f'<span class="cm-wrong" style="background:rgba(220,38,38,0.85);color:#fff;font-weight:700;'
                       f'text-decoration:underline;border-radius:3px">{esc(visible(char))}</span>')
        else:
            out.append(esc(char))
    return "".join(out)


def verdict(run: RecipeRun, lang: str | None) -> str:
    """One run's verdict: recites, or wrong at character n (and stopped at its time limit)."""
    text = say(lang, "tt_course_right") if run.predicts else say(lang, "tt_course_wrong", at=run.first_wrong)
    return text + (say(lang, "tt_course_stopped") if run.stopped else "")


def _word_at(text: str, index: int) -> str:
    """The word of `text` around `index` (letters and digits), or its character."""
    if not 0 <= index < len(text):
        return ""
    start, end = index, index + 1
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return text[start:end]


def why(result: Comparison | ContextNeed, lang: str | None, text: str | None = None) -> str:
    """The two sentences of why: how much context the text needs, and what a window of its size can do."""
    need = result.context if isinstance(result, Comparison) else result
    text = result.text if isinstance(result, Comparison) else (text or "")
    if need.needed is None:
        return say(lang, "tt_why_never")
    if need.example is None or need.learnable:
        return say(lang, "tt_why_learnable", needed=need.needed, window=need.window)
    e = need.example
    first_word = _word_at(text, e.first - need.needed) or e.first_far
    second_word = _word_at(text, e.second - need.needed) or e.second_far
    return say(lang, "tt_why_window", context=e.context.replace("\n", "⏎"), first=visible(e.first_next),
               second=visible(e.second_next), needed=need.needed, first_word=first_word, second_word=second_word,
               window=need.window)


def course_html(results: Sequence[Comparison], lang: str | None) -> str:
    """Per text: the two recipes' prediction strings (wrong characters marked) with their verdicts,
    steps and seconds, and why in two sentences."""
    blocks = []
    for result in results:
        rows = []
        for run in (result.course, result.whole):
            label = say(lang, "tt_course_seed" if run.recipe == COURSE_RECIPE else "tt_course_ours")
            detail = say(lang, "tt_course_detail", cell=run.cell.upper(), hidden=run.hidden_size, layers=run.layers,
                         steps=f"{run.steps:,}", seconds=f"{run.seconds:.1f}")
            ok = "cm-tt-right" if run.predicts else "cm-tt-wrong"
            rows.append(f'<div class="cm-course-run" data-recipe="{run.recipe}" data-predicts="{str(run.predicts).lower()}" '
                        f'style="margin:6px 0">'
                        f'<div><b>{esc(label)}</b> <span class="{ok}" style="font-weight:700">{esc(verdict(run, lang))}</span> '
                        f'<span style="color:var(--body-text-color-subdued)">({esc(detail)})</span></div>'
                        f'<div class="cm-course-prediction" style="{TEXT_STYLE}">{_marked(result.text[1:], run.prediction)}</div>'
                        f'</div>')
        blocks.append(f'<div class="cm-course-text" data-name="{esc(result.name)}" style="margin:10px 0">'
                      f'<div style="font-size:1.15em;font-weight:600">{esc(say(lang, "tt_course_text", name=result.name))}</div>'
                      f'{"".join(rows)}<p class="cm-course-why">{esc(why(result, lang))}</p></div>')
    return f'<div class="cm-course">{"".join(blocks)}</div>'


def course_progress_markdown(progress: CourseProgress, lang: str | None) -> str:
    """A comparison under way: which text and recipe, the step, the loss, the prediction so far."""
    recipe = say(lang, "tt_course_seed" if progress.recipe == COURSE_RECIPE else "tt_course_ours")
    line = say(lang, "tt_course_progress", name=progress.name, recipe=recipe, step=f"{progress.step:,}",
               loss=f"{progress.loss:.3f}", seconds=f"{progress.elapsed:.1f}")
    return f"{line}\n\n…{markdown_escape(progress.prediction[-60:].replace(chr(10), '⏎'))}"


def context_markdown(need: ContextNeed, text: str, lang: str | None) -> str:
    """How much context a visitor's text needs, and whether a window of `need.window` can learn it."""
    return why(need, lang, text)
