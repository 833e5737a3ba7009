"""charmodels: watch a character-level RNN, LSTM or GRU read and write.

    python demo/app.py          # opens the page in your browser

Layout and event wiring only: what the models do lives in charmodels.serving and
charmodels.views. torch loads in the background after the page is served.
"""

from __future__ import annotations

import functools
import html
import inspect
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, also on a Space

import gradio as gr
import pandas as pd

from charmodels.corpora import CORPORA
from charmodels.errors import CheckpointError
from charmodels.views import corpus_markdown, label_value, language, say, shaded_html, snapshot_html, visible_text

CELL_CHOICES = [("RNN", "rnn"), ("LSTM", "lstm"), ("GRU", "gru")]
CELL_COLORS = {"RNN": "#2563eb", "LSTM": "#ea580c", "GRU": "#16a34a"}
FIRST_CORPUS = "goethe"
FIRST_CELL = "lstm"
SHADE_EVERY = 0.5  # seconds between refreshes of the shaded text while streaming


def backend():
    """charmodels.serving, which imports torch: loaded on first use, never before the page is up."""
    from charmodels import serving

    return serving


def friendly(fn):
    """Turn a bad request into a message in the page (gr.Error) instead of a crash."""
    def explain(error: Exception) -> gr.Error:
        return gr.Error(str(error), print_exception=False)

    if inspect.isgeneratorfunction(fn):  # a generator: stream it

        @functools.wraps(fn)
        def streaming(*args):
            try:
                yield from fn(*args)
            except (ValueError, CheckpointError, OSError) as error:
                raise explain(error) from error

        return streaming

    @functools.wraps(fn)
    def plain(*args):
        try:
            return fn(*args)
        except (ValueError, CheckpointError, OSError) as error:
            raise explain(error) from error

    return plain


