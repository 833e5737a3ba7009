"""Every string the app shows, in English and Korean; the one place to translate.

- `UI`: the page's static text, handed to Gradio as `gr.I18n` (the browser's language decides).
- `MESSAGES`: what the server writes into the page (notes, the model card, the step
  inspector, training and lab statuses, names of states and gates, the app's own errors).
- `ERRORS`: a sentence for every error code of `charmodels.errors.MESSAGES` (English is the
  library's own sentence; tests/app/test_i18n.py checks that Korean covers every code).

`say(lang, key, **params)` words one key; `error_text(lang, error)` words an error the
library or the service raised, never with a path of the server.
"""

from __future__ import annotations

import logging
from typing import Any

from charmodels.errors import MESSAGES as LIBRARY_MESSAGES
from charmodels.errors import CharmodelsError, CheckpointError

LANGUAGES = ("en", "ko")
log = logging.getLogger(__name__)


def language(code: str | None) -> str:
    """'ko', 'ko-KR' -> 'ko'; anything else -> 'en'."""
    return "ko" if isinstance(code, str) and code.lower().startswith("ko") else "en"


# ---- the page's static text (gr.I18n) ----

UI: dict[str, dict[str, str]] = {
    "en": {
        "title": "# charmodels: how a recurrent network writes, one character at a time",
        "intro": "Pick a text and a cell. Type a prompt: the bars show what the model thinks comes next. "
        "**Generate** lets it write on; each character is shaded by how sure it was.",
        "corpus": "Text the model learned",
        "cell": "Cell type",
        "upload": "A .safetensors checkpoint (yours, or from train.py)",
        "about_title": "The text it learned",
        "upload_title": "Your checkpoint",
        "text_goethe_lines": "goethe, one sentence a line",
        "text_shakespeare": "Tiny Shakespeare (unsure)",
        "text_lecture_ko": "Korean lecture notes (unsure)",
        "unsure_hint": "Every standard model learned its short text by heart, so its bars read nearly 100%. "
        "To see what the softmax and the temperature do, use a model that is unsure:",
        "probe_title": "### Does the model read the far word?",
        "probe_intro": "Each model reads the prompt, then the same prompt with its far word swapped (*Willing* → *Knowing*). "
        "A model that reads that word changes its answer (*do* → *apply*); one that only counts the sentences keeps it. "
        "**goethe**'s models read the quotation as one sequence, where the second *we must* can also be told from the first "
        "by counting. **goethe, one sentence a line** was read one sentence at a time from a fresh state, so only the first "
        "word tells *apply* from *do*; its three cells have about the same number of parameters (about 22,000) and the "
        "same training budget. The table is measured now, on the shipped models.",
        "tab_predict": "Predict & generate",
        "tab_compare": "RNN vs LSTM vs GRU",
        "tab_card": "Model card",
        # the through-time tab, the guided lesson, links (demo/through_time.py, demo/lessons.py, demo/urlstate.py)
        "tab_time": "Through time",
        "lesson_title": "Guided lesson",
        "lesson_prev": "◀ Previous card",
        "lesson_next": "Next card ▶",
        "lesson_pick": "Card",
        "copy_link": "Copy link",
        "surprise_title": "### Surprise, marked in your text",
        "surprise_text": "A text to read (every character in the model's vocabulary)",
        "surprise_button": "Measure the surprise",
        "recital_title": "### Memory, marked in a sample",
        "recital_button": "Generate and mark (the Predict tab's temperature and seed)",
        "course_title": "### The course's recipe against ours",
        "course_text": "Your own text (empty: seed 000's goethe and anthem)",
        "course_button": "Train both recipes",
        "flow_title": "### Gradient flow through time",
        "lab_flow_title": "### Why the curves fall: the gradient that reaches the first letter",
        "lab_flow_intro": "The same task at gap L, one model per cell at the lab's size (seed 0, 600 steps): for the answer, "
        "the L2 norm of the gradient of its log-probability with respect to every earlier input xₜ and hidden state hₜ, "
        "averaged over 64 held-out lines, on a log scale. The first letter is the leftmost point. Where its gradient has "
        "vanished, training cannot teach the cell to carry it: compare the tanh RNN with the GRU at L = 30.",
        "lab_flow_gap": "Gap L",
        "flow_button": "Draw the gradient flow at this step",
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
        "compare_intro": "One prompt through the RNN, the LSTM and the GRU trained on the same text, greedy decoding: "
        "how sure each is of the next character, and what each writes, also once the text has run out. "
        "The standard models were each trained until they recite their text, so on it all three write the same; "
        "what tells them apart is what they do off the text, and the probe above.",
        "example": "Example: Goethe's second “we must”",
        "compare": "Compare",
        "card": "Model card",
        "loss": "Training loss",
        "loss_by_attempt": "Training loss (a colour per training attempt)",
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
        "train_intro": "Paste a text (any language, up to 50,000 characters) or upload a .txt file, pick a cell, and watch it "
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
        # plot axes (built into the plots: an update that sets a plot's titles loses its data in Gradio 6.31)
        "axis_step": "step",
        "axis_loss": "loss (nats per character)",
        "axis_gap": "gap L",
        "axis_accuracy": "accuracy",
        "axis_attempt": "attempt",
        "axis_cell": "cell",
        "saliency_intro": "Each character of the prompt shaded by how much the prediction of the next character drops "
        "when the model does not see it (occlusion): orange helped, blue worked against it. "
        "The same prompt through the text's RNN, LSTM and GRU.",
        # the explainer in the Inside tab
        "size": "Size (hidden units)",
        "units": "Units to explain (empty: the most active)",
        "explain_title": "### How this step is computed",
        "explain_intro": "The step control (slider, ◀ ▶) picks a character of the prompt: the one-hot input, the cell's "
        "diagram and its equations with this model's own numbers follow it. Pick a tiny size (hihello, seoul) to see every weight.",
    },
    "ko": {
        "title": "# charmodels: 순환 신경망이 한 글자씩 글을 쓰는 방법",
        "intro": "텍스트와 셀을 고르고 프롬프트를 입력하세요. 막대는 모델이 예측한 다음 문자입니다. "
        "**생성**을 누르면 모델이 이어 쓰고, 각 문자는 모델이 얼마나 확신했는지에 따라 색이 칠해집니다.",
        "corpus": "모델이 학습한 텍스트",
        "cell": "셀 종류",
        "upload": ".safetensors 체크포인트 (직접 만들었거나 train.py로 만든 것)",
        "about_title": "모델이 학습한 텍스트",
        "upload_title": "내 체크포인트",
        "text_goethe_lines": "goethe, 한 줄에 한 문장",
        "text_shakespeare": "Tiny Shakespeare (확신 없는 모델)",
        "text_lecture_ko": "강의 노트 (확신 없는 모델)",
        "unsure_hint": "기본 모델은 모두 짧은 텍스트를 통째로 외웠기 때문에 막대가 거의 100%를 가리킵니다. "
        "소프트맥스와 온도가 하는 일을 보려면 확신이 없는 모델을 쓰세요:",
        "probe_title": "### 모델은 멀리 있는 단어를 읽을까?",
        "probe_intro": "각 모델에 프롬프트를 넣고, 다음으로 멀리 있는 단어만 바꾼 같은 프롬프트(*Willing* → *Knowing*)를 넣습니다. "
        "그 단어를 읽는 모델은 답을 바꾸고(*do* → *apply*), 문장 수만 세는 모델은 답을 그대로 둡니다. "
        "**goethe** 모델은 인용문을 하나의 시퀀스로 읽었으므로, 두 번째 *we must*를 첫 번째와 문장 수를 세어서도 구별할 수 있습니다. "
        "**goethe, 한 줄에 한 문장** 모델은 문장을 하나씩 새 상태에서 읽었으므로 *apply*와 *do*를 가르는 단서는 첫 단어뿐입니다. "
        "세 셀의 파라미터 수는 거의 같고(약 22,000개) 학습 예산도 같습니다. 표는 배포된 모델로 지금 측정한 값입니다.",
        "tab_predict": "예측과 생성",
        "tab_compare": "RNN vs LSTM vs GRU",
        "tab_card": "모델 카드",
        "tab_time": "시간을 따라",
        "lesson_title": "안내 수업",
        "lesson_prev": "◀ 이전 카드",
        "lesson_next": "다음 카드 ▶",
        "lesson_pick": "카드",
        "copy_link": "링크 복사",
        "surprise_title": "### 텍스트에 표시한 놀람",
        "surprise_text": "읽을 텍스트 (모든 문자가 모델의 어휘에 있어야 합니다)",
        "surprise_button": "놀람 측정하기",
        "recital_title": "### 샘플에 표시한 기억",
        "recital_button": "생성하고 표시하기 (예측 탭의 온도와 시드 사용)",
        "course_title": "### 강의의 학습법과 charmodels의 학습법",
        "course_text": "직접 고른 텍스트 (비우면 시드 000의 goethe와 anthem)",
        "course_button": "두 방법 모두 학습하기",
        "flow_title": "### 시간을 거슬러 흐르는 그래디언트",
        "lab_flow_title": "### 곡선이 떨어지는 이유: 첫 글자까지 닿는 그래디언트",
        "lab_flow_intro": "같은 과제의 간격 L에서, 실험실 크기의 셀별 모델 하나씩(시드 0, 600 스텝)으로 정답의 로그 확률을 앞선 모든 입력 xₜ와 "
        "은닉 상태 hₜ로 미분한 그래디언트의 L2 노름을, 검증용 64줄에 대해 평균 내어 로그 눈금으로 그렸습니다. 가장 왼쪽 점이 첫 글자입니다. "
        "그 그래디언트가 사라지면 학습으로도 셀이 그 글자를 기억하도록 가르칠 수 없습니다. L = 30에서 tanh RNN과 GRU를 비교해 보세요.",
        "lab_flow_gap": "간격 L",
        "flow_button": "이 단계의 그래디언트 흐름 그리기",
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
        "compare_intro": "같은 텍스트로 학습한 RNN, LSTM, GRU에 같은 프롬프트를 넣고 탐욕적으로 디코딩합니다: "
        "각 모델이 다음 문자를 얼마나 확신하는지, 그리고 텍스트가 끝난 뒤에도 무엇을 쓰는지 봅니다. "
        "기본 모델은 모두 자기 텍스트를 외울 때까지 학습했으므로 텍스트 위에서는 셋이 같은 글을 씁니다. "
        "셋을 가르는 것은 텍스트를 벗어났을 때의 행동과 위의 탐침 실험입니다.",
        "example": "예제: 괴테의 두 번째 “we must”",
        "compare": "비교",
        "card": "모델 카드",
        "loss": "학습 손실",
        "loss_by_attempt": "학습 손실 (학습 시도마다 다른 색)",
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
        "train_intro": "텍스트를 붙여 넣거나(어떤 언어든, 50,000자까지) .txt 파일을 올리고 셀을 고른 뒤 학습을 지켜보세요. "
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
        "axis_step": "스텝",
        "axis_loss": "손실 (문자당 nat)",
        "axis_gap": "간격 L",
        "axis_accuracy": "정확도",
        "axis_attempt": "시도",
        "axis_cell": "셀",
        "saliency_intro": "프롬프트의 각 문자를, 모델이 그 문자를 보지 못했을 때 다음 문자 예측이 얼마나 떨어지는지(가림 기법)로 "
        "칠했습니다. 주황은 예측을 도왔고 파랑은 방해했습니다. 같은 프롬프트를 그 텍스트의 RNN, LSTM, GRU에 넣었습니다.",
        "size": "크기 (은닉 유닛 수)",
        "units": "설명할 유닛 (비우면 가장 활발한 유닛)",
        "explain_title": "### 이 단계는 이렇게 계산됩니다",
        "explain_intro": "단계 조절(슬라이더, ◀ ▶)로 프롬프트의 문자를 고르면 원-핫 입력, 셀 그림, 그리고 이 모델의 실제 숫자를 넣은 "
        "식이 따라 바뀝니다. 작은 크기(hihello, seoul)를 고르면 모든 가중치가 보입니다.",
    },
}

