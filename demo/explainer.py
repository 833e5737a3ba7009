"""The explainer's views: one step of the model (charmodels.explain.step) typeset for the page.

Pure functions from the library's `Explained` data to text the page shows; no model logic:
every number here is a field of the step's data, only formatted (`num`).

- `card_markdown`: the seeds' equations with the step's numbers substituted, as Markdown with
  KaTeX display maths (`$$ ... $$`, rendered by gr.Markdown with `LATEX_DELIMITERS`). A tiny
  model (hidden at most explain.SHOW_ALL_UP_TO) shows its full matrices as labelled tables and
  every term; a larger one the chosen units' rows, each dot product's largest terms and
  "+ k more" with their exact sum.
- `diagram_svg`: the cell drawn in the style of seed 003's figures (colah's), every wire and
  gate coloured by its value at the step, one stripe per chosen unit, a <title> on each for
  hover and tap (colour is never the only carrier: the numbers are in the titles and the card).
- `input_html`: x_t as seed 001 draws it, the vocabulary with the active position lit, or
  the embedding row of an embedding model.

Every sentence goes through demo/i18n.py (`say`), in the page's language.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np

from charmodels.explain import SHOW_ALL_UP_TO, DotProduct, Explained, GateRow

from .i18n import say
from .views import colour, visible

# gr.Markdown(latex_delimiters=...): display maths only, so a "$" in a prompt is never maths
LATEX_DELIMITERS = [{"left": "$$", "right": "$$", "display": True}]
TERMS_PER_LINE = 3  # a long dot product wraps after this many terms (the card fits half a projector's width)

SYMBOL = {"h": "h", "i": "i", "f": "f", "g": "g", "o": "o", "r": "r", "z": "z", "n": "n"}
ACTIVATION = {"h": r"\tanh", "g": r"\tanh", "n": r"\tanh", "i": r"\sigma", "f": r"\sigma", "o": r"\sigma", "r": r"\sigma", "z": r"\sigma"}
GATE_RANGE = ("i", "f", "o", "r", "z")  # values in (0, 1): drawn green


def num(value: float) -> str:
    """A number as every view shows it: 3 decimals, or 2 significant digits when smaller than 0.001."""
    value = float(value)
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.1e}"
    shown = f"{value:.3f}"
    return "0.000" if shown == "-0.000" else shown


def _tex_num(value: float) -> str:
    """A number in LaTeX: negative ones in brackets where they are a factor or a summand."""
    shown = num(value)
    if "e" in shown:
        mantissa, exponent = shown.split("e")
        shown = rf"{mantissa}\!\times\!10^{{{int(exponent)}}}"
    return f"({shown})" if value < 0 and shown != "0.000" else shown


TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "_": r"\_",
               "%": r"\%", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_text(text: str) -> str:
    """Plain text (a character of the prompt, a sentence) inside LaTeX's \\text{...}."""
    return r"\text{" + "".join(TEX_SPECIAL.get(c, c) for c in text) + "}"


def md_text(text: str) -> str:
    """Plain text in Markdown: no character of it becomes markup or maths."""
    return html.escape(text).replace("|", "&#124;").replace("*", "&#42;").replace("_", "&#95;").replace(
        "`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;").replace("[", "&#91;")


def char_md(char: str) -> str:
    """A character of the vocabulary, visible (␣ ⏎) and in code style."""
    return f"<code>{md_text(visible(char))}</code>"


# ---- the equation card ------------------------------------------------------------------------


def dot_tex(dot: DotProduct, lang: str, lit: int | None = None) -> str:
    """W[row] . v as its terms (w)(v), the largest first, "+ k more" with their sum, "= total";
    `lit`: the one-hot position, whose 1 is boxed. Long sums wrap (inside an aligned block)."""
    parts = []
    for term in dot.terms:
        value = _tex_num(term.value)
        if lit is not None and term.index == lit:
            value = rf"\boxed{{{num(term.value)}}}"
        parts.append(f"{_tex_num(term.weight)} \\cdot {value}")
    if dot.rest_count:
        parts.append(rf"\underbrace{{{_tex_num(dot.rest)}}}_{{{tex_text(say(lang, 'ex_more', n=dot.rest_count))}}}")
    lines = [" + ".join(parts[k : k + TERMS_PER_LINE]) for k in range(0, len(parts), TERMS_PER_LINE)] or ["0"]
    return r" \\ &\quad + ".join(lines) + f" = {num(dot.total)}"