i18n = gr.I18n(
    en={
        "title": "# charmodels: how a recurrent network writes, one character at a time",
        "intro": "Pick a text and a cell. Type a prompt: the bars show what the model thinks comes next. "
        "**Generate** lets it write on; each character is shaded by how sure it was.",
        "corpus": "Text the model learned",
        "cell": "Cell type",
        "upload": "…or upload a .safetensors checkpoint",
        "tab_predict": "Predict & generate",
        "tab_compare": "RNN vs LSTM vs GRU",
        "tab_card": "Model card & training",
        "prompt": "Prompt (empty = start of the text)",
        "next": "Next character",
        "length": "Characters to write",
        "temperature": "Temperature (0 = greedy)",
        "top_k": "Top-k (0 = off)",
        "top_p": "Top-p (1 = off)",
        "seed": "Seed (-1 = random)",
        "generate": "Generate",
        "stop": "Stop",
        "continuation": "Continuation",
        "shaded": "Each character shaded by the probability it had",
        "step": "Inspect step",
        "model_dist": "Model's distribution",
        "drawn_dist": "Distribution sampled from",
        "compare_intro": "One prompt through three cells trained on the same text, greedy decoding. "
        "The Goethe example needs 28 characters of context: after the second *we must* the answer is *do*, "
        "not *apply*, and only words far back tell the two apart. Every shipped model was trained until it "
        "recites its text perfectly, so all three keep that context here; watch how sure each one is, "
        "and what each writes once the text has run out.",
        "example": "Example: Goethe, “…Willing is not enough; we must ”",
        "compare": "Compare",
        "card": "Model card",
        "loss": "Training loss",
        "snapshot": "Training step (recorded predictions)",
        "prediction": "What the model predicted at that step (teacher forcing)",
        "projector": "Projector mode",
        "tab_inside": "Inside",
        "inside_intro": "What the network computes while it reads, one column per character. Rows are the units "
        "that change most. Red is positive, blue negative; gates are green, darker = more open "
        "(a forget gate near 1 keeps the LSTM's memory, near 0 wipes it).",
        "inside_button": "Look inside",
        "state_pick": "What to show",
        "layer": "Layer",
        "inside_step": "Step to look at (its column is outlined)",
        "saliency_title": "### Which characters drove the next prediction?",
        "tab_train": "Train your own",
        "train_intro": "Paste a text (any language, up to 10,000 characters) or upload a .txt file, pick a cell, and watch it "
        "learn: the loss falls and the prediction string fills with right characters. When it ends, the model is used "
        "in the other tabs and can be downloaded as a .safetensors checkpoint.",
        "train_text": "Your text",
        "train_file": "…or a .txt file",
        "train_name": "Name",
        "hidden_size": "Hidden size",
        "train_steps": "Training steps (at most)",
        "train_lines": "Each line is its own sequence",
        "train": "Train",
        "train_download": "Your checkpoint",
        "tab_lab": "Memory lab",
        "lab_intro": "Each line is `a` or `b`, then L random filler letters, then the first letter again: only a model "
        "that remembers the first letter L steps back can predict the last one (a coin toss otherwise: 50%). "
        "The three cells have the same number of parameters (about 5,500). The curves are measured, shipped with "
        "the app, and regenerated by `python -m charmodels.lab`. Budget, initialisation and curriculum change "
        "what you see: pick a run below, or train one point yourself.",
        "lab_grid": "Which run",
        "lab_accuracy": "Accuracy on held-out lines against the gap L",
        "lab_live": "### Train one point yourself",
        "lab_gap": "Gap L",
        "lab_steps": "Training steps",
        "lab_forget": "LSTM: start the forget gate open (bias 1)",
        "lab_curriculum": "Curriculum: grow the gap during training",
        "lab_run": "Run",
        "lab_seed": "Seed",
        "saliency_intro": "Each character of the prompt shaded by how much the prediction of the next character drops "
        "when the model does not see it (occlusion): orange helped, blue worked against it. "
        "The same prompt through the text's RNN, LSTM and GRU.",
    },
    ko={
        "title": "# charmodels: 순환 신경망이 한 글자씩 글을 쓰는 방법",
        "intro": "텍스트와 셀을 고르고 프롬프트를 입력하세요. 막대는 모델이 예측한 다음 문자입니다. "
        "**생성**을 누르면 모델이 이어 쓰고, 각 문자는 모델이 얼마나 확신했는지에 따라 색이 칠해집니다.",
        "corpus": "모델이 학습한 텍스트",
        "cell": "셀 종류",
        "upload": "…또는 .safetensors 체크포인트 올리기",
        "tab_predict": "예측과 생성",
        "tab_compare": "RNN vs LSTM vs GRU",
        "tab_card": "모델 카드와 학습 과정",
        "prompt": "프롬프트 (비우면 텍스트의 처음부터)",
        "next": "다음 문자",
        "length": "생성할 문자 수",
        "temperature": "온도 (0 = 탐욕적)",
        "top_k": "Top-k (0 = 끔)",
        "top_p": "Top-p (1 = 끔)",
        "seed": "시드 (-1 = 무작위)",
        "generate": "생성",
        "stop": "정지",
        "continuation": "이어 쓴 글",
        "shaded": "각 문자는 그 문자가 가졌던 확률만큼 진하게",
        "step": "살펴볼 단계",
        "model_dist": "모델의 분포",
        "drawn_dist": "실제로 뽑은 분포",
        "compare_intro": "같은 텍스트로 학습한 세 셀에 같은 프롬프트를 넣고 탐욕적으로 디코딩합니다. "
        "괴테 예제에는 28글자의 문맥이 필요합니다: 두 번째 *we must* 뒤의 답은 *apply*가 아니라 *do*이고, "
        "둘을 가르는 단서는 멀리 앞에 있습니다. 배포된 모델은 모두 자기 텍스트를 완벽히 외울 때까지 학습했으므로 "
        "여기서는 셋 다 그 문맥을 기억합니다. 각 모델이 얼마나 확신하는지, 텍스트가 끝난 뒤에는 무엇을 쓰는지 보세요.",
        "example": "예제: 괴테, “…Willing is not enough; we must ”",
        "compare": "비교",
        "card": "모델 카드",
        "loss": "학습 손실",
        "snapshot": "학습 단계 (기록된 예측)",
        "prediction": "그 단계에서 모델이 예측한 문자열 (교사 강요)",
        "projector": "프로젝터 모드",
        "tab_inside": "모델의 속",
        "inside_intro": "모델이 글을 읽는 동안 계산하는 값입니다. 열 하나가 문자 하나이고, 행은 가장 많이 변하는 유닛입니다. "
        "빨강은 양수, 파랑은 음수입니다. 게이트는 초록색이며 진할수록 많이 열려 있습니다 "
        "(망각 게이트가 1에 가까우면 LSTM의 기억을 지키고, 0에 가까우면 지웁니다).",
        "inside_button": "속 들여다보기",
        "state_pick": "보여 줄 값",
        "layer": "층",
        "inside_step": "살펴볼 단계 (그 열에 테두리)",
        "saliency_title": "### 어떤 문자가 다음 예측을 이끌었을까?",
        "tab_train": "직접 학습시키기",
        "train_intro": "텍스트를 붙여 넣거나(어떤 언어든, 10,000자까지) .txt 파일을 올리고 셀을 고른 뒤 학습을 지켜보세요. "
        "손실이 줄고 예측 문자열이 맞는 문자로 채워집니다. 끝나면 그 모델을 다른 탭에서 쓰고 .safetensors 체크포인트로 내려받을 수 있습니다.",
        "train_text": "내 텍스트",
        "train_file": "…또는 .txt 파일",
        "train_name": "이름",
        "hidden_size": "은닉 크기",
        "train_steps": "학습 스텝 (최대)",
        "train_lines": "각 줄을 따로 학습",
        "train": "학습",
        "train_download": "내 체크포인트",
        "tab_lab": "기억 실험실",
        "lab_intro": "각 줄은 `a` 또는 `b`로 시작하고, 무작위 문자 L개가 이어진 뒤 첫 글자가 다시 나옵니다. L단계 앞의 첫 글자를 "
        "기억하는 모델만 마지막 글자를 맞힐 수 있습니다 (아니면 동전 던지기: 50%). 세 셀의 파라미터 수는 같습니다 (약 5,500개). "
        "곡선은 실제로 측정해 앱과 함께 배포하며 `python -m charmodels.lab`으로 다시 만듭니다. 학습량, 초기화, 커리큘럼에 따라 "
        "결과가 달라집니다: 아래에서 실험을 고르거나 한 점을 직접 학습해 보세요.",
        "lab_grid": "어떤 실험",
        "lab_accuracy": "간격 L에 따른 검증 정확도",
        "lab_live": "### 한 점을 직접 학습하기",
        "lab_gap": "간격 L",
        "lab_steps": "학습 스텝",
        "lab_forget": "LSTM: 망각 게이트를 열어 둔 채 시작 (편향 1)",
        "lab_curriculum": "커리큘럼: 학습하며 간격을 늘리기",
        "lab_run": "실행",
        "lab_seed": "시드",
        "saliency_intro": "프롬프트의 각 문자를, 모델이 그 문자를 보지 못했을 때 다음 문자 예측이 얼마나 떨어지는지(가림 기법)로 "
        "칠했습니다. 주황은 예측을 도왔고 파랑은 방해했습니다. 같은 프롬프트를 그 텍스트의 RNN, LSTM, GRU에 넣었습니다.",
    },
)

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