# ---- what the server writes into the page ----

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # how a prompt was read (demo/service.py's Notes)
        "note_empty": "Empty prompt: starting from the corpus's first character {char}.",
        "note_unknown": "Left out, never seen in training: {chars}.",
        "note_trimmed": "The prompt is long: the model reads its last {n:,} characters.",
        "note_nothing_left": "No character of the prompt is in the model's vocabulary; starting from {char}.",
        "prompt_cut": "… {n:,} earlier characters of the prompt are not shown here",
        # whitespace in the bars: named, since a lone ␣ is a few pixels wide
        "char_space": "space",
        "char_newline": "newline",
        "char_tab": "tab",
        "char_return": "return",
        # the text beside the pickers
        "corpus_counts": "{chars:,} chars · {distinct:,} distinct",
        "text_not_stored": "(text not stored)",
        "corpus_chars": "{chars:,} characters (too long to travel inside the checkpoint)",
        "about_goethe_lines": "The Goethe quotation, one sentence a line: each sentence is read from a fresh state, "
        "so only its first word tells *apply* from *do*.",
        "about_shakespeare": "Tiny Shakespeare: 1.1 MB of Shakespeare's plays (the char-rnn data set). The models learned "
        "it to generalise, not to recite: the last 5% was held out, and they are unsure, as a language model should be.",
        "about_lecture_ko": "The Korean prose of the course notes (seeds 000-004, without code): the model writes your "
        "lecture back, unsure of every next character.",
        # the page's own models in the text picker
        "own_uploaded": "{name} (uploaded)",
        "own_trained": "{name} (trained here)",
        # the comparison and its probe
        "compare_of": "The RNN, the LSTM and the GRU trained on **{text}**.",
        "compare_own": "This model's text is its own: the comparison needs the standard models of a built-in text.",
        "probe_model": "model",
        "probe_as_is": "after the prompt",
        "probe_swapped": "far word swapped",
        "probe_verdict": "what it reads",
        "probe_reads": "changes its answer: reads the far word",
        "probe_ignores": "same answer: does not read the far word",
        "probe_unsure": "a coin toss: cannot tell the two apart",
        "probe_training": "its training",
        "probe_learned": "{parameters:,} parameters; recites its text after {steps:,} steps ({attempts} attempts)",
        "probe_not_learned": "{parameters:,} parameters; below the quality bar after {steps:,} steps ({attempts} attempts)",
        # the model card
        "card_title": "Model card",
        "card_corpus": "Corpus",
        "card_source": "Source",
        "card_chars": "characters",
        "card_cell": "Cell",
        "card_layers": "Layers",
        "card_hidden": "Hidden size",
        "card_input": "Input",
        "card_one_hot": "one-hot ({n} characters)",
        "card_embedding": "embedding of {n}",
        "card_params": "Parameters",
        "card_steps": "Training steps",
        "card_seconds": "Training time",
        "card_attempts": "attempts",
        "card_quality": "Quality (teacher-forced accuracy, free-run reconstruction, bits per character, smallest probability of the right character)",
        "card_below_bar": "**Below the quality bar**: this model does not recite its text confidently.",
        "card_epochs": "{n:.1f} passes over the text",
        "card_validation": "**Validation: {bpc:.3f} bits per character** on the last {share:.0%} of the text "
        "({chars:,} characters it never trained on).",
        "snapshot_should_be": "should be {char}",
        "snapshot_right": "{right} of {n} right",
        "no_snapshots": "This model learned a long text: no prediction strings were recorded (its validation bits per character are in the card).",
        # the step inspector
        "inspect_none": "Generate something, then pick a step to see the distribution it was drawn from.",
        "inspect_step": "Step {n}: wrote {char} with probability {p:.1%}.",
        "inspect_reshaped": "Temperature {t:g}, top-k {k}, top-p {p:g} reshaped the model's distribution (left) into the one sampled from (right).",
        "inspect_greedy": "Greedy decoding: the most likely character is always taken.",
        "off": "off",
        # inside the model: names of states and gates
        "state_h": "hidden state h",
        "state_c": "cell state c (LSTM memory)",
        "state_i": "input gate i",
        "state_f": "forget gate f",
        "state_g": "candidate g",
        "state_o": "output gate o",
        "state_r": "reset gate r",
        "state_z": "update gate z",
        "state_n": "candidate n",
        "vector_mean": "mean {mean:+.2f}",
        "vector_unit": "unit {unit}: {value:+.3f}",
        # training your own text (charmodels.jobs): states, then what a job does or why it ended
        "job_running": "running",
        "job_done": "done",
        "job_stopped": "stopped",
        "job_timed_out": "timed out",
        "job_failed": "failed",
        "job_starting": "starting",
        "job_training": "training: step {step:,} of {max_steps:,}",
        "job_saving": "measuring and saving the model",
        "job_learned": "learned the text in {step:,} steps ({seconds:.1f} s): {scores}",
        "job_all_steps": "used all {step:,} steps without reciting the text confidently yet: {scores}",
        "job_by_request": "stopped at step {step:,}; the model so far is saved ({scores})",
        "job_time_up": "time limit of {time_limit:g} s reached at step {step:,}; the model so far is saved ({scores})",
        "job_shutdown": "the program was shutting down: training ended unsaved",
        "job_discarded": "a newer training replaced this one: it ended unsaved",
        "job_error": "training failed: {problem}",
        "job_scores": "tf_acc {tf_acc:.1%}, recon {recon:.1%}, min_p {min_p:.2f}",
        # the one fair line every training waits in (charmodels.fairqueue): never a refusal
        "job_waiting": "waiting",
        "job_left": "not in line",
        "queue_waiting": "you are number {position} in line: it starts in about {start:,} s (at the latest in {start_max:,} s) "
        "and ends in about {end:,} s. Stop leaves the line.",
        "queue_ends": " · ends in about {end:,} s (at the latest in {end_max:,} s)",
        "queue_cached": " · the same as a classmate's identical run: served from it at once",
        "left_by_owner": "you left the line; nothing was kept for you",
        "left_session_ended": "the page was closed: the request and its files are gone",
        "left_closed": "the app is shutting down: the training ended unsaved",
        "left_expired": "this request was more than an hour old: it was removed with its files",
        "job_not_reached": "did not reach the quality bar within its {step:,} steps: saved as it is. It recites {recon:.0%} of "
        "the text, {tf_acc:.1%} of its next-character guesses are right, and its least sure right guess has "
        "p = {min_p:.2f} (the bar: 100%, 100% and p ≥ 0.9). More steps, a larger hidden size or a shorter text help.",
        # the memory lab
        "lab_note_main": "the plain recipe: 600 steps, default initialisation, no curriculum (2 seeds)",
        "lab_note_more_seeds": "the plain recipe with 4 more seeds",
        "lab_note_lstm_forget_bias_1": "LSTM with its forget gate started open (bias 1), 600 steps",
        "lab_note_lstm_forget_bias_1_2000_steps": "LSTM, forget bias 1, 2000 steps",
        "lab_note_rnn_2000_steps": "tanh RNN with 2000 steps",
        "lab_note_curriculum": "curriculum: the training gap grows from 1 to L over the first 2/3 of 600 steps",
        "lab_progress": "step {taken:,} of {steps:,}",
        "lab_stopped": " (stopped by you; the model so far is measured)",
        "lab_yes": "remembers",
        "lab_no": "at chance",
        "lab_partly": "partly",
        "lab_limit": " (stopped at the time limit)",
        "lab_result": "**{cell}, L = {gap}: accuracy {accuracy:.0%}** ({verdict}; chance {chance:.0%}) · "
        "held-out loss {loss:.3f} · hidden {hidden}, {parameters:,} parameters · {steps} steps in {seconds:.1f} s{limit}",
        # the app's own errors (demo/service.py's PageError, and what the page wraps)
        "error_no_file": "no file was uploaded",
        "error_upload_in_use": "an uploaded model is in use: pick a text to go back to the shipped models",
        "error_compare_needs_corpus": "the comparison runs the standard RNN, LSTM and GRU of a built-in text, and this "
        "model's text is its own: pick a built-in text to compare",
        "error_pick_text": "pick a text",
        "error_unexpected": "something went wrong on the server ({kind}); please try again",
        "error_checkpoint_named": "{source}: {problem}",
        # the explainer: one step's equations, diagram and input (demo/explainer.py)
        "ex_step": "Step {t} of {n}: the model reads {char}",
        "ex_left_out": "These are the prompt's last {n:,} characters; {left:,} before them are left out.",
        "ex_input_onehot": "x_t is the one-hot vector of {char}: a 1 at position {index} of the {size} characters, 0 elsewhere",
        "ex_input_embedding": "x_t is row {index} of the embedding ({size} numbers), the learned vector of {char}",
        "ex_layer": "Layer {layer} of {layers}: its x_t is the h_t of the layer below",
        "ex_bias_note": "torch keeps two biases, b_xh and b_hh; b is their sum.",
        "ex_gru_convention": "torch's GRU: h_t = (1 − z_t) ⊙ n_t + z_t ⊙ hₜ₋₁, so z_t is how much of the old state is kept. "
        "The seeds' figures (colah's) write z_t for how much of the new is written: the same cell with z_t and 1 − z_t swapped. "
        "torch also applies r_t after W_hn: r_t ⊙ (W_hn hₜ₋₁ + b_hn).",
        "ex_units_shown": "Units {units} of {hidden}; each dot product lists its largest terms, the others summed.",
        "ex_unit": "Unit {unit}",
        "ex_more": "{n} more",
        "ex_matrix_W_xh": "W_xh: input to hidden (rows: each gate's units)",
        "ex_matrix_W_hh": "W_hh: hidden to hidden",
        "ex_matrix_b": "Biases (b = b_xh + b_hh)",
        "ex_matrix_W_hy": "W_hy: the head, hidden to one score per character",
        "ex_matrix_b_y": "b_y: the head's bias",
        "ex_head": "The head: one score (logit) per character",
        "ex_softmax": "Softmax: from scores to probabilities",
        "ex_greedy": "Temperature 0 is greedy: all the probability goes to the top score, {char}.",
        "ex_top_k": "top-k {k}: only the {k} most likely characters stay, renormalised.",
        "ex_top_p": "top-p {p}: only the most likely characters whose probabilities reach {p} stay, renormalised.",
        "ex_col_char": "next",
        "ex_col_logit": "score z",
        "ex_col_p": "÷ sum",
        "ex_col_final": "after the cut (the bars)",
        "ex_diagram_title": "The cell at step {t} ({char}), units {units}",
        "ex_diagram_legend": "One stripe per unit on every wire. Red positive, blue negative, green a gate's openness; "
        "hover or tap for the number.",
        # a link's query (demo/urlstate.py): what was ignored
        "url_unknown": "The link's parameter “{name}” is not one this page knows: ignored.",
        "url_repeated": "The link gives “{name}” more than once: the first is used.",
        "url_bad": "The link's {name} = “{value}” cannot be used here (allowed: {allowed}): ignored.",
        "url_too_long": "The link is {n:,} characters long (at most {limit:,}): its settings were ignored.",
        # surprise, recital, gradient flow, the course's recipe (demo/through_time.py)
        "tt_model": "This model (its hidden state)",
        "tt_bigram": "Bigram (the character before only)",
        "tt_unigram": "Unigram (character counts only)",
        "tt_first": "The first character is read, not predicted",
        "tt_surprise_tip": "{char}: {bits} bits, p = {p}, rank {rank} of {of}",
        "tt_bpc_unit": "bits per character",
        "tt_bpc_title": "Bits per character (lower = less surprised)",
        "tt_worst_title": "The model's biggest surprises",
        "tt_col_char": "character",
        "tt_col_position": "position",
        "tt_col_bits": "bits",
        "tt_col_rank": "rank",
        "tt_surprise_legend": "Each character shaded by its surprisal, −log₂ p, in bits: darker = more surprising; full colour "
        "at {blind} bits, a blind guess among {of} characters. Hover or tap a character for its bits, probability and rank. "
        "The bigram and unigram models count the training text ({chars} characters), add-one smoothed.",
        "tt_recited_tip": "Recited: inside a stretch of at least {k} characters found word for word in the training text ({n} here)",
        "tt_invented_tip": "Invented: in no stretch of {k} characters of the training text ({n} here)",
        "tt_prompt_tip": "The prompt: given, not written by the model ({n} characters)",
        "tt_shares": "Recited {recited}, invented {invented} of the {n} characters written",
        "tt_recital_legend": "Underlined on green: recited, inside a stretch of at least {k} characters that occurs word for "
        "word in the training text. Italic on orange: invented. Grey: the prompt, not counted.",
        "tt_flow_panel": "{name}: p({target}) = {p}",
        "tt_flow_input": "xₜ",
        "tt_flow_hidden": "hₜ",
        "tt_flow_cell": "cₜ",
        "tt_flow_tip": "{char}, {d} back: {norms}",
        "tt_flow_axis": "characters read (the number under each: how many steps back; 1 = the last one read)",
        "tt_flow_line_input": "solid: the input xₜ",
        "tt_flow_line_hidden": "dashed: the hidden state hₜ",
        "tt_flow_line_cell": "dotted: the LSTM's cell state cₜ",
        "tt_flow_caption": "The {norm} norm of the gradient of {of}, position {position}, with respect to each earlier "
        "step's vectors, on a log scale (one power of ten per grid line): how much a small change there moves this prediction.",
        "tt_flow_lines": "The norms are the means over {lines} held-out lines of the Memory lab's task.",
        "tt_course_seed": "Seed 000's recipe (windows of 10 characters):",
        "tt_course_ours": "charmodels' recipe (the whole text as one sequence):",
        "tt_course_right": "every character right",
        "tt_course_wrong": "wrong from character {at}",
        "tt_course_stopped": " (stopped at its time limit)",
        "tt_course_detail": "{cell}, {hidden} units × {layers}, {steps} steps, {seconds} s",
        "tt_course_text": "{name}: the predictions of every next character (wrong ones marked)",
        "tt_course_progress": "Training {name}: {recipe} step {step}, loss {loss}, {seconds} s so far",
        "tt_why_window": "After “{context}”, the text goes on once with “{first}” and once with “{second}”; only the "
        "character {needed} back ({first_word} against {second_word}) tells the two apart. A window of {window} characters "
        "never sees that far, so a model trained on such windows must get one of them wrong.",
        "tt_why_learnable": "This text needs {needed} characters of context to predict every next character. A window of "
        "{window} is long enough: nothing in the text stops it, though it still has to be trained.",
        "tt_why_never": "Two lines of this text begin alike and end differently: no amount of context tells them apart, "
        "so no recipe can predict every character.",
        # the guided lesson (demo/lessons.py)
        "lesson_heading": "Card {n} of {total} · {title}",
        "lesson_one_hot_title": "One-hot input",
        "lesson_one_hot_look": "The model never sees letters, only numbers: xₜ is a row as long as the vocabulary "
        "(e, h, i, l, o), all zeros except a single 1 at the position of the character read. Step through the prompt with "
        "◀ ▶ and watch the lit position move. Multiplying W_xh by this vector just picks one column of W_xh.",
        "lesson_memory_title": "The hidden state is the memory",
        "lesson_memory_look": "Steps 5 and 6 both read l, yet after the first l the model predicts l and after the second "
        "it predicts o. The input xₜ is the same both times, so the difference can only come from hₜ₋₁, the hidden "
        "state carried from the steps before. Compare hₜ₋₁ in the card at step 5 and at step 6.",
        "lesson_softmax_title": "Scores become probabilities: the softmax",
        "lesson_softmax_look": "The head gives every character a score z = W_hy hₜ + b_y. The softmax turns the scores "
        "into probabilities: subtract the largest, take exp, divide by the sum. This model learned a long text and is "
        "unsure, so several characters keep a real share; the table shows each step of the sum with its own numbers.",
        "lesson_cross_entropy_title": "Cross-entropy: how surprised the model is",
        "lesson_cross_entropy_look": "Training lowers the cross-entropy: −log p of the character that really came, here in "
        "bits. Each character is shaded by it, and the typo in enoguh lights up: the model gave it almost no probability. "
        "Below, the same text under a bigram and a unigram model of the training text: the gap between their bits per "
        "character and the model's is what the hidden state adds.",
        "lesson_temperature_title": "Argmax or sampling: the temperature",
        "lesson_temperature_look": "At temperature 0 the model always writes its most likely character (argmax): the same "
        "prompt gives the same text every time. Above 0 each character is drawn from softmax(z / T): a low T sharpens the "
        "bars, a high T flattens them and the text grows stranger. Move the slider and generate again; the same seed "
        "repeats the same draw.",
        "lesson_recital_title": "Recited or invented",
        "lesson_recital_look": "Stretches of the sample that occur word for word in the training text (8 characters or "
        "more) are underlined as recited; the rest is invented. At temperature 0 a model that learned its text by heart "
        "recites all of it; at 1.5 much of what it writes is new. The shares above the text say how much of each.",
        "lesson_replay_title": "Training, replayed",
        "lesson_replay_look": "The model card replays how this RNN learned goethe. The loss falls step by step; the slider "
        "under it shows the prediction string at each recorded step, the way the seeds print it, with the wrong characters "
        "marked. The early predictions are mostly wrong; at the end every character is right.",
        "lesson_lstm_title": "The LSTM: gates and the cell state",
        "lesson_lstm_look": "Three gates, each a σ between 0 and 1, decide: f how much of the old cell state cₜ₋₁ to "
        "keep, i how much of the new candidate g to write, o how much of tanh(cₜ) to show as hₜ. The cell state is only "
        "multiplied and added, cₜ = f ⊙ cₜ₋₁ + i ⊙ g, never squashed in between: what f keeps passes on almost "
        "unchanged. Hover over a wire to read its numbers.",
        "lesson_gru_title": "The GRU: two gates, one state",
        "lesson_gru_look": "The GRU has no separate cell state. The reset gate r decides how much of hₜ₋₁ the candidate "
        "n sees; the update gate z decides how much of hₜ₋₁ to keep. In torch's convention hₜ = (1 − z) ⊙ n + "
        "z ⊙ hₜ₋₁, so z near 1 keeps the old state (the seeds' notes swap z and 1 − z).",
        "lesson_gradient_flow_title": "The long-term dependency: gradient flow",
        "lesson_gradient_flow_look": "Which we must is this: the one after Knowing (apply) or the one after Willing (do)? "
        "The letter that decides is 28 characters back. The plot shows, on a log scale, how strongly this prediction "
        "depends on each earlier character (the norm of the gradient of its log-probability), for the RNN, the LSTM and "
        "the GRU side by side.",
        "lesson_lab_title": "The long-term dependency: the Memory lab",
        "lesson_lab_look": "Each line starts with a letter, then comes a gap of filler characters, and at the end the model "
        "must repeat the first letter. The plot shows each cell's accuracy against the gap: where a curve falls to "
        "guessing, that cell has forgotten. Run a point yourself to watch it train.",
        "lesson_course_title": "The long-term dependency: the course's recipe",
        "lesson_course_look": "Seed 000 trains on windows of 10 characters, each read from a fresh state; one click trains "
        "that recipe next to charmodels', which reads the whole text as one sequence. A window of 10 cannot see Willing, "
        "28 characters back, so the windows must get we must apply or we must do wrong (the seed's own run ends in "
        "we must ao); the whole-sequence model recites the text.",
    },
    "ko": {
        "note_empty": "프롬프트가 비어 있어 말뭉치의 첫 문자 {char}에서 시작합니다.",
        "note_unknown": "학습 때 본 적 없는 문자는 건너뜁니다: {chars}.",
        "note_trimmed": "프롬프트가 길어 마지막 {n:,}개 문자만 읽습니다.",
        "note_nothing_left": "프롬프트의 어떤 문자도 모델의 어휘에 없어 {char}에서 시작합니다.",
        "prompt_cut": "… 프롬프트의 앞부분 {n:,}자는 여기에 보이지 않습니다",
        "char_space": "공백",
        "char_newline": "줄바꿈",
        "char_tab": "탭",
        "char_return": "캐리지 리턴",
        "corpus_counts": "{chars:,}자 · 서로 다른 문자 {distinct:,}개",
        "text_not_stored": "(텍스트가 저장되어 있지 않음)",
        "corpus_chars": "{chars:,}자 (체크포인트에 담기에는 너무 김)",
        "about_goethe_lines": "괴테 인용문을 한 줄에 한 문장씩: 각 문장을 새 상태에서 읽으므로 *apply*와 *do*를 가르는 단서는 첫 단어뿐입니다.",
        "about_shakespeare": "Tiny Shakespeare: 셰익스피어 희곡 1.1 MB (char-rnn 데이터). 모델은 외우지 않고 일반화하도록 학습했습니다. "
        "마지막 5%는 검증용으로 떼어 두었고, 언어 모델답게 다음 문자를 확신하지 못합니다.",
        "about_lecture_ko": "강의 노트(시드 000-004)의 한국어 문장, 코드 제외: 모델이 여러분의 강의를 다시 쓰지만, 다음 문자마다 확신하지 못합니다.",
        "own_uploaded": "{name} (올린 모델)",
        "own_trained": "{name} (여기서 학습)",
        "compare_of": "**{text}**로 학습한 RNN, LSTM, GRU.",
        "compare_own": "이 모델의 텍스트는 직접 준 것이라, 비교에 쓸 내장 텍스트의 기본 모델이 없습니다.",
        "probe_model": "모델",
        "probe_as_is": "프롬프트 뒤",
        "probe_swapped": "먼 단어를 바꾼 뒤",
        "probe_verdict": "읽는 것",
        "probe_reads": "답이 바뀜: 먼 단어를 읽음",
        "probe_ignores": "답이 같음: 먼 단어를 읽지 않음",
        "probe_unsure": "동전 던지기: 둘을 구별하지 못함",
        "probe_training": "학습",
        "probe_learned": "파라미터 {parameters:,}개; {steps:,} 스텝({attempts}회 시도) 만에 텍스트를 외움",
        "probe_not_learned": "파라미터 {parameters:,}개; {steps:,} 스텝({attempts}회 시도) 뒤에도 품질 기준 미달",
        "card_title": "모델 카드",
        "card_corpus": "말뭉치",
        "card_source": "출처",
        "card_chars": "문자",
        "card_cell": "셀",
        "card_layers": "층 수",
        "card_hidden": "은닉 크기",
        "card_input": "입력",
        "card_one_hot": "원-핫 ({n}개 문자)",
        "card_embedding": "{n}차원 임베딩",
        "card_params": "파라미터 수",
        "card_steps": "학습 스텝",
        "card_seconds": "학습 시간",
        "card_attempts": "회 시도",
        "card_quality": "품질 (교사 강요 정확도, 자유 생성 복원율, 문자당 비트, 정답 문자의 최소 확률)",
        "card_below_bar": "**품질 기준 미달**: 이 모델은 자기 텍스트를 자신 있게 외우지 못합니다.",
        "card_epochs": "텍스트를 {n:.1f}번 읽음",
        "card_validation": "**검증: 문자당 {bpc:.3f}비트** (텍스트의 마지막 {share:.0%}, 학습에 쓰지 않은 {chars:,}자).",
        "snapshot_should_be": "정답은 {char}",
        "snapshot_right": "{n}자 중 {right}자 맞음",
        "no_snapshots": "이 모델은 긴 텍스트로 학습해 예측 문자열을 기록하지 않았습니다 (검증 문자당 비트는 모델 카드에 있습니다).",
        "inspect_none": "먼저 생성한 다음, 단계를 골라 그 문자를 뽑은 분포를 보세요.",
        "inspect_step": "{n}단계: {char}를 확률 {p:.1%}로 썼습니다.",
        "inspect_reshaped": "온도 {t:g}, top-k {k}, top-p {p:g}가 모델의 분포(왼쪽)를 실제로 뽑은 분포(오른쪽)로 바꿨습니다.",
        "inspect_greedy": "탐욕적 디코딩: 언제나 가장 확률이 높은 문자를 고릅니다.",
        "off": "끔",
        "state_h": "은닉 상태 h",
        "state_c": "셀 상태 c (LSTM의 기억)",
        "state_i": "입력 게이트 i",
        "state_f": "망각 게이트 f",
        "state_g": "후보 값 g",
        "state_o": "출력 게이트 o",
        "state_r": "리셋 게이트 r",
        "state_z": "업데이트 게이트 z",
        "state_n": "후보 값 n",
        "vector_mean": "평균 {mean:+.2f}",
        "vector_unit": "유닛 {unit}: {value:+.3f}",
        "job_running": "학습 중",
        "job_done": "완료",
        "job_stopped": "정지됨",
        "job_timed_out": "시간 초과",
        "job_failed": "실패",
        "job_starting": "시작하는 중",
        "job_training": "학습 중: {max_steps:,} 스텝 중 {step:,}",
        "job_saving": "모델을 평가하고 저장하는 중",
        "job_learned": "{step:,} 스텝({seconds:.1f}초) 만에 텍스트를 익혔습니다: {scores}",
        "job_all_steps": "{step:,} 스텝을 모두 썼지만 아직 텍스트를 자신 있게 외우지 못합니다: {scores}",
        "job_by_request": "{step:,} 스텝에서 멈췄습니다. 지금까지의 모델을 저장했습니다 ({scores})",
        "job_time_up": "{step:,} 스텝에서 시간 제한 {time_limit:g}초에 이르렀습니다. 지금까지의 모델을 저장했습니다 ({scores})",
        "job_shutdown": "프로그램이 종료되는 중이라 학습을 저장하지 않고 끝냈습니다",
        "job_discarded": "새 학습이 이 학습을 대신해 저장하지 않고 끝냈습니다",
        "job_error": "학습 실패: {problem}",
        "job_scores": "tf_acc {tf_acc:.1%}, recon {recon:.1%}, min_p {min_p:.2f}",
        "job_waiting": "대기 중",
        "job_left": "줄에 없음",
        "queue_waiting": "{position}번째로 기다리는 중입니다: 약 {start:,}초 뒤에 시작하고(늦어도 {start_max:,}초 뒤) "
        "약 {end:,}초 뒤에 끝납니다. 정지를 누르면 줄에서 나갑니다.",
        "queue_ends": " · 약 {end:,}초 뒤 끝남 (늦어도 {end_max:,}초 뒤)",
        "queue_cached": " · 같은 설정으로 먼저 한 학생의 실행 결과를 바로 받았습니다",
        "left_by_owner": "줄에서 나갔습니다. 남긴 것은 없습니다",
        "left_session_ended": "페이지가 닫혀 요청과 파일이 지워졌습니다",
        "left_closed": "앱이 종료되는 중이라 학습을 저장하지 않고 끝냈습니다",
        "left_expired": "요청한 지 한 시간이 지나 파일과 함께 지워졌습니다",
        "job_not_reached": "{step:,} 스텝 안에 품질 기준에 이르지 못해 지금 상태로 저장했습니다. 텍스트의 {recon:.0%}를 "
        "외우고, 다음 문자 예측의 {tf_acc:.1%}가 맞으며, 맞힌 것 중 가장 자신 없는 예측의 확률은 p = {min_p:.2f}입니다"
        "(기준: 100%, 100%, p ≥ 0.9). 스텝을 늘리거나, 은닉 크기를 키우거나, 텍스트를 줄이면 도움이 됩니다.",
        "lab_note_main": "기본 방법: 600 스텝, 기본 초기화, 커리큘럼 없음 (시드 2개)",
        "lab_note_more_seeds": "기본 방법, 시드 4개 더",
        "lab_note_lstm_forget_bias_1": "망각 게이트를 열어 두고 시작한 LSTM (편향 1), 600 스텝",
        "lab_note_lstm_forget_bias_1_2000_steps": "LSTM, 망각 편향 1, 2000 스텝",
        "lab_note_rnn_2000_steps": "tanh RNN, 2000 스텝",
        "lab_note_curriculum": "커리큘럼: 600 스텝의 처음 2/3 동안 학습 간격을 1에서 L까지 늘림",
        "lab_progress": "{steps:,} 스텝 중 {taken:,}",
        "lab_stopped": " (직접 정지함; 그때까지의 모델을 측정함)",
        "lab_yes": "기억함",
        "lab_no": "우연 수준",
        "lab_partly": "일부",
        "lab_limit": " (시간 제한으로 멈춤)",
        "lab_result": "**{cell}, L = {gap}: 정확도 {accuracy:.0%}** ({verdict}; 우연 {chance:.0%}) · "
        "검증 손실 {loss:.3f} · 은닉 {hidden}, 파라미터 {parameters:,}개 · {steps} 스텝, {seconds:.1f}초{limit}",
        "error_no_file": "올린 파일이 없습니다",
        "error_upload_in_use": "올린 모델을 쓰는 중입니다: 배포된 모델로 돌아가려면 텍스트를 고르세요",
        "error_compare_needs_corpus": "비교는 내장 텍스트로 학습한 기본 RNN, LSTM, GRU로 하는데, 이 모델의 텍스트는 직접 준 것입니다: "
        "비교하려면 내장 텍스트를 고르세요",
        "error_pick_text": "텍스트를 고르세요",
        "error_unexpected": "서버에서 문제가 생겼습니다 ({kind}). 다시 해 보세요",
        "error_checkpoint_named": "{source}: {problem}",
        "ex_step": "{n}단계 중 {t}단계: 모델이 {char}을(를) 읽습니다",
        "ex_left_out": "프롬프트의 마지막 {n:,}자입니다. 그 앞의 {left:,}자는 빠졌습니다.",
        "ex_input_onehot": "x_t는 {char}의 원-핫 벡터입니다: 문자 {size}개 중 {index}번 자리만 1, 나머지는 0",
        "ex_input_embedding": "x_t는 임베딩의 {index}번 행({size}개 숫자)으로, {char}에 대해 학습된 벡터입니다",
        "ex_layer": "{layers}개 층 중 {layer}번째 층: 이 층의 x_t는 아래 층의 h_t입니다",
        "ex_bias_note": "torch는 편향을 b_xh와 b_hh 두 개로 둡니다. b는 둘의 합입니다.",
        "ex_gru_convention": "torch의 GRU: h_t = (1 − z_t) ⊙ n_t + z_t ⊙ hₜ₋₁, 즉 z_t는 이전 상태를 얼마나 남길지입니다. "
        "시드 자료의 그림(colah)은 z_t를 새 값을 얼마나 쓸지로 씁니다: z_t와 1 − z_t를 바꾼 같은 셀입니다. "
        "또 torch는 r_t를 W_hn 뒤에 곱합니다: r_t ⊙ (W_hn hₜ₋₁ + b_hn).",
        "ex_units_shown": "{hidden}개 유닛 중 {units}번. 각 내적은 가장 큰 항들을 보이고 나머지는 합으로 묶었습니다.",
        "ex_unit": "유닛 {unit}",
        "ex_more": "외 {n}개",
        "ex_matrix_W_xh": "W_xh: 입력에서 은닉으로 (행: 각 게이트의 유닛)",
        "ex_matrix_W_hh": "W_hh: 은닉에서 은닉으로",
        "ex_matrix_b": "편향 (b = b_xh + b_hh)",
        "ex_matrix_W_hy": "W_hy: 출력층, 은닉에서 문자마다 점수 하나로",
        "ex_matrix_b_y": "b_y: 출력층의 편향",
        "ex_head": "출력층: 문자마다 점수(logit) 하나",
        "ex_softmax": "소프트맥스: 점수에서 확률로",
        "ex_greedy": "온도 0은 탐욕적 선택입니다: 가장 높은 점수인 {char}에 확률이 모두 갑니다.",
        "ex_top_k": "top-k {k}: 가장 가능성 높은 {k}개 문자만 남기고 다시 정규화합니다.",
        "ex_top_p": "top-p {p}: 확률의 합이 {p}에 이를 때까지의 가장 가능성 높은 문자만 남기고 다시 정규화합니다.",
        "ex_col_char": "다음 문자",
        "ex_col_logit": "점수 z",
        "ex_col_p": "÷ 합",
        "ex_col_final": "자른 뒤 (막대)",
        "ex_diagram_title": "{t}단계({char})의 셀, 유닛 {units}",
        "ex_diagram_legend": "모든 선에 유닛마다 줄 하나. 빨강은 양수, 파랑은 음수, 초록은 게이트가 열린 정도입니다. "
        "마우스를 올리거나 누르면 숫자가 보입니다.",
        "url_unknown": "링크의 매개변수 “{name}”은(는) 이 페이지에서 쓰지 않으므로 무시했습니다.",
        "url_repeated": "링크에 “{name}”이(가) 여러 번 있어 첫 번째 값만 사용했습니다.",
        "url_bad": "링크의 {name} = “{value}”은(는) 여기서 쓸 수 없어 무시했습니다 (가능한 값: {allowed}).",
        "url_too_long": "링크가 {n:,}자로 너무 깁니다 (최대 {limit:,}자). 링크의 설정을 모두 무시했습니다.",
        "tt_model": "이 모델 (은닉 상태 사용)",
        "tt_bigram": "바이그램 (바로 앞 문자만 봄)",
        "tt_unigram": "유니그램 (문자 빈도만 봄)",
        "tt_first": "첫 문자는 예측하지 않고 읽기만 합니다",
        "tt_surprise_tip": "{char}: {bits}비트, p = {p}, {of}개 중 {rank}위",
        "tt_bpc_unit": "문자당 비트",
        "tt_bpc_title": "문자당 비트 (낮을수록 덜 놀람)",
        "tt_worst_title": "모델이 가장 놀란 문자",
        "tt_col_char": "문자",
        "tt_col_position": "위치",
        "tt_col_bits": "비트",
        "tt_col_rank": "순위",
        "tt_surprise_legend": "각 문자를 놀람 정도(−log₂ p, 비트)로 칠했습니다. 진할수록 더 놀란 것이며, {of}개 문자 중 아무렇게나 "
        "찍을 때의 {blind}비트에서 가장 진합니다. 문자에 마우스를 올리거나 누르면 비트, 확률, 순위가 보입니다. 바이그램과 "
        "유니그램 모델은 학습 텍스트({chars}자)를 세어 만들고 1을 더해 평활화했습니다.",
        "tt_recited_tip": "외운 것: 학습 텍스트에 글자 그대로 있는 {k}자 이상의 구간에 속합니다 (여기는 {n}자)",
        "tt_invented_tip": "지어낸 것: 학습 텍스트의 어떤 {k}자 구간에도 속하지 않습니다 (여기는 {n}자)",
        "tt_prompt_tip": "프롬프트: 모델이 쓴 것이 아니라 주어진 것입니다 ({n}자)",
        "tt_shares": "모델이 쓴 {n}자 중 외운 것 {recited}, 지어낸 것 {invented}",
        "tt_recital_legend": "초록 바탕에 밑줄: 외운 것으로, 학습 텍스트에 글자 그대로 나오는 {k}자 이상의 구간에 속합니다. "
        "주황 바탕에 기울임: 지어낸 것. 회색: 프롬프트이며 비율에 넣지 않습니다.",
        "tt_flow_panel": "{name}: {target}의 확률 {p}",
        "tt_flow_input": "입력 xₜ",
        "tt_flow_hidden": "은닉 상태 hₜ",
        "tt_flow_cell": "셀 상태 cₜ",
        "tt_flow_tip": "{char}, {d}단계 앞: {norms}",
        "tt_flow_axis": "읽은 문자 (아래 숫자는 몇 단계 앞인지를 뜻하며, 1은 마지막으로 읽은 문자)",
        "tt_flow_line_input": "실선: 입력 xₜ",
        "tt_flow_line_hidden": "파선: 은닉 상태 hₜ",
        "tt_flow_line_cell": "점선: LSTM의 셀 상태 cₜ",
        "tt_flow_caption": "위치 {position}에서 {of}의 그래디언트를 앞선 각 단계의 벡터에 대해 구한 {norm} 노름을 로그 눈금으로 "
        "그렸습니다(격자선 하나가 10배). 그 자리를 조금 바꿀 때 이 예측이 얼마나 움직이는지를 뜻합니다.",
        "tt_flow_lines": "노름은 기억 실험실 과제의 검증용 줄 {lines}개에 대한 평균입니다.",
        "tt_course_seed": "시드 000의 방법 (10글자 창):",
        "tt_course_ours": "charmodels의 방법 (텍스트 전체를 하나의 시퀀스로):",
        "tt_course_right": "모든 문자를 맞힘",
        "tt_course_wrong": "{at}번째 문자부터 틀림",
        "tt_course_stopped": " (시간 제한에 걸려 멈춤)",
        "tt_course_detail": "{cell}, 유닛 {hidden}개 × {layers}층, {steps}단계, {seconds}초",
        "tt_course_text": "{name}: 다음 문자마다의 예측 (틀린 문자 표시)",
        "tt_course_progress": "{name} 학습 중: {recipe} {step}단계, 손실 {loss}, 지금까지 {seconds}초",
        "tt_why_window": "“{context}” 다음에 텍스트는 한 번은 “{first}”, 한 번은 “{second}”로 이어집니다. 둘을 가르는 것은 "
        "{needed}글자 앞의 문자({first_word}과 {second_word})뿐입니다. {window}글자 창은 그렇게 멀리 보지 못하므로, 이런 창으로 "
        "학습한 모델은 둘 중 하나를 반드시 틀립니다.",
        "tt_why_learnable": "이 텍스트는 다음 문자를 모두 맞히려면 {needed}글자의 문맥이 필요합니다. {window}글자 창이면 "
        "충분합니다. 텍스트 자체에는 걸림돌이 없지만, 그래도 학습은 해야 합니다.",
        "tt_why_never": "이 텍스트에는 똑같이 시작해서 다르게 끝나는 두 줄이 있습니다. 문맥을 아무리 길게 봐도 둘을 가를 수 "
        "없으므로, 어떤 방법으로도 모든 문자를 맞힐 수는 없습니다.",
        "lesson_heading": "카드 {n} / {total} · {title}",
        "lesson_one_hot_title": "원-핫 입력",
        "lesson_one_hot_look": "모델은 글자를 보지 못하고 숫자만 봅니다. xₜ는 어휘(e, h, i, l, o)만큼 긴 벡터로, 읽은 문자의 "
        "자리만 1이고 나머지는 모두 0입니다. ◀ ▶로 프롬프트를 한 글자씩 넘기며 1이 켜진 자리가 옮겨 가는 것을 보세요. "
        "이 벡터에 W_xh를 곱하면 W_xh의 열 하나를 골라낼 뿐입니다.",
        "lesson_memory_title": "은닉 상태가 곧 기억입니다",
        "lesson_memory_look": "5단계와 6단계는 둘 다 l을 읽지만, 모델은 첫 번째 l 다음에는 l을, 두 번째 l 다음에는 o를 "
        "예측합니다. 입력 xₜ는 두 번 모두 같으니, 차이는 앞 단계에서 넘어온 은닉 상태 hₜ₋₁에서만 나올 수 있습니다. "
        "5단계와 6단계에서 카드의 hₜ₋₁ 값을 비교해 보세요.",
        "lesson_softmax_title": "점수를 확률로: 소프트맥스",
        "lesson_softmax_look": "출력층은 모든 문자에 점수 z = W_hy hₜ + b_y를 매깁니다. 소프트맥스는 이 점수를 확률로 "
        "바꿉니다. 가장 큰 점수를 빼고, exp를 취한 뒤, 합으로 나눕니다. 이 모델은 긴 글을 배워 확신이 적기 때문에 여러 "
        "문자가 제법 큰 확률을 나눠 갖습니다. 표에서 계산의 각 단계를 이 모델의 실제 숫자로 확인하세요.",
        "lesson_cross_entropy_title": "교차 엔트로피: 모델이 얼마나 놀랐는가",
        "lesson_cross_entropy_look": "학습은 교차 엔트로피, 곧 실제로 나온 문자의 −log p(여기서는 비트 단위)를 줄이는 "
        "과정입니다. 각 문자를 이 값으로 칠했는데, 모델이 확률을 거의 주지 않은 오타 enoguh가 눈에 띕니다. 아래에는 같은 "
        "텍스트를 학습 텍스트의 바이그램 모델과 유니그램 모델로 읽은 결과가 있습니다. 이들과 모델의 문자당 비트 차이가 "
        "바로 은닉 상태가 더해 주는 정보입니다.",
        "lesson_temperature_title": "argmax냐 샘플링이냐: 온도",
        "lesson_temperature_look": "온도가 0이면 모델은 언제나 가장 가능성 높은 문자(argmax)를 씁니다. 그래서 같은 "
        "프롬프트는 매번 같은 글이 됩니다. 온도가 0보다 크면 각 문자를 softmax(z / T)에서 뽑습니다. T가 낮으면 막대가 "
        "뾰족해지고, 높으면 평평해져 글이 점점 이상해집니다. 슬라이더를 움직여 다시 생성해 보세요. 시드가 같으면 같은 "
        "결과가 다시 나옵니다.",
        "lesson_recital_title": "외운 것인가, 지어낸 것인가",
        "lesson_recital_look": "샘플에서 학습 텍스트에 글자 그대로(8자 이상) 나오는 부분에는 밑줄을 그어 '외운 것'으로, "
        "나머지는 '지어낸 것'으로 표시합니다. 텍스트를 통째로 외운 모델은 온도 0에서는 전부 외운 대로 쓰고, 1.5에서는 "
        "많은 부분을 새로 지어냅니다. 텍스트 위의 비율이 각각 얼마인지 알려 줍니다.",
        "lesson_replay_title": "학습 과정 다시 보기",
        "lesson_replay_look": "모델 카드는 이 RNN이 goethe를 배운 과정을 다시 보여 줍니다. 손실은 단계마다 줄어들고, 그 "
        "아래 슬라이더는 기록된 각 단계의 예측 문자열을 시드 코드가 출력하던 방식대로, 틀린 문자를 표시해 보여 줍니다. "
        "처음 예측은 대부분 틀리지만 끝에는 모든 문자를 맞힙니다.",
        "lesson_lstm_title": "LSTM: 게이트와 셀 상태",
        "lesson_lstm_look": "0과 1 사이 값을 내는 시그모이드(σ) 게이트 셋이 결정합니다. f는 이전 셀 상태 cₜ₋₁을 얼마나 "
        "남길지, i는 새 후보 g를 얼마나 쓸지, o는 tanh(cₜ)를 얼마나 hₜ로 내보낼지 정합니다. 셀 상태는 "
        "cₜ = f ⊙ cₜ₋₁ + i ⊙ g처럼 곱하고 더하기만 할 뿐 중간에 눌러 찌그러뜨리지 않으므로, f가 남긴 것은 거의 그대로 "
        "전달됩니다. 선 위에 마우스를 올리면 숫자가 보입니다.",
        "lesson_gru_title": "GRU: 게이트 둘, 상태 하나",
        "lesson_gru_look": "GRU에는 셀 상태가 따로 없습니다. 리셋 게이트 r은 후보 n이 hₜ₋₁을 얼마나 볼지, 업데이트 "
        "게이트 z는 hₜ₋₁을 얼마나 유지할지 정합니다. torch의 규약에서는 hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁이므로 z가 "
        "1에 가까우면 이전 상태가 그대로 남습니다(시드의 강의 노트는 z와 1 − z를 서로 바꿔 씁니다).",
        "lesson_gradient_flow_title": "장기 의존성: 그래디언트 흐름",
        "lesson_gradient_flow_look": "이 we must는 Knowing 뒤의 것(apply)일까요, Willing 뒤의 것(do)일까요? 답을 정하는 "
        "글자는 28글자 앞에 있습니다. 그래프는 이 예측이 앞의 각 문자에 얼마나 강하게 의존하는지(로그 확률의 그래디언트 "
        "노름)를 로그 눈금으로, RNN, LSTM, GRU를 나란히 놓고 보여 줍니다.",
        "lesson_lab_title": "장기 의존성: 기억 실험실",
        "lesson_lab_look": "각 줄은 한 글자로 시작하고, 간격만큼 채움 문자가 이어진 뒤, 끝에서 모델이 첫 글자를 다시 "
        "말해야 합니다. 그래프는 셀마다 간격에 따른 정확도를 보여 줍니다. 곡선이 찍어서 맞히는 수준으로 떨어지는 곳에서 그 "
        "셀은 잊어버린 것입니다. 직접 한 점을 실행해 학습되는 모습을 지켜보세요.",
        "lesson_course_title": "장기 의존성: 강의의 학습법",
        "lesson_course_look": "시드 000은 10글자 창으로 학습하며, 창마다 빈 상태에서 읽기 시작합니다. 버튼 한 번으로 이 "
        "방법과, 텍스트 전체를 하나의 시퀀스로 읽는 charmodels의 방법을 나란히 학습합니다. 10글자 창으로는 28글자 앞의 "
        "Willing을 볼 수 없으므로 창 방식은 we must apply와 we must do 중 하나를 반드시 틀립니다(시드의 실행 결과도 "
        "we must ao로 끝납니다). 전체 시퀀스로 학습한 모델은 텍스트를 그대로 외웁니다.",
    },
}