def _gate_tex(g: GateRow, cell: str, layer: int, lang: str, lit: int | None, r_value: float | None) -> str:
    u = g.unit
    s = SYMBOL[g.gate]
    x = "x_t" if layer == 0 else r"h^{(" + str(layer) + r")}_t"
    if cell == "rnn":
        W_x, W_h, b = r"W_{xh}", r"W_{hh}", "b"
    else:
        W_x, W_h, b = f"W_{{x{s}}}", f"W_{{h{s}}}", f"b_{{{s}}}"
    rows = [
        f"{W_x}[{u}]\\,{x} &= {dot_tex(g.x_part, lang, lit)}",
        f"{W_h}[{u}]\\,h_{{t-1}} &= {dot_tex(g.h_part, lang)}",
    ]
    act = ACTIVATION[g.gate]
    if g.bias_h is None:
        rows.append(f"{b}[{u}] &= {num(g.bias)}")
        inside = f"{num(g.x_part.total)} + {_tex_num(g.h_part.total)} + {_tex_num(g.bias)}"
    else:  # the GRU's candidate: r_t scales W_hn h_{t-1} + b_hn
        rows.append(f"b_{{xn}}[{u}] &= {num(g.bias)},\\quad b_{{hn}}[{u}] = {num(g.bias_h)}")
        inside = (f"{num(g.x_part.total)} + {_tex_num(g.bias)} + {_tex_num(r_value)}"
                  f"\\,({num(g.h_part.total)} + {_tex_num(g.bias_h)})")
    rows.append(f"{s}_t[{u}] &= {act}({inside}) = {act}({num(g.pre)}) = \\mathbf{{{num(g.value)}}}")
    return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$"


def _formula(gate: str, cell: str) -> str:
    """The gate's equation in the seeds' notation (torch's convention for the GRU)."""
    if cell == "rnn":
        return r"h_t = \tanh(W_{xh}\,x_t + W_{hh}\,h_{t-1} + b)"
    if gate == "n":
        return r"n_t = \tanh(W_{xn}\,x_t + b_{xn} + r_t \odot (W_{hn}\,h_{t-1} + b_{hn}))"
    return f"{gate}_t = {ACTIVATION[gate]}(W_{{x{gate}}}\\,x_t + W_{{h{gate}}}\\,h_{{t-1}} + b_{{{gate}}})"


def unit_markdown(e: Explained, lang: str) -> list[str]:
    """Each chosen unit: its gates' equations with the step's numbers, then c_t and h_t."""
    lit = e.input.index if (e.layer == 0 and e.input.one_hot) else None
    out = []
    for unit in e.units:
        u = unit.unit
        out.append(f"#### {md_text(say(lang, 'ex_unit', unit=u))}")
        r_value = unit.gates[0].value if e.cell == "gru" else None
        for g in unit.gates:
            out.append(f"$${_formula(g.gate, e.cell)}$$")
            out.append(_gate_tex(g, e.cell, e.layer, lang, lit, r_value))
        if e.cell == "lstm":
            i, f, g, o = (x.value for x in unit.gates)
            out.append(
                f"$$c_t[{u}] = f_t \\odot c_{{t-1}} + i_t \\odot g_t = {num(f)} \\cdot {_tex_num(unit.c_prev)} + "
                f"{num(i)} \\cdot {_tex_num(g)} = \\mathbf{{{num(unit.c)}}}$$"
            )
            out.append(
                f"$$h_t[{u}] = o_t \\odot \\tanh(c_t) = {num(o)} \\cdot \\tanh({num(unit.c)}) = "
                f"{num(o)} \\cdot {_tex_num(np.tanh(unit.c))} = \\mathbf{{{num(unit.h)}}}$$"
            )
        elif e.cell == "gru":
            z, n = unit.gates[1].value, unit.gates[2].value
            out.append(
                f"$$h_t[{u}] = (1 - z_t) \\odot n_t + z_t \\odot h_{{t-1}} = {num(1 - z)} \\cdot {_tex_num(n)} + "
                f"{num(z)} \\cdot {_tex_num(unit.h_prev)} = \\mathbf{{{num(unit.h)}}}$$"
            )
    return out


