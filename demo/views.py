"""What the app draws: label values, Markdown and HTML, from plain data. No torch, no Gradio.

Space and newline are invisible as bar labels, so they are drawn as ␣ and ⏎. Every word
comes from demo/i18n.py in the page's language.
"""

from __future__ import annotations

import html

from .i18n import say

VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def visible(char: str) -> str:
    return VISIBLE.get(char, char)


def visible_text(text: str) -> str:
    return "".join(visible(c) for c in text)


def bar_label(char: str, lang: str = "en") -> str:
    """A character as a bar's label: space and newline by symbol and name (a lone ␣ is a
    5-pixel bracket on a projector), every other character as itself."""
    name = WHITESPACE_NAMES.get(char)
    return f"{visible(char)} {say(lang, name)}" if name else char


WHITESPACE_NAMES = {" ": "char_space", "\n": "char_newline", "\t": "char_tab", "\r": "char_return"}


def label_value(pairs: list[tuple[str, float]], k: int = 10, lang: str = "en") -> dict[str, float]:
    """Top-k (char, prob) pairs as a gr.Label value, with whitespace named."""
    return {bar_label(char, lang): prob for char, prob in pairs[:k]}


def quoted(char: str) -> str:
    return f"'{visible(char)}'"


SHOWN_PROMPT = 240  # characters of a prompt drawn before its continuation; a longer one shows its end


def shaded_html(prompt: str, chars: list[str], probs: list[float], selected: int | None = None, lang: str = "en") -> str:
    """The prompt's end in grey, then each generated character shaded by the probability it had.

    Strong colour = the model was sure; pale = a coin toss. Hovering shows the number. A
    prompt longer than SHOWN_PROMPT shows its last characters after a note saying how many
    are left out (a 100,000-character prompt must not become 100,000 characters of page).
    """
    parts = ['<div class="cm-shaded">']
    if len(prompt) > SHOWN_PROMPT:
        hidden = len(prompt) - SHOWN_PROMPT
        parts.append(f'<div class="cm-cut">{html.escape(say(lang, "prompt_cut", n=hidden))}</div>')
        prompt = prompt[-SHOWN_PROMPT:]
    parts.append(f'<span class="cm-prompt">{_escape_block(prompt)}</span>')
    for n, (char, prob) in enumerate(zip(chars, probs), start=1):
        classes = "cm-char cm-selected" if n == selected else "cm-char"
        alpha = 0.08 + 0.84 * prob
        ink = "#fff" if alpha > 0.5 else "#111"  # legible on pale and on strong shading
        title = f"{n}: {visible(char)} {prob:.1%}"
        shown = "⏎<br>" if char == "\n" else html.escape(visible(char) if char in "\t\r" else char)
        parts.append(
            f'<span class="{classes}" data-step="{n}" title="{html.escape(title)}" '
            f'style="background: rgba(37, 99, 235, {alpha:.2f}); color: {ink}">{shown}</span>'
        )
    parts.append("</div>")
    return "".join(parts)