# ---- every error code of the library (charmodels.errors.MESSAGES) ----

ERRORS: dict[str, dict[str, str]] = {
    "en": dict(LIBRARY_MESSAGES),  # the library's own sentences
    "ko": {
        # numbers and text given to the library
        "not_text": "{name}은(는) 텍스트여야 합니다. 받은 값: {got}",
        "not_whole": "{name}은(는) {low}부터 {high}까지의 정수여야 합니다. 받은 값: {got}",
        "not_number": "{name}은(는) {low} ~ {high} 범위의 수여야 합니다. 받은 값: {got}",
        "not_number_above": "{name}은(는) {low}보다 크고 {high} 이하인 수여야 합니다. 받은 값: {got}",
        "not_choice": "{name}은(는) 다음 중 하나여야 합니다: {choices}. 받은 값: {got}",
        # prompts and vocabularies
        "empty_prompt": "프롬프트가 비어 있습니다: 모델이 읽을 문자를 하나 이상 주세요",
        "prompt_too_long": "프롬프트가 {n:,}자입니다. 한도는 {limit:,}자입니다",
        "unknown_chars": "모델의 어휘에 없는 문자: {shown}",
        "model_expected": "CharModel이 필요한데 {got}을(를) 받았습니다: 먼저 모델을 불러오세요. 예: load_checkpoint({name!r})",
        "text_expected": "{got!r}은(는) 말뭉치 이름이지 텍스트가 아닙니다: 그 말뭉치를 쓰려면 CORPORA[{got!r}]를, "
        "그 낱말 자체를 텍스트로 쓰려면 Corpus('mine', {got!r}, '')를 주세요",
        "vocab_empty": "어휘에는 문자가 하나 이상 있어야 합니다",
        "vocab_not_chars": "어휘의 각 항목은 정확히 한 문자여야 합니다. 받은 값: {got}",
        "vocab_repeats": "어휘에는 각 문자가 한 번씩만 있어야 하는데 이 문자들이 반복됩니다: {shown} "
        "(Vocab.from_text(text)는 텍스트 문자들의 정렬된 집합을 줍니다)",
        "bad_ids": "id는 0부터 {high}까지의 정수여야 합니다. 받은 값: {got}",
        "lines_conflict": "lines={lines}가 말뭉치 {name!r}의 lines({corpus_lines})와 어긋납니다: "
        "Corpus는 자기 lines를 가지고 오므로 lines를 빼세요",
        # texts to train on
        "text_empty": "텍스트가 비어 있습니다: 학습할 텍스트를 주세요",
        "text_too_short": "텍스트는 최소 2자여야 합니다: 읽을 문자 하나와 예측할 문자 하나",
        "text_one_char": "텍스트가 한 가지 문자({char})만 씁니다: 모델이 고를 수 있도록 서로 다른 문자가 두 개 이상 필요합니다",
        "text_too_long": "텍스트가 {n:,}자입니다. 한도는 {limit:,}자이니 {over:,}자를 줄이세요",
        "file_too_large": "파일이 {size:,}바이트입니다: 최대 {limit:,}자인 텍스트라기엔 너무 큽니다",
        "file_not_utf8": "파일이 UTF-8 텍스트가 아닙니다 ({at:,}번째 바이트를 읽을 수 없음): UTF-8로 저장하세요",
        "file_binary": "파일에 NUL 바이트가 있습니다: 텍스트가 아니라 바이너리 파일로 보입니다",
        "no_lines": "텍스트에 문자가 있는 줄이 없습니다: 줄마다 따로 학습하려면 비어 있지 않은 줄이 하나 이상 필요합니다",
        "long_text_too_short": "긴 텍스트는 최소 4자여야 합니다: 학습할 부분과 따로 떼어 둘 부분이 필요합니다",
        "hold_out_too_much": "텍스트({n:,}자)가 너무 짧아 {share}를 떼어 두고 나머지로 학습할 수 없습니다",
        "too_many_streams": "학습 부분이 {n:,}자라 스트림 {streams:,}개에는 너무 적습니다: 배치 크기를 줄이세요",
        "corpus_name": "이름에는 글자, 숫자, '_', '.'만 쓸 수 있습니다. 받은 값: {got}",
        # the command line (python -m charmodels)
        "cli_no_text": "이 체크포인트에는 학습 텍스트가 들어 있지 않습니다: --text-file PATH로 평가할 텍스트를 주세요",
        "cli_long_text": "이 체크포인트는 긴 텍스트 {about}로 학습했는데 그 텍스트가 들어 있지 않습니다: "
        "검증 bpc를 재려면 그 파일을 --text-file PATH로 주세요",
        "cli_text_unreadable": "{path}를 읽을 수 없습니다: {detail}",
        "cli_text_mismatch": "{path}는 이 체크포인트를 학습한 텍스트 {about}가 아닙니다",
        # models the app serves
        "unknown_checkpoint": "알 수 없는 체크포인트 {got}: <말뭉치>-<셀> 형식으로 다음 중 하나를 쓰세요: {choices}",
        "upload_gone": "올린 모델이 더 이상 메모리에 없습니다: 파일을 다시 올리세요",
        "upload_too_large": "파일이 {size:,}바이트입니다. 이 앱은 {limit:,}바이트까지의 체크포인트만 받습니다",
        "training_busy": "다른 학습이 진행 중입니다. 그 학습이 끝나면 다시 해 보세요 (한 번에 {limit}개까지, 각각 최대 {seconds:g}초)",
        "request_unknown": "이 세션에 그런 요청이 없습니다: 이미 끝났거나, 만료되었거나, 새 요청으로 바뀌었습니다. 다시 요청하세요",
        "queue_closed": "앱이 종료되는 중이라 새 학습을 받지 않습니다",
        "worker_died": "학습 프로세스가 예기치 않게 끝났습니다 (종료 코드 {exit_code}). 다시 요청해 주세요",
        # explaining through time (charmodels.surprise, recital, course)
        "surprise_no_training_text": "이 체크포인트에는 학습 텍스트가 들어 있지 않습니다: 유니그램·바이그램 모델이 셀 텍스트를 함께 주세요 (training_text=...)",
        "recital_no_training_text": "이 체크포인트에는 학습 텍스트가 들어 있지 않습니다: 그대로 외운 구간을 찾을 텍스트를 함께 주세요 (training_text=...)",
        "course_text_too_short": "강의의 레시피는 {window}글자 창으로 읽습니다: {window}글자보다 긴 텍스트를 주세요",
        # checkpoint files
        "file_not_found": "파일이 없습니다",
        "not_a_file": "파일이 아닙니다",
        "file_empty": "파일이 비어 있습니다",
        "file_unreadable": "파일을 읽을 수 없습니다: {detail}",
        "checkpoint_too_large": "파일이 {size:,}바이트로, 어떤 charmodels 체크포인트보다도 훨씬 큽니다",
        "pickle": "이 파일은 safetensors가 아니라 파이썬 피클입니다. charmodels는 피클을 절대 불러오지 않습니다",
        "torch_zip": "이 파일은 safetensors가 아니라 torch.save zip 파일(안에 피클이 있음)입니다. "
        "charmodels는 피클을 절대 불러오지 않습니다",
        # the detail is the safetensors library's own English: left out of the Korean sentence
        "not_safetensors": "읽을 수 있는 safetensors 파일이 아닙니다 (잘렸거나 손상되었나요?)",
        "not_charmodels": "safetensors 파일이지만 charmodels 체크포인트가 아닙니다 (charmodels 형식 표시가 없음)",
        "not_train_state": "safetensors 파일이지만 charmodels 학습 상태가 아닙니다",
        "no_train_state": "여기에는 학습 상태가 없습니다: 체크포인트 경로를 주고 저장한 실행인가요?",
        "train_state_version": "학습 상태 버전 {got}은(는) 지원하지 않습니다 (이 charmodels는 {supported}을(를) 읽습니다)",
        "metadata_missing": "메타데이터가 빠져 있습니다: {keys}",
        "metadata_json": "메타데이터 항목 {key}가 올바른 JSON이 아닙니다",
        "metadata_entry": "메타데이터 항목 {where}는 JSON {expected}여야 합니다",
        "format_version": "형식 버전 {got}은(는) 지원하지 않습니다 (이 charmodels는 {supported}을(를) 읽습니다)",
        "tensors_corrupted": "텐서 데이터가 기록된 SHA-256과 맞지 않습니다: 파일이 손상되었습니다",
        "metadata_corrupted": "메타데이터가 기록된 SHA-256과 맞지 않습니다: 파일이 손상되었습니다",
        "bad_config": "잘못된 모델 설정: {detail}",
        "vocab_not_list": "잘못된 어휘: 문자의 목록이어야 하는데 {got}입니다",
        "vocab_none": "잘못된 어휘: 문자가 하나도 없습니다",
        "vocab_entry": "잘못된 어휘: {index}번 항목이 한 문자가 아니라 {got}입니다",
        "vocab_repeated": "잘못된 어휘: {shown}가 두 번 이상 나옵니다",
        "tensor_names": "텐서가 설정과 맞지 않습니다 (빠진 것: {missing}, 예상 밖의 것: {unexpected})",
        "tensor_shape": "텐서 {tensor}의 모양이 {got}인데, 설정에는 {expected}가 필요합니다",
        "tensor_dtype": "텐서 {tensor}가 float32가 아니라 {got}입니다",
        "not_finite": "텐서 {tensor}에 유한하지 않은 값(NaN 또는 무한대)이 있습니다",
        "no_such_checkpoint": "그런 체크포인트 파일이나 배포된 이름이 없습니다 (배포된 이름: {choices})",
        "hub_name": "Hub 체크포인트 이름은 hf://owner/repo(그 저장소의 model.safetensors) 또는 hf://owner/repo/file.safetensors 형식입니다",
        "pretrained_no_weights": "model.safetensors가 없습니다: save_pretrained로 저장한 모델 폴더가 아닙니다",
        "pretrained_no_config": "model.safetensors 옆에 config.json이 없습니다: save_pretrained로 저장한 폴더가 아닙니다 (load_checkpoint는 model.safetensors만으로 읽습니다)",
        "pretrained_config": "config.json이 JSON 객체가 아닙니다: {detail}",
        "pretrained_config_mismatch": "config.json이 model.safetensors와 다릅니다: {keys}",
        "hub_repo_id": "Hub 저장소 이름은 owner/name 형식입니다 (영문자, 숫자, '-', '_', '.', 최대 96자). 받은 값: {got}",
        "hub_push_offline": "오프라인 모드(HF_HUB_OFFLINE=1)라서 {repo}에 아무것도 올리지 않았습니다. 올릴 내용은 {folder}에 모두 준비되어 있습니다. 나중에 이 명령으로 올리세요: {command}",
        "hub_push_no_token": "Hugging Face Hub에 로그인하지 않아 {repo}에 아무것도 올리지 않았습니다. 올릴 내용은 {folder}에 모두 준비되어 있습니다. `hf auth login`으로 로그인(또는 HF_TOKEN 설정)한 뒤 실행하세요: {command}",
        "hub_push_unreachable": "Hugging Face Hub({endpoint})에 연결할 수 없어(네트워크가 없나요?) {repo}에 아무것도 올리지 않았습니다. 올릴 내용은 {folder}에 모두 준비되어 있습니다. 나중에 이 명령으로 올리세요: {command}",
        "hub_push_failed": "{repo}에 올리지 못했습니다 ({detail}). 올릴 내용은 {folder}에 모두 준비되어 있습니다. 다시 시도하세요: {command}",
        "hub_offline": "오프라인 모드(HF_HUB_OFFLINE=1)이고 로컬 Hugging Face 캐시에도 없습니다",
        "hub_unreachable": "Hugging Face Hub({endpoint})에 연결할 수 없습니다: 네트워크가 없나요?",
        "hub_failed": "Hugging Face Hub에서 가져오지 못했습니다 ({detail})",
        # saving a checkpoint
        "metadata_reserved": "메타데이터 키 {key}는 체크포인트 형식이 쓰는 이름입니다",
        "metadata_not_json": "메타데이터 {key}를 JSON으로 쓸 수 없습니다: {detail}",
        "not_units": "units는 0부터 {high}까지의 유닛 번호 목록이어야 합니다. 받은 값: {got}",
    },
}