def _table(title: str, rows: list[str], columns: list[str], matrix: np.ndarray, bold_column: int | None = None) -> str:
    head = "| | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns)
    body = []
    for label, values in zip(rows, np.atleast_2d(matrix)):
        cells = [f"**{num(v)}**" if k == bold_column else num(v) for k, v in enumerate(values)]
        body.append(f"| {label} | " + " | ".join(cells) + " |")
    return f"**{md_text(title)}**\n\n{head}\n" + "\n".join(body)


def weights_markdown(e: Explained, lang: str) -> str:
    """A tiny model's every weight of the layer, and the head, as labelled tables (rows: the
    units of each gate; columns: the characters of a one-hot x_t, or the inputs)."""
    H = e.hidden
    gates = ["h"] if e.cell == "rnn" else {"lstm": list("ifgo"), "gru": list("rzn")}[e.cell]
    rows = [f"{g}[{u}]" for g in gates for u in range(H)]
    if e.layer == 0 and e.input.one_hot:
        x_columns = [char_md(c) for c in e.input.vocab]
        bold = e.input.index
    else:
        x_columns = [f"x[{k}]" for k in range(e.weights.W_xh.shape[1])]
        bold = None
    h_columns = [f"h[{u}]" for u in range(H)]
    tables = [
        _table(say(lang, "ex_matrix_W_xh"), rows, x_columns, e.weights.W_xh, bold),
        _table(say(lang, "ex_matrix_W_hh"), rows, h_columns, e.weights.W_hh),
        _table(say(lang, "ex_matrix_b"), rows, ["b_xh", "b_hh", "b"],
               np.stack([e.weights.b_xh, e.weights.b_hh, e.weights.b], axis=1)),
        _table(say(lang, "ex_matrix_W_hy"), [char_md(c) for c in e.input.vocab], h_columns, e.head.W_hy),
        _table(say(lang, "ex_matrix_b_y"), ["b_y"], [char_md(c) for c in e.input.vocab], e.head.b_y[None]),
    ]
    return "\n\n".join(tables)


def head_markdown(e: Explained, lang: str) -> list[str]:
    """The head's score of each top candidate: z_c = W_hy[c] . h_t + b_y[c]."""
    out = [f"#### {md_text(say(lang, 'ex_head'))}", r"$$z = W_{hy}\,h_t + b_y$$"]
    rows = []
    for c in e.head.candidates:
        label = tex_text(visible(c.char))
        rows.append(f"z_{{{label}}} &= {dot_tex(c.dot, lang)} + {_tex_num(c.bias)} = \\mathbf{{{num(c.logit)}}}")
    out.append("$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$")
    return out