def _escape_block(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def card_markdown(info: dict, lang: str = "en") -> str:
    """A model card from a checkpoint's metadata."""
    config = info.get("model_config", {})
    corpus = info.get("corpus", {})
    history = info.get("history", {})
    metrics = info.get("metrics", {})
    vocab = info.get("vocab", [])
    embedding = config.get("embedding_dim", 0)
    input_kind = say(lang, "card_embedding", n=embedding) if embedding else say(lang, "card_one_hot", n=len(vocab))
    long_text = info.get("training") == "long-text"
    if long_text:  # truncated BPTT over a long text: steps and epochs, no attempts
        steps = f"{history.get('steps', '?'):,} ({say(lang, 'card_epochs', n=history.get('epochs', 0))})"
    else:
        steps = f"{history.get('steps', '?')} ({history.get('attempts', '?')} {say(lang, 'card_attempts')})"
    rows = [
        ("card_corpus", f"**{corpus.get('name', '?')}** ({corpus.get('chars', 0):,} {say(lang, 'card_chars')})"),
        ("card_source", corpus.get("source", "")),
        ("card_cell", str(config.get("cell", "?")).upper()),
        ("card_layers", config.get("layers", "?")),
        ("card_hidden", config.get("hidden_size", "?")),
        ("card_input", input_kind),
        ("card_params", f"{info.get('parameters', 0):,}"),
        ("card_steps", steps),
        ("card_seconds", f"{history.get('seconds', 0):.1f} s"),
    ]
    name = f"{corpus.get('name', '?')}-{config.get('cell', '?')}"
    lines = [f"| {say(lang, 'card_title')} | `{name}` |", "|---|---|"] + [f"| {say(lang, k)} | {v} |" for k, v in rows]
    validation = info.get("validation")
    if isinstance(validation, dict) and "bpc" in validation:
        lines += ["", say(lang, "card_validation", bpc=validation["bpc"], share=validation.get("fraction", 0),
                          chars=validation.get("chars", 0))]
    if metrics:
        lines += [
            "",
            say(lang, "card_quality") + ":",
            "",
            "| tf_acc | recon | bpc | min_p |",
            "|---|---|---|---|",
            f"| {metrics['tf_acc']:.1%} | {metrics['recon']:.1%} | {metrics['bpc']:.4f} | {metrics['min_p']:.3f} |",
        ]
        if not (metrics["tf_acc"] == 1 and metrics["recon"] == 1 and metrics["min_p"] >= 0.9):
            lines += ["", say(lang, "card_below_bar")]
    return "\n".join(lines)


SHOWN_TEXT = 600  # characters of a training text shown beside the pickers


def corpus_markdown(text: str | None, source: str, lang: str = "en", chars: int | None = None, about: str = "") -> str:
    """The corpus as a reader sees it: the text (its start, when long) in a code block, then where it comes from.

    `about`: a sentence on the text in the page's language (the classroom models' texts have one).
    """
    lead = f"{about}\n\n" if about else ""
    if text is None:
        counts = say(lang, "corpus_chars", chars=chars) if chars else say(lang, "text_not_stored")
        return f"{lead}*{source}* · {counts}"
    counts = say(lang, "corpus_counts", chars=len(text), distinct=len(set(text)))
    shown = text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT] + " …"
    return f"{lead}```text\n{shown}\n```\n*{source}* · {counts}"


# ---- inside the model ----

GATE_RANGE = {"i", "f", "o", "r", "z"}  # sigmoids: 0 = closed, 1 = open; the rest are signed
STATES_OF = {"rnn": ["h"], "lstm": ["h", "c", "i", "f", "g", "o"], "gru": ["h", "r", "z", "n"]}


def state_name(name: str, lang: str = "en") -> str:
    """`f` -> "forget gate f" (in the page's language)."""
    return say(lang, f"state_{name}")


def state_choices(cell: str, lang: str = "en") -> list[tuple[str, str]]:
    return [(state_name(name, lang), name) for name in STATES_OF[cell]]


def colour(value: float, gate: bool = False, scale: float = 1.0) -> str:
    """A value's colour in every view of the model's insides. Gates (0..1): green, stronger =
    more open. Signed values: red positive, blue negative, stronger = larger (|value| / scale,
    clipped at 1)."""
    if gate:
        return f"rgba(22,163,74,{0.05 + 0.9 * min(max(value, 0.0), 1.0):.2f})"
    v = max(-1.0, min(1.0, value / scale)) if scale > 0 else 0.0
    rgb = "220,38,38" if v >= 0 else "37,99,235"
    return f"rgba({rgb},{0.05 + 0.9 * abs(v):.2f})"


def heatmap_html(chars: list[str], values, name: str, units: int = 24, selected: int | None = None) -> str:
    """A (time, hidden) matrix as a table: one row per unit (the `units` that vary most), one column per character."""
    import numpy as np

    matrix = np.asarray(values, dtype=float)
    gate = name in GATE_RANGE
    scale = 1.0 if gate or name != "c" else float(np.abs(matrix).max() or 1.0)
    order = np.argsort(-matrix.var(axis=0), kind="stable")[:units]
    mark = ' class="cm-sel"'
    head = "".join(
        f'<th class="{"cm-sel" if t == selected else ""}" title="{t}">{html.escape(visible(c))}</th>'
        for t, c in enumerate(chars, start=1)
    )
    rows = []
    for unit in order:
        cells = "".join(  # kept terse: a long prompt makes thousands of cells
            f'<td{mark if t == selected else ""} style="background:{colour(v, gate, scale)}" title="{v:+.2f}"></td>'
            for t, v in enumerate(matrix[:, unit], start=1)
        )
        rows.append(f'<tr><th class="cm-unit">{unit}</th>{cells}</tr>')
    return f'<div class="cm-heat-wrap"><table class="cm-heat"><tr><th></th>{head}</tr>{"".join(rows)}</table></div>'