# Names the library gives in an error's `name` parameter, and the English it writes for
# invisible characters (vocab.describe_char): said in the page's language.
FIELD_NAMES = {
    "ko": {"length": "생성할 문자 수", "temperature": "온도", "top_k": "top-k", "top_p": "top-p", "seed": "시드",
           "hidden size": "은닉 크기", "steps": "학습 스텝", "time limit": "시간 제한", "cell": "셀",
           "gap": "간격 L", "prompt": "프롬프트", "checkpoint": "체크포인트", "text": "텍스트", "interval": "간격"},
}
CHAR_NAMES = {"ko": {"space": "공백", "newline": "줄바꿈", "tab": "탭", "carriage return": "캐리지 리턴"}}


def _tables() -> dict[str, dict[str, str]]:
    """One table per language; a key in two sections is a mistake, refused here."""
    tables = {}
    for lang in LANGUAGES:
        merged: dict[str, str] = {}
        for section in (UI, MESSAGES, ERRORS):
            clash = merged.keys() & section[lang].keys()
            if clash:
                raise KeyError(f"i18n keys defined twice: {sorted(clash)}")
            merged.update(section[lang])
        tables[lang] = merged
    return tables


TABLES = _tables()


def say(lang: str | None, key: str, /, **params: Any) -> str:
    """The sentence for `key` in the page's language (English where Korean lacks it), filled in."""
    table = TABLES[language(lang)]
    template = table.get(key, TABLES["en"][key])
    return template.format(**params)