def softmax_markdown(e: Explained, lang: str) -> list[str]:
    """logits -> / T -> exp -> / sum -> top-k / top-p cut -> the bars, for the top candidates."""
    s = e.softmax
    out = [f"#### {md_text(say(lang, 'ex_softmax'))}"]
    if s.temperature == 0:
        top = e.head.candidates[0]
        out.append(md_text(say(lang, "ex_greedy", char=visible(top.char))))
        out.append(f"$$p({tex_text(visible(top.char))}) = 1$$")
        return out
    # exp(...) rather than e^{...}: no script inside a script, so nothing on a projector is under 20 px
    out.append(r"$$p_j = \frac{\exp(z_j/T - m)}{\sum_k \exp(z_k/T - m)},\quad T = " + num(s.temperature)
               + r",\quad m = \max_k z_k/T = " + num(s.shift) + r",\quad \sum_k \exp(z_k/T - m) = " + num(s.total) + "$$")
    top = e.head.candidates[0]
    j = top.index
    label = tex_text(visible(top.char))
    out.append(f"$$p({label}) = \\frac{{\\exp({num(s.scaled[j])} - {_tex_num(s.shift)})}}{{{num(s.total)}}} = "
               f"\\frac{{{num(s.exp[j])}}}{{{num(s.total)}}} = \\mathbf{{{num(s.tempered[j])}}}$$")
    if s.top_k or s.top_p:
        cut = []
        if s.top_k:
            cut.append(say(lang, "ex_top_k", k=s.top_k))
        if s.top_p:
            cut.append(say(lang, "ex_top_p", p=num(s.top_p)))
        out.append(md_text(" ".join(cut)))
    columns = [say(lang, "ex_col_char"), say(lang, "ex_col_logit"), "z / T", "exp(z/T − m)", say(lang, "ex_col_p"),
               say(lang, "ex_col_final")]
    head = "| " + " | ".join(md_text(column) for column in columns) + " |\n" + "|---" * len(columns) + "|"
    body = []
    for c in e.head.candidates:
        k = c.index
        final = num(c.final) if s.kept[k] else f"~~{num(s.tempered[k])}~~ 0"
        body.append(f"| {char_md(c.char)} | {num(c.logit)} | {num(s.scaled[k])} | {num(s.exp[k])} | {num(s.tempered[k])} | **{final}** |")
    out.append(head + "\n" + "\n".join(body))
    return out


def input_sentence(e: Explained, lang: str) -> str:
    if e.input.one_hot:
        return say(lang, "ex_input_onehot", char=visible(e.char), index=e.input.index, size=len(e.input.vocab))
    return say(lang, "ex_input_embedding", char=visible(e.char), index=e.input.index, size=len(e.input.vector))


def card_markdown(e: Explained, lang: str = "en") -> str:
    """The whole card of the step: what is read, the notes on torch's conventions, (a tiny
    model's weights), each chosen unit's equations, the head and the softmax."""
    out = [f"### {md_text(say(lang, 'ex_step', t=e.t + 1, n=len(e.prompt), char=visible(e.char)))}"]
    if e.left_out:
        out.append(md_text(say(lang, "ex_left_out", n=len(e.prompt), left=e.left_out)))
    out.append(md_text(input_sentence(e, lang)))
    if e.layers > 1:
        out.append(md_text(say(lang, "ex_layer", layer=e.layer + 1, layers=e.layers)))
    if e.cell in ("lstm", "gru"):
        out.append(md_text(say(lang, "ex_bias_note")))
    if e.cell == "gru":
        out.append(md_text(say(lang, "ex_gru_convention")))
    if e.hidden > SHOW_ALL_UP_TO:
        out.append(md_text(say(lang, "ex_units_shown", units=", ".join(str(u.unit) for u in e.units), hidden=e.hidden)))
    else:
        out.append(weights_markdown(e, lang))
    out += unit_markdown(e, lang)
    out += head_markdown(e, lang)
    out += softmax_markdown(e, lang)
    return "\n\n".join(out)


# ---- the one-hot input ------------------------------------------------------------------------


# inline, so the views look right wherever they are shown; page.css only enlarges them on a projector
CELL_STYLE = ("display:flex;flex-direction:column;align-items:center;justify-content:center;min-width:2.4em;"
              "padding:4px 6px;border:2px solid #d1d5db;border-radius:6px;font-family:monospace;font-size:20px;")
LIT_STYLE = "background:#f59e0b;border-color:#b45309;color:#000;"