# ---- event handlers: each asks charmodels.serving and hands the answer to components ----


@friendly
def select_model(corpus: str, cell: str, lang: str, prompt: str | None = None):
    serving = backend()
    if not corpus:
        raise ValueError("an uploaded model is in use: pick a text to go back to the shipped models")
    checkpoint = f"{corpus}-{cell}"
    model = serving.get_model(checkpoint)
    text = serving.DEFAULT_PROMPTS.get(corpus, "") if prompt is None else prompt
    return (checkpoint, text, *model_views(checkpoint, model, lang), *next_views(checkpoint, text, lang))


@friendly
def select_corpus(corpus: str, cell: str, lang: str):
    info = CORPORA[corpus]
    return (corpus_markdown(info.name, info.text, info.source), *select_model(corpus, cell, lang))


@friendly
def upload_model(path: str | None, lang: str):
    if not path:
        raise ValueError("no file was uploaded")
    serving = backend()
    checkpoint = serving.register_upload(path)
    model = serving.get_model(checkpoint)
    about = about_model(model)
    text = ""
    pickers = (gr.Dropdown(value=None), gr.Radio(value=model.config.cell))  # the pickers no longer name it
    return (*pickers, about, checkpoint, text, *model_views(checkpoint, model, lang), *next_views(checkpoint, text, lang))


