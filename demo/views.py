"""What the app shows, as plain data and HTML: no torch, no Gradio.

Space and newline are invisible as bar labels, so they are drawn as ␣ and ⏎.
Messages come in English and Korean; the app picks one by the browser's language.
"""

from __future__ import annotations

import html

VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def visible(char: str) -> str:
    return VISIBLE.get(char, char)


def visible_text(text: str) -> str:
    return "".join(visible(c) for c in text)


def label_value(pairs: list[tuple[str, float]], k: int = 10) -> dict[str, float]:
    """Top-k (char, prob) pairs as a gr.Label value, with whitespace made visible."""
    return {visible(char): prob for char, prob in pairs[:k]}


MESSAGES = {
    "en": {
        "empty": "Empty prompt: starting from the corpus's first character {char}.",
        "unknown": "Left out, never seen in training: {chars}.",
        "trimmed": "The prompt is long: the model reads its last {n:,} characters.",
        "nothing_left": "No character of the prompt is in the model's vocabulary; starting from {char}.",
        "card_title": "Model card",
        "corpus": "Corpus",
        "source": "Source",
        "chars": "characters",
        "cell": "Cell",
        "layers": "Layers",
        "hidden": "Hidden size",
        "input": "Input",
        "one_hot": "one-hot ({n} characters)",
        "embedding": "embedding of {n}",
        "params": "Parameters",
        "steps": "Training steps",
        "seconds": "Training time",
        "attempts": "attempts",
        "quality": "Quality (teacher-forced accuracy, free-run reconstruction, bits per character, smallest probability of the right character)",
        "inspect_none": "Generate something, then pick a step to see the distribution it was drawn from.",
        "inspect_step": "Step {n}: wrote {char} with probability {p:.1%}.",
        "inspect_reshaped": "Temperature {t:g}, top-k {k}, top-p {p:g} reshaped the model's distribution (left) into the one sampled from (right).",
        "inspect_greedy": "Greedy decoding: the most likely character is always taken.",
        "off": "off",
    },
    "ko": {
        "empty": "프롬프트가 비어 있어 말뭉치의 첫 문자 {char}에서 시작합니다.",
        "unknown": "학습 때 본 적 없는 문자는 건너뜁니다: {chars}.",
        "trimmed": "프롬프트가 길어 마지막 {n:,}개 문자만 읽습니다.",
        "nothing_left": "프롬프트의 어떤 문자도 모델의 어휘에 없어 {char}에서 시작합니다.",
        "card_title": "모델 카드",
        "corpus": "말뭉치",
        "source": "출처",
        "chars": "문자",
        "cell": "셀",
        "layers": "층 수",
        "hidden": "은닉 크기",
        "input": "입력",
        "one_hot": "원-핫 ({n}개 문자)",
        "embedding": "{n}차원 임베딩",
        "params": "파라미터 수",
        "steps": "학습 스텝",
        "seconds": "학습 시간",
        "attempts": "회 시도",
        "quality": "품질 (교사 강요 정확도, 자유 생성 복원율, 문자당 비트, 정답 문자의 최소 확률)",
        "inspect_none": "먼저 생성한 다음, 단계를 골라 그 문자를 뽑은 분포를 보세요.",
        "inspect_step": "{n}단계: {char}를 확률 {p:.1%}로 썼습니다.",
        "inspect_reshaped": "온도 {t:g}, top-k {k}, top-p {p:g}가 모델의 분포(왼쪽)를 실제로 뽑은 분포(오른쪽)로 바꿨습니다.",
        "inspect_greedy": "탐욕적 디코딩: 언제나 가장 확률이 높은 문자를 고릅니다.",
        "off": "끔",
    },
}


def language(code: str | None) -> str:
    """'ko', 'ko-KR' -> 'ko'; anything else -> 'en'."""
    return "ko" if (code or "").lower().startswith("ko") else "en"


def say(lang: str, key: str, **values) -> str:
    return MESSAGES[language(lang)][key].format(**values)


def quoted(char: str) -> str:
    return f"'{visible(char)}'"