def input_html(e: Explained, lang: str = "en") -> str:
    """x_t as seed 001 draws it: one cell per character of the vocabulary, the active one lit
    with its 1; or the embedding row, one cell per number, coloured by its value."""
    title = html.escape(input_sentence(e, lang))
    cells = []
    if e.input.one_hot:
        for k, (char, value) in enumerate(zip(e.input.vocab, e.input.vector)):
            lit = " cm-lit" if k == e.input.index else ""
            look = CELL_STYLE + (LIT_STYLE if lit else "")
            tip = html.escape(f"x_t[{k}] = {int(value)} ({visible(char)})")
            cells.append(f'<div class="cm-x{lit}" data-index="{k}" data-value="{int(value)}" title="{tip}" style="{look}">'
                         f'<span class="cm-x-char" style="font-weight:bold">{html.escape(visible(char))}</span>'
                         f'<span class="cm-x-val">{int(value)}</span></div>')
        kind = "onehot"
    else:
        scale = float(np.abs(e.input.vector).max() or 1.0)
        for k, value in enumerate(e.input.vector):
            tip = html.escape(f"x_t[{k}] = {num(value)}")
            cells.append(f'<div class="cm-x" data-index="{k}" data-value="{num(value)}" title="{tip}" '
                         f'style="{CELL_STYLE}background:{colour(value / scale)}"><span class="cm-x-val">{num(value)}</span></div>')
        kind = "embedding"
    return (f'<div class="cm-input cm-input-{kind}" data-char="{html.escape(e.char)}" data-index="{e.input.index}">'
            f'<div class="cm-input-title">{title}</div>'
            f'<div class="cm-x-row" style="display:flex;flex-wrap:wrap;gap:4px;margin-top:6px">{"".join(cells)}</div></div>')


# ---- the cell as a diagram --------------------------------------------------------------------

W, H = 760, 400  # the drawing's coordinates; the SVG scales to its box
VIEW = (20, 20, 720, 380)  # the part of them drawn on: x, y, width, height (no empty margins to scale down)
SHOWN_WIDTH = 520  # px: the drawing's width at least, in half of a 1280-px page (the projector's)
VIEW_BOX = " ".join(map(str, VIEW))
FONT = 28  # labels at this size stay >= 20 px at SHOWN_WIDTH


def svg_sub(text: str) -> str:
    """`h_t-1` -> h with the subscript t−1 (SVG text has no LaTeX)."""
    base, _, sub = text.partition("_")
    if not sub:
        return html.escape(text)
    return f'{html.escape(base)}<tspan dy="6" font-size="{FONT * 0.85:.0f}">{html.escape(sub.replace("-", "−"))}</tspan>'