def loss_frame(points) -> pd.DataFrame:
    """(step, loss) pairs as numbers: an empty first frame must not make the plot's axes categorical."""
    return pd.DataFrame(list(points), columns=["step", "loss"]).astype({"step": "int64", "loss": "float64"})


def about_model(model) -> str:
    corpus = model.info.get("corpus", {})
    return corpus_markdown(corpus.get("name", "?"), corpus.get("text", "(text not stored)"), corpus.get("source", ""))


@friendly
def show_model(checkpoint: str, lang: str):
    """Every view of the model now in use, from an empty prompt (after training one's own)."""
    model = backend().get_model(checkpoint)
    return (about_model(model), "", *model_views(checkpoint, model, lang), *next_views(checkpoint, "", lang))


def model_views(checkpoint: str, model, lang: str):
    """Model card, loss curve, and the snapshot slider with its first prediction."""
    from charmodels.views import card_markdown

    history = model.info.get("history", {})
    loss = loss_frame(history.get("loss", []))
    starts = history.get("restarts", [])  # each new attempt began at these steps
    loss["attempt"] = [str(1 + sum(step >= start for start in starts)) for step in loss["step"]]
    snapshots = history.get("snapshots", [])
    last = len(snapshots)
    slider = gr.Slider(minimum=1, maximum=max(last, 2), value=max(last, 1), step=1, interactive=last > 1)  # a slider needs min < max
    return card_markdown(model.info, lang), loss, slider, snapshot_text(checkpoint, last)


def snapshot_text(checkpoint: str, index: int | float | None) -> str:
    """The prediction string recorded at a training step, wrong characters marked."""
    from charmodels.views import snapshot_html

    serving = backend()
    snapshots = serving.history(checkpoint).get("snapshots", [])
    if not snapshots:
        return ""
    step, prediction = snapshots[min(max(int(index or 1), 1), len(snapshots)) - 1]
    return snapshot_html(step, prediction, serving.training_text(checkpoint) or prediction)


def next_views(checkpoint: str, prompt: str | None, lang: str):
    pairs, notes = backend().next_chars(checkpoint, prompt, lang)
    return label_value(pairs), "\n\n".join(notes)


@friendly
def on_prompt(checkpoint: str, prompt: str | None, lang: str):
    return next_views(checkpoint, prompt, lang)


@friendly
def on_generate(checkpoint, prompt, length, temperature, top_k, top_p, seed, lang):
    serving = backend()
    request = serving.check_request(length, temperature, top_k, top_p, seed)
    text, notes, steps = serving.stream(checkpoint, prompt, request, lang)
    chars: list[str] = []
    probs: list[float] = []
    records: list[dict] = []
    note = "\n\n".join(notes)
    shaded_at = time.monotonic()
    for step in steps:
        chars.append(step.char)
        probs.append(step.prob)
        records.append(serving.step_record(step))
        if time.monotonic() - shaded_at >= SHADE_EVERY:  # the shaded view is heavy: refresh it sparingly
            shaded_at = time.monotonic()
            yield "".join(chars), shaded_html(text, chars, probs), gr.skip(), gr.skip(), note
        else:
            yield "".join(chars), gr.skip(), gr.skip(), gr.skip(), note
    run = {"prompt": text, "records": records, "request": request.__dict__}
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
    lines = [say(lang, "inspect_step", n=n, char=f"'{visible_text(record['char'])}'", p=record["prob"])]
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
def on_compare(corpus: str, prompt: str | None, length, lang: str):
    results = backend().compare(corpus, prompt, length, lang)
    outputs = []
    for result in results:
        outputs += [label_value(result["next"]), result["text"]]
    return outputs