def vector_html(label: str, values, name: str, lang: str = "en") -> str:
    """One step's whole vector as a strip of coloured cells, unit 0 first."""
    import numpy as np

    vector = np.asarray(values, dtype=float)
    gate = name in GATE_RANGE
    scale = 1.0 if gate or name != "c" else float(np.abs(vector).max() or 1.0)
    cells = "".join(
        f'<span style="background:{colour(v, gate, scale)}" title="{html.escape(say(lang, "vector_unit", unit=u, value=v))}"></span>'
        for u, v in enumerate(vector)
    )
    mean = html.escape(say(lang, "vector_mean", mean=vector.mean())) if len(vector) else ""
    return f'<div class="cm-vector"><b>{html.escape(label)}</b> <small>{mean}</small><div>{cells}</div></div>'


def saliency_html(title: str, chars: list[str], scores) -> str:
    """The prompt, each character shaded by how much it moved the prediction: orange helped, blue hurt."""
    parts = [f'<div class="cm-saliency"><div class="cm-saliency-title">{html.escape(title)}</div><div>']
    for n, (char, score) in enumerate(zip(chars, scores), start=1):
        rgb = "234, 88, 12" if score >= 0 else "37, 99, 235"
        alpha = 0.04 + 0.9 * min(abs(float(score)), 1.0)
        ink = "#fff" if alpha > 0.55 else "#111"
        shown = "⏎" if char == "\n" else html.escape(visible(char) if char in "\t\r" else char)
        parts.append(
            f'<span style="background: rgba({rgb}, {alpha:.2f}); color: {ink}" title="{n}: {float(score):+.2f}">{shown}</span>'
        )
    parts.append("</div></div>")
    return "".join(parts)


def snapshot_html(step: int, prediction: str, truth: str, lang: str = "en") -> str:
    """A recorded prediction string under teacher forcing, wrong characters marked against the true text.

    A wrong space or newline is drawn as ␣ or ⏎ and marked like any other wrong character
    (a run of wrongly predicted spaces is the seeds' own "hhh hhhh" stage, and plain spaces
    would hide it); a position the prediction does not reach is marked too.
    """
    right = sum(p == t for p, t in zip(prediction, truth))
    count = html.escape(say(lang, "snapshot_right", right=right, n=len(truth)))
    parts = [f'<div class="cm-snapshot"><div class="cm-snapshot-title">------ {step} ------ <small>{count}</small></div><div class="cm-snapshot-text">']
    for n, expected in enumerate(truth):
        predicted = prediction[n] if n < len(prediction) else None
        if predicted == expected:
            parts.append("<br>" if expected == "\n" else html.escape(visible(expected) if expected in "\t\r" else expected))
            continue
        title = html.escape(say(lang, "snapshot_should_be", char=visible(expected)))
        if predicted is None:
            parts.append(f'<span class="cm-wrong cm-missing" title="{title}">·</span>')
        elif predicted in VISIBLE:
            parts.append(f'<span class="cm-wrong cm-ws" title="{title}">{visible(predicted)}</span>')
        else:
            parts.append(f'<span class="cm-wrong" title="{title}">{html.escape(predicted)}</span>')
    parts.append("</div></div>")
    return "".join(parts)


def probe_html(rows: list[dict], lang: str = "en") -> str:
    """The far-word probe as a table: each model's answer to the prompt and to the prompt with
    its far word swapped, and whether the answer changed (demo/service.py's `probe`)."""
    if not rows:
        return ""
    keys = ("probe_model", "probe_as_is", "probe_swapped", "probe_verdict", "probe_training")
    head = "".join(f"<th>{html.escape(say(lang, key))}</th>" for key in keys)
    body = []
    for row in rows:
        answers = "".join(
            f'<td><b>{html.escape(bar_label(top, lang))}</b> {prob:.0%}</td>' for top, prob in (row["original"], row["swapped"])
        )
        verdict = say(lang, f"probe_{row['verdict']}")
        mark = f"cm-{row['verdict']}"
        training = say(lang, "probe_learned" if row["reached"] else "probe_not_learned", parameters=row["parameters"] or 0,
                       steps=row["steps"] or 0, attempts=row["attempts"] or 0)
        body.append(f'<tr><td><code>{html.escape(row["checkpoint"])}</code></td>{answers}<td class="{mark}">{html.escape(verdict)}</td>'
                    f"<td>{html.escape(training)}</td></tr>")
    return f'<table class="cm-probe"><tr>{head}</tr>{"".join(body)}</table>'