class _Drawing:
    """SVG pieces: wires as bands of stripes (one per chosen unit), boxes and ops, each with a <title>."""

    def __init__(self, e: Explained, lang: str):
        self.e, self.lang = e, lang
        self.parts: list[str] = []
        self.units = [u.unit for u in e.units]

    def values(self, name: str) -> list[float]:
        """A quantity's value at each chosen unit (a field of the layer's cells step)."""
        vector = getattr(self.e.step, name)
        return [float(vector[u]) for u in self.units]

    def tip(self, label: str, values: Iterable[float]) -> str:
        return html.escape("; ".join(f"{label}[{u}] = {num(v)}" for u, v in zip(self.units, values)))

    def wire(self, name: str, label: str, points: list[tuple[float, float]], values: list[float] | None = None) -> None:
        """A wire carrying `name` at every chosen unit: parallel stripes along the path, each coloured."""
        values = self.values(name) if values is None else values
        n = len(values)
        width = min(6.0, 22.0 / max(n, 1))
        gate = name in GATE_RANGE
        stripes = []
        for k, (unit, value) in enumerate(zip(self.units, values)):
            offset = (k - (n - 1) / 2) * width
            path = " ".join(f"{x + self._shift(points, i, offset)[0]:.1f},{y + self._shift(points, i, offset)[1]:.1f}"
                            for i, (x, y) in enumerate(points))
            stripes.append(
                f'<polyline class="cm-stripe" points="{path}" fill="none" stroke="{colour(value, gate)}" '
                f'stroke-width="{width:.1f}" data-unit="{unit}" data-value="{num(value)}">'
                f"<title>{html.escape(f'{label}[{unit}] = {num(value)}')}</title></polyline>"
            )
        outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.parts.append(
            f'<g class="cm-wire" data-name="{name}"><title>{self.tip(label, values)}</title>'
            f'<polyline points="{outline}" fill="none" stroke="#9ca3af" stroke-width="{width * n + 3:.1f}" stroke-opacity="0.35"/>'
            + "".join(stripes) + "</g>"
        )

    @staticmethod
    def _shift(points, i, offset):
        """A stripe's point i, `offset` to the side of the path: along the segment's normal, and at a
        corner of two perpendicular segments along both (the mitre), so stripes stay parallel."""

        def normal(a, b):
            dx, dy = b[0] - a[0], b[1] - a[1]
            length = (dx * dx + dy * dy) ** 0.5 or 1.0
            return -dy / length, dx / length

        before = normal(points[i - 1], points[i]) if i else None
        after = normal(points[i], points[i + 1]) if i + 1 < len(points) else None
        if before is None or after is None or abs(before[0] * after[0] + before[1] * after[1]) > 0.99:
            nx, ny = before or after
        else:
            nx, ny = before[0] + after[0], before[1] + after[1]
        return nx * offset, ny * offset

    def box(self, name: str, label: str, text: str, x: float, y: float, values: list[float] | None = None,
            w: float = 96, h: float = 52) -> None:
        """A layer box (seed 003's yellow rectangles), filled per unit with its value."""
        values = self.values(name) if values is None else values
        gate = name in GATE_RANGE
        n = len(values)
        cells = "".join(
            f'<rect class="cm-cellfill" x="{x - w / 2 + k * w / n:.1f}" y="{y - h / 2:.1f}" width="{w / n:.1f}" height="{h:.1f}" '
            f'fill="{colour(v, gate)}" data-unit="{u}" data-value="{num(v)}"><title>{html.escape(f"{label}[{u}] = {num(v)}")}</title></rect>'
            for k, (u, v) in enumerate(zip(self.units, values))
        )
        self.parts.append(
            f'<g class="cm-box" data-name="{name}"><title>{self.tip(label, values)}</title>{cells}'
            f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" fill="none" stroke="#a16207" stroke-width="2.5"/>'
            f'<text x="{x:.1f}" y="{y + FONT / 3:.1f}" text-anchor="middle" font-size="{FONT}" font-weight="bold">{svg_sub(text)}</text></g>'
        )

    def op(self, name: str, label: str, symbol: str, x: float, y: float, values: list[float] | None = None) -> None:
        """A pointwise operation (seed 003's pink circles): ×, +, tanh, 1−, its result's value on hover."""
        values = self.values(name) if values is None else values
        self.parts.append(
            f'<g class="cm-op" data-name="{name}"><title>{self.tip(label, values)}</title>'
            f'<ellipse cx="{x}" cy="{y}" rx="{max(20, 9 * len(symbol) + 6)}" ry="20" fill="#fce7f3" stroke="#be185d" stroke-width="2.5"/>'
            f'<text x="{x}" y="{y + FONT / 3:.1f}" text-anchor="middle" font-size="{FONT}">{html.escape(symbol)}</text></g>'
        )

    def label(self, text: str, x: float, y: float, anchor: str = "middle") -> None:
        self.parts.append(f'<text class="cm-label" x="{x}" y="{y}" text-anchor="{anchor}" font-size="{FONT}">{svg_sub(text)}</text>')

    def svg(self, title: str) -> str:
        return (f'<svg class="cm-diagram" data-cell="{self.e.cell}" data-t="{self.e.t}" viewBox="{VIEW_BOX}" '
                f'xmlns="http://www.w3.org/2000/svg" role="img" font-family="sans-serif">'
                f"<title>{html.escape(title)}</title>{''.join(self.parts)}</svg>")


def _x_wire(d: _Drawing, points: list[tuple[float, float]]) -> None:
    """x_t, which is not per unit: one neutral wire whose title says which input it is."""
    tip = html.escape(input_sentence(d.e, d.lang))
    outline = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    d.parts.append(f'<g class="cm-wire" data-name="x"><title>{tip}</title>'
                   f'<polyline points="{outline}" fill="none" stroke="#6b7280" stroke-width="6"/></g>')