@friendly
def on_example(length, lang: str):
    corpus, prompt = backend().LONG_CONTEXT_EXAMPLE
    return (corpus, prompt, *on_compare(corpus, prompt, length, lang))


@friendly
def on_model_inside(checkpoint: str, lang: str):
    """The states and gates a model has, and its layers, for the pickers of the inside tab."""
    from charmodels.views import state_choices

    model = backend().get_model(checkpoint)
    layers = model.config.layers
    return (
        gr.Dropdown(choices=state_choices(model.config.cell, lang), value="h"),
        gr.Slider(minimum=1, maximum=max(layers, 2), value=1, step=1, interactive=layers > 1, visible=layers > 1),
    )


@friendly
def on_inside(checkpoint: str, corpus: str | None, prompt: str | None, which: str, layer, step, lang: str):
    from charmodels.views import STATE_NAMES, STATES_OF, heatmap_html, saliency_html, vector_html

    serving = backend()
    trace, cell, notes = serving.inside(checkpoint, prompt, lang)
    which = which if which in STATES_OF[cell] else "h"
    layer_trace = trace.layers[min(max(int(layer or 1), 1), len(trace.layers)) - 1]
    values = {"h": layer_trace.h, "c": layer_trace.c, **layer_trace.gates}[which]
    steps = len(trace.chars)
    n = min(max(int(step or steps), 1), steps)
    name = STATE_NAMES[which][language(lang)]
    vectors = [vector_html(STATE_NAMES[key][language(lang)], {"h": layer_trace.h, "c": layer_trace.c, **layer_trace.gates}[key][n - 1], key)
               for key in STATES_OF[cell]]
    after = ", ".join(
        f"'{visible_text(trace.vocab[i])}' {trace.probs[n - 1][i]:.0%}" for i in trace.probs[n - 1].argsort()[::-1][:3]
    )
    read = f"<p><b>{n}: '{html.escape(visible_text(trace.chars[n - 1]))}'</b> → {html.escape(after)}</p>"
    checkpoints = [f"{corpus}-{value}" for _, value in CELL_CHOICES] if corpus else [checkpoint]
    salient = serving.saliencies(checkpoints, prompt, lang)
    saliency = "".join(
        saliency_html(f"{r['checkpoint']}: '{visible_text(r['target'])}' {r['prob']:.0%}", r["chars"], r["scores"]) for r in salient
    )
    return (
        f"**{name}**" + ("\n\n" + "\n\n".join(notes) if notes else ""),
        heatmap_html(trace.chars, values, which, selected=n),
        gr.Slider(minimum=1, maximum=max(steps, 2), value=n, step=1, interactive=steps > 1),
        read + "".join(vectors),
        saliency,
    )


def read_text_upload(path: str | None):
    """A .txt upload into the text box, checked (size, UTF-8) by charmodels.jobs."""
    if not path:
        return gr.skip()
    from charmodels.jobs import read_text_file

    try:
        return read_text_file(path)
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from error


@friendly
def on_train(text: str, name: str, cell: str, hidden_size, steps, lines: bool, lang: str):
    serving = backend()
    job_id, job = serving.start_training(text, name, cell, hidden_size, steps, lines)
    truth = "".join(job.corpus.sequences())
    for snap in job.updates():
        loss = loss_frame(snap.loss)
        view = snapshot_html(snap.step, snap.prediction, truth) if snap.prediction else ""
        status = f"**{snap.state}** · {snap.message}"
        if not snap.finished:
            yield job_id, status, loss, view, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            continue
        if snap.path is None:  # failed: nothing to offer
            yield job_id, status, loss, view, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        key = serving.register_upload(snap.path)  # now usable in every tab, like an upload
        yield job_id, status, loss, view, snap.path, key, gr.Dropdown(value=None), gr.Radio(value=cell)