def shaded_html(prompt: str, chars: list[str], probs: list[float], selected: int | None = None) -> str:
    """The prompt in grey, then each generated character shaded by the probability it had.

    Strong colour = the model was sure; pale = a coin toss. Hovering shows the number.
    """
    parts = ['<div class="cm-shaded">', f'<span class="cm-prompt">{_escape_block(prompt)}</span>']
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
    t = MESSAGES[language(lang)]
    config = info.get("model_config", {})
    corpus = info.get("corpus", {})
    history = info.get("history", {})
    metrics = info.get("metrics", {})
    vocab = info.get("vocab", [])
    embedding = config.get("embedding_dim", 0)
    input_kind = t["embedding"].format(n=embedding) if embedding else t["one_hot"].format(n=len(vocab))
    rows = [
        (t["corpus"], f"**{corpus.get('name', '?')}** ({corpus.get('chars', '?')} {t['chars']})"),
        (t["source"], corpus.get("source", "")),
        (t["cell"], str(config.get("cell", "?")).upper()),
        (t["layers"], config.get("layers", "?")),
        (t["hidden"], config.get("hidden_size", "?")),
        (t["input"], input_kind),
        (t["params"], f"{info.get('parameters', 0):,}"),
        (t["steps"], f"{history.get('steps', '?')} ({history.get('attempts', '?')} {t['attempts']})"),
        (t["seconds"], f"{history.get('seconds', 0):.1f} s"),
    ]
    name = f"{corpus.get('name', '?')}-{config.get('cell', '?')}"
    lines = [f"| {t['card_title']} | `{name}` |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    if metrics:
        lines += [
            "",
            t["quality"] + ":",
            "",
            "| tf_acc | recon | bpc | min_p |",
            "|---|---|---|---|",
            f"| {metrics['tf_acc']:.1%} | {metrics['recon']:.1%} | {metrics['bpc']:.4f} | {metrics['min_p']:.3f} |",
        ]
    return "\n".join(lines)


def corpus_markdown(name: str, text: str, source: str) -> str:
    """The corpus as a reader sees it: the text in a code block, then where it comes from."""
    return f"```text\n{text}\n```\n*{source}* · {len(text)} chars · {len(set(text))} distinct"


# ---- inside the model ----

STATE_NAMES = {
    "h": {"en": "hidden state h", "ko": "은닉 상태 h"},
    "c": {"en": "cell state c (LSTM memory)", "ko": "셀 상태 c (LSTM의 기억)"},
    "i": {"en": "input gate i", "ko": "입력 게이트 i"},
    "f": {"en": "forget gate f", "ko": "망각 게이트 f"},
    "g": {"en": "candidate g", "ko": "후보 값 g"},
    "o": {"en": "output gate o", "ko": "출력 게이트 o"},
    "r": {"en": "reset gate r", "ko": "리셋 게이트 r"},
    "z": {"en": "update gate z", "ko": "업데이트 게이트 z"},
    "n": {"en": "candidate n", "ko": "후보 값 n"},
}
GATE_RANGE = {"i", "f", "o", "r", "z"}  # sigmoids: 0 = closed, 1 = open; the rest are signed
STATES_OF = {"rnn": ["h"], "lstm": ["h", "c", "i", "f", "g", "o"], "gru": ["h", "r", "z", "n"]}


def state_choices(cell: str, lang: str = "en") -> list[tuple[str, str]]:
    return [(STATE_NAMES[name][language(lang)], name) for name in STATES_OF[cell]]


def _color(value: float, gate: bool, scale: float) -> str:
    """Gates: green, stronger = more open. Signed values: red positive, blue negative."""
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
            f'<td{mark if t == selected else ""} style="background:{_color(v, gate, scale)}" title="{v:+.2f}"></td>'
            for t, v in enumerate(matrix[:, unit], start=1)
        )
        rows.append(f'<tr><th class="cm-unit">{unit}</th>{cells}</tr>')
    return f'<div class="cm-heat-wrap"><table class="cm-heat"><tr><th></th>{head}</tr>{"".join(rows)}</table></div>'


def vector_html(label: str, values, name: str) -> str:
    """One step's whole vector as a strip of coloured cells, unit 0 first."""
    import numpy as np

    vector = np.asarray(values, dtype=float)
    gate = name in GATE_RANGE
    scale = 1.0 if gate or name != "c" else float(np.abs(vector).max() or 1.0)
    cells = "".join(
        f'<span style="background:{_color(v, gate, scale)}" title="unit {u}: {v:+.3f}"></span>' for u, v in enumerate(vector)
    )
    mean = f"mean {vector.mean():+.2f}" if len(vector) else ""
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


def snapshot_html(step: int, prediction: str, truth: str) -> str:
    """A recorded prediction string under teacher forcing, wrong characters marked against the true text."""
    right = sum(p == t for p, t in zip(prediction, truth))
    parts = [f'<div class="cm-snapshot"><div class="cm-snapshot-title">------ {step} ------ '
             f'<small>{right}/{len(truth)}</small></div><div>']
    for predicted, expected in zip(prediction, truth):
        shown = "⏎<br>" if predicted == "\n" else html.escape(visible(predicted) if predicted in "\t\r" else predicted)
        if predicted == expected:
            parts.append(f"<span>{shown}</span>")
        else:
            parts.append(f'<span class="cm-wrong" title="should be {html.escape(visible(expected))}">{shown}</span>')
    parts.append("</div></div>")
    return "".join(parts)