def _rnn(d: _Drawing) -> None:
    b = [float(d.e.weights.b[u]) for u in d.units]
    d.wire("h_prev", "h_{t-1}", [(40, 150), (250, 150)])
    d.box("W_hh_h", "W_hh h_{t-1}", "W_hh", 300, 150)
    d.wire("W_hh_h", "W_hh h_{t-1}", [(348, 150), (420, 150), (420, 206)])
    _x_wire(d, [(300, 390), (300, 302)])
    d.box("W_xh_x", "W_xh x_t", "W_xh", 300, 276)
    d.wire("W_xh_x", "W_xh x_t", [(348, 276), (420, 276), (420, 244)])
    d.wire("b", "b", [(420, 60), (420, 206)], b)
    d.label("b", 440, 80, "start")
    d.op("pre", "W_xh x_t + W_hh h_{t-1} + b", "+", 420, 225)
    d.wire("pre", "W_xh x_t + W_hh h_{t-1} + b", [(439, 225), (510, 225)])
    d.box("h", "h_t", "tanh", 560, 225)
    d.wire("h", "h_t", [(608, 225), (730, 225)])
    d.label("h_t-1", 40, 135, "start")
    d.label("x_t", 320, 385, "start")
    d.label("h_t", 730, 210, "end")


def _lstm(d: _Drawing) -> None:
    s = d.e.step
    f_c = [float(s.f[u] * s.c_prev[u]) for u in d.units]
    i_g = [float(s.i[u] * s.g[u]) for u in d.units]
    tanh_c = [float(np.tanh(s.c[u])) for u in d.units]
    # the cell state along the top, as in seed 003's figures
    d.wire("c_prev", "c_{t-1}", [(30, 70), (211, 70)])
    d.op("c_forget", "f_t ⊙ c_{t-1}", "×", 230, 70, f_c)
    d.wire("c_forget", "f_t ⊙ c_{t-1}", [(249, 70), (421, 70)], f_c)
    d.op("c", "c_t", "+", 440, 70)
    d.wire("c", "c_t", [(459, 70), (730, 70)])
    # h_{t-1} and x_t meet on the bus and feed the four layers
    d.wire("h_prev", "h_{t-1}", [(30, 330), (560, 330)])
    _x_wire(d, [(120, 395), (120, 330)])
    for name, x, symbol in (("f", 230, "σ"), ("i", 320, "σ"), ("g", 420, "tanh"), ("o", 530, "σ")):
        d.wire(f"pre_{name}", f"W_x{name} x_t + W_h{name} h_{{t-1}} + b_{name}", [(x, 330), (x, 256)])
        d.box(name, f"{name}_t", f"{symbol}_{name}", x, 230, w=72 if symbol == "σ" else 96)
    d.wire("f", "f_t", [(230, 204), (230, 89)])
    d.wire("i", "i_t", [(320, 204), (320, 150), (401, 150)])
    d.wire("g", "g_t", [(420, 204), (420, 169)])
    d.op("i_g", "i_t ⊙ g_t", "×", 420, 150, i_g)
    d.wire("i_g", "i_t ⊙ g_t", [(420, 131), (420, 89)], i_g)
    # the output: o_t ⊙ tanh(c_t)
    d.wire("c", "c_t", [(640, 70), (640, 131)])
    d.op("tanh_c", "tanh(c_t)", "tanh", 640, 150, tanh_c)
    d.wire("tanh_c", "tanh(c_t)", [(640, 169), (640, 211)], tanh_c)
    d.wire("o", "o_t", [(530, 204), (530, 190), (600, 190), (600, 230), (621, 230)])
    d.op("h", "h_t", "×", 640, 230)
    d.wire("h", "h_t", [(640, 249), (640, 290), (730, 290)])
    d.label("c_t-1", 30, 50, "start")
    d.label("c_t", 730, 50, "end")
    d.label("h_t-1", 30, 315, "start")
    d.label("x_t", 135, 390, "start")
    d.label("h_t", 730, 315, "end")