LAB_NOTES = {
    "en": {
        "main": "the plain recipe: 600 steps, default initialisation, no curriculum (2 seeds)",
        "more_seeds": "the plain recipe with 4 more seeds",
        "lstm_forget_bias_1": "LSTM with its forget gate started open (bias 1), 600 steps",
        "lstm_forget_bias_1_2000_steps": "LSTM, forget bias 1, 2000 steps",
        "rnn_2000_steps": "tanh RNN with 2000 steps",
        "curriculum": "curriculum: the training gap grows from 1 to L over the first 2/3 of 600 steps",
    },
    "ko": {
        "main": "기본 방법: 600 스텝, 기본 초기화, 커리큘럼 없음 (시드 2개)",
        "more_seeds": "기본 방법, 시드 4개 더",
        "lstm_forget_bias_1": "망각 게이트를 열어 두고 시작한 LSTM (편향 1), 600 스텝",
        "lstm_forget_bias_1_2000_steps": "LSTM, 망각 편향 1, 2000 스텝",
        "rnn_2000_steps": "tanh RNN, 2000 스텝",
        "curriculum": "커리큘럼: 600 스텝의 처음 2/3 동안 학습 간격을 1에서 L까지 늘림",
    },
}
LAB_VERDICT = {
    "en": {"yes": "remembers", "no": "at chance", "partly": "partly", "accuracy": "accuracy", "chance": "chance",
           "loss": "held-out loss", "params": "parameters", "steps": "steps in", "limit": "stopped at the time limit"},
    "ko": {"yes": "기억함", "no": "우연 수준", "partly": "일부", "accuracy": "정확도", "chance": "우연",
           "loss": "검증 손실", "params": "파라미터", "steps": "스텝,", "limit": "시간 제한으로 멈춤"},
}


def lab_choices(code: str):
    notes = LAB_NOTES[language(code)]
    return gr.Radio(choices=[(note, name) for name, note in notes.items()])


@friendly
def on_lab_grid(name: str):
    from charmodels.lab import format_table

    grid = backend().lab_results()[name]
    frame = pd.DataFrame(
        [(row["cell"].upper(), row["gap"], row["mean"]) for row in grid["means"]], columns=["cell", "gap", "accuracy"]
    ).astype({"gap": "int64", "accuracy": "float64"})
    legend = " · ".join(f'<span style="color:{color}">■</span> {cell}' for cell, color in CELL_COLORS.items())
    return frame, f"{legend}\n\n```text\n{format_table(grid['means'])}\n```\n{grid['note']}"


@friendly
def on_lab_run(cell: str, gap, steps, seed, forget_bias: bool, curriculum: bool, lang: str):
    t = LAB_VERDICT[language(lang)]
    for taken, curve, result in backend().lab_run(cell, gap, steps, seed, forget_bias, curriculum):
        loss = loss_frame(curve)
        if result is None:
            yield loss, f"{taken} / {int(steps)} …"
        else:
            verdict = t["yes"] if result.accuracy >= 0.9 else t["no"] if result.accuracy <= 0.6 else t["partly"]
            yield loss, (
                f"**{cell.upper()}, L = {int(gap)}: {t['accuracy']} {result.accuracy:.0%}** ({verdict}; "
                f"{t['chance']} {result.chance:.0%}) · {t['loss']} {result.eval_loss:.3f} · hidden {result.hidden}, "
                f"{result.parameters:,} {t['params']} · {result.steps} {t['steps']} {result.seconds:.1f} s"
                + (f" ({t['limit']})" if result.stopped else "")
            )


# ---- the API: two named endpoints, the same service the page uses ----


@friendly
def api_next_chars(checkpoint: str, prompt: str) -> tuple[dict, str]:
    """The top-10 next characters after `prompt` as {char: probability}, and notes on how the prompt was read."""
    pairs, notes = backend().next_chars(checkpoint, prompt)
    return dict(pairs), "\n".join(notes)


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
    serving = backend()
    request = serving.check_request(length, temperature, top_k, top_p, seed)
    _, _, steps = serving.stream(checkpoint, prompt, request)
    text = ""
    for step in steps:
        text += step.char
        yield text, serving.step_record(step)


# ---- layout ----