def code_text(lang: str | None, code: str, params: dict[str, Any]) -> str:
    """The sentence for a library error code (or an unexpected exception's type name, as
    `charmodels.jobs` reports one), field and character names in the page's language."""
    lang = language(lang)
    if code not in ERRORS["en"]:
        return say(lang, "error_unexpected", kind=code)
    params = dict(params)
    if isinstance(params.get("name"), str):
        params["name"] = FIELD_NAMES.get(lang, {}).get(params["name"], params["name"])
    if isinstance(params.get("char"), str):
        params["char"] = CHAR_NAMES.get(lang, {}).get(params["char"], params["char"])
    return say(lang, code, **params)


def error_text(lang: str | None, error: BaseException) -> str:
    """What the page says about an error, in its language; never a path of the server.

    A CharmodelsError is said from its code and parameters; a CheckpointError names its
    source only when the visitor typed it (a shipped or hf:// name), never an uploaded
    file's place on the server. Anything else is an unexpected failure, logged here.
    """
    if isinstance(error, CharmodelsError):
        problem = code_text(lang, error.code, error.params)
        if isinstance(error, CheckpointError) and _typed_by_visitor(error.source):
            return say(lang, "error_checkpoint_named", source=error.source, problem=problem)
        return problem
    key = getattr(error, "key", None)  # demo/service.py's PageError
    if isinstance(key, str) and key in TABLES["en"]:
        return say(lang, key, **getattr(error, "params", {}))
    log.error("unexpected error in the app", exc_info=error)
    return say(lang, "error_unexpected", kind=type(error).__name__)


def _typed_by_visitor(source: str) -> bool:
    from charmodels import serving

    return source.startswith("hf://") or source in serving.shipped()