def _gru(d: _Drawing) -> None:
    s = d.e.step
    z_h = [float(s.z[u] * s.h_prev[u]) for u in d.units]
    one_minus = [float(1 - s.z[u]) for u in d.units]
    n_part = [float((1 - s.z[u]) * s.n[u]) for u in d.units]
    r_hn = [float(s.r[u] * s.hn[u]) for u in d.units]
    # h_{t-1} along the top, kept in the share z_t (torch's convention)
    d.wire("h_prev", "h_{t-1}", [(30, 70), (461, 70)])
    d.op("z_h", "z_t ⊙ h_{t-1}", "×", 480, 70, z_h)
    d.wire("z_h", "z_t ⊙ h_{t-1}", [(499, 70), (621, 70)], z_h)
    d.op("h", "h_t", "+", 640, 70)
    d.wire("h", "h_t", [(659, 70), (730, 70)])
    # the bus: h_{t-1} down to meet x_t
    d.wire("h_prev", "h_{t-1}", [(60, 70), (60, 330), (500, 330)])
    _x_wire(d, [(120, 395), (120, 330)])
    for name, x, symbol in (("r", 200, "σ"), ("z", 300, "σ")):
        d.wire(f"pre_{name}", f"W_x{name} x_t + W_h{name} h_{{t-1}} + b_{name}", [(x, 330), (x, 256)])
        d.box(name, f"{name}_t", f"{symbol}_{name}", x, 230, w=72)
    # the candidate: r_t scales W_hn h_{t-1} + b_hn
    d.wire("hn", "W_hn h_{t-1} + b_hn", [(400, 330), (400, 249)])
    d.wire("r", "r_t", [(200, 204), (200, 180), (360, 180), (360, 230), (381, 230)])
    d.op("r_hn", "r_t ⊙ (W_hn h_{t-1} + b_hn)", "×", 400, 230, r_hn)
    d.wire("r_hn", "r_t ⊙ (W_hn h_{t-1} + b_hn)", [(419, 230), (452, 230)], r_hn)
    H = d.e.hidden
    d.wire("W_xn_x", "W_xn x_t", [(500, 330), (500, 256)], [float(s.W_xh_x[2 * H + u]) for u in d.units])
    d.box("n", "n_t", "tanh_n", 500, 230, w=96)
    d.wire("z", "z_t", [(300, 204), (300, 130), (480, 130), (480, 89)])
    d.wire("z", "z_t", [(480, 130), (561, 130)])
    d.op("one_minus_z", "1 - z_t", "1−", 580, 130, one_minus)
    d.wire("one_minus_z", "1 - z_t", [(599, 130), (621, 130)], one_minus)
    d.wire("n", "n_t", [(500, 204), (500, 180), (640, 180), (640, 149)])
    d.op("n_part", "(1 - z_t) ⊙ n_t", "×", 640, 130, n_part)
    d.wire("n_part", "(1 - z_t) ⊙ n_t", [(640, 111), (640, 89)], n_part)
    d.label("h_t-1", 30, 50, "start")
    d.label("x_t", 135, 390, "start")
    d.label("h_t", 730, 50, "end")


def diagram_svg(e: Explained, lang: str = "en") -> str:
    """The explained layer's cell drawn as in seed 003 (RNN, LSTM, GRU), coloured by the step's
    values at the chosen units: one stripe per unit on every wire, one cell per unit in every box."""
    d = _Drawing(e, lang)
    {"rnn": _rnn, "lstm": _lstm, "gru": _gru}[e.cell](d)
    title = say(lang, "ex_diagram_title", t=e.t + 1, char=visible(e.char), units=", ".join(str(u) for u in d.units))
    return f'<div class="cm-diagram-wrap">{d.svg(title)}<div class="cm-diagram-legend">{html.escape(say(lang, "ex_diagram_legend"))}</div></div>'