with gr.Blocks(title="charmodels") as demo:
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
            about = gr.Markdown(corpus_markdown(first.name, first.text, first.source), elem_id="cm-about")
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
                        choices=[(note, name) for name, note in LAB_NOTES["en"].items()], value="main", label=i18n("lab_grid")
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
        select_model, [corpus, cell, lang], model_outputs, **private
    ).then(on_model_inside, [checkpoint, lang], [which, layer], **private).then(
        lambda text: text, [prompt], [inside_prompt], **private
    ).then(lab_choices, [lang], [lab_grid], **private)
    corpus.input(select_corpus, [corpus, cell, lang], [about, *model_outputs], **private)
    cell.input(select_model, [corpus, cell, lang, prompt], model_outputs, **private)
    upload.upload(upload_model, [upload, lang], [corpus, cell, about, *model_outputs], **private)
    # .change, not .input: in Gradio 6.31 a Textbox's .input fires only for typed characters, not for
    # Backspace, Delete or paste, which left the bars showing an older prompt's distribution
    prompt.change(on_prompt, [checkpoint, prompt, lang], [bars, notes], trigger_mode="always_last", **private)
    generating = generate_button.click(
        on_generate,
        [checkpoint, prompt, length, temperature, top_k, top_p, seed, lang],
        [continuation, shaded, run, step, notes],
        concurrency_limit=4,
        concurrency_id="generate",
        **private,
    )
    prompt.submit(
        on_generate,
        [checkpoint, prompt, length, temperature, top_k, top_p, seed, lang],
        [continuation, shaded, run, step, notes],
        concurrency_id="generate",
        **private,
    )
    stop_button.click(None, cancels=[generating])
    step.input(on_inspect, [run, step, lang], [model_dist, drawn_dist, inspect_notes, shaded], **private)
    generating.then(on_inspect, [run, step, lang], [model_dist, drawn_dist, inspect_notes, shaded], **private)
    compare_button.click(on_compare, [corpus, compare_prompt, compare_length, lang], compared, **private)
    example.click(on_example, [compare_length, lang], [corpus, compare_prompt, *compared], **private)
    snapshot.input(snapshot_text, [checkpoint, snapshot], [prediction], **private)
    projector.click(None, js=TOGGLE_PROJECTOR)
    checkpoint.change(on_model_inside, [checkpoint, lang], [which, layer], **private)
    checkpoint.change(lambda text: text, [prompt], [inside_prompt], **private)  # start from the page's prompt
    inside_inputs = [checkpoint, corpus, inside_prompt, which, layer, inside_step, lang]
    inside_outputs = [inside_title, heat, inside_step, vectors, saliency_view]
    inside_button.click(on_inside, [checkpoint, corpus, inside_prompt, which, layer, gr.State(None), lang], inside_outputs, **private)
    inside_prompt.submit(on_inside, [checkpoint, corpus, inside_prompt, which, layer, gr.State(None), lang], inside_outputs, **private)
    for control in (which, layer):
        control.input(on_inside, inside_inputs, inside_outputs, **private)
    inside_step.release(on_inside, inside_inputs, inside_outputs, **private)
    train_file.upload(read_text_upload, [train_file], [train_text], **private)
    training = train_button.click(
        on_train,
        [train_text, train_name, train_cell, hidden_size, train_steps, train_lines, lang],
        [job_id, train_status, train_loss, train_view, train_download, checkpoint, corpus, cell],
        concurrency_limit=2,  # the second is refused at once by charmodels.jobs, never queued for minutes
        concurrency_id="train",
        **private,
    )
    training.then(show_model, [checkpoint, lang], [about, *model_outputs[1:]], **private)
    lab_grid.change(on_lab_grid, [lab_grid], [lab_plot, lab_table], **private)
    demo.load(on_lab_grid, [lab_grid], [lab_plot, lab_table], **private)
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

LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "js": HEAD_JS, "i18n": i18n}


def warm_up_in_background() -> None:
    """Import torch and load the first model while the visitor reads the page."""
    threading.Thread(target=lambda: backend().warm_up(f"{FIRST_CORPUS}-{FIRST_CELL}"), daemon=True).start()


if __name__ == "__main__":
    local = not (os.environ.get("SPACE_ID") or os.environ.get("CI"))
    demo.queue(default_concurrency_limit=4)
    demo.launch(inbrowser=local, prevent_thread_lock=True, **LAUNCH_OPTIONS)
    warm_up_in_background()
    demo.block_thread()
