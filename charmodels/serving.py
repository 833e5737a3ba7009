"""The app's model service: checkpoints by name, each loaded once per process and
shared read-only by every session; requests checked and bounded for a public page.

Nothing here keeps per-user state: every call gets its own recurrent state and its own
random generator, so concurrent users cannot see each other's results.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import HF_PREFIX, load_checkpoint, shipped_names
from .corpora import CORPORA
from .model import CELLS, CharModel
from .checkpoint import corpus_of
from .sampling import Step, generate, next_char_probs
from .views import quoted, say

TOP = 10  # characters shown as bars
MAX_LENGTH = 2000  # characters one request may generate
MAX_TEMPERATURE = 2.0
MAX_PROMPT_READ = 20_000  # a longer prompt is read from its last this-many characters
UPLOAD_PREFIX = "upload-"
MAX_UPLOADS = 32  # uploaded models kept in memory, oldest dropped first

# A prompt per corpus that keeps the page alive on load: each stops where the next
# character is the lesson (apply vs do, the third word of pets, ...).
DEFAULT_PROMPTS = {
    "goethe": "Knowing is not enough; we must ",
    "anthem": "O say can you see, by the ",
    "seoul": " seoul is the capital of ",
    "hihello": "hihell",
    "pets": "you love ",
    "avengers": "We are going to ",
    "boat": "The boat is on the ",
    "tsingtao": "나는 한국 사람이고, 중국 ",
}
# The one-click lesson: the last "we must " needs 28 characters of context to say "do".
LONG_CONTEXT_EXAMPLE = ("goethe", "Knowing is not enough; we must apply. Willing is not enough; we must ")

_models: OrderedDict[str, CharModel] = OrderedDict()
_lock = threading.Lock()


def get_model(checkpoint: str) -> CharModel:
    """A shipped name (`goethe-lstm`), an upload key, or `hf://owner/repo/file.safetensors`."""
    if checkpoint is not None and not isinstance(checkpoint, str):  # the API is JSON: a number can arrive
        raise ValueError(f"the checkpoint must be a name such as goethe-lstm, got {type(checkpoint).__name__}")
    key = (checkpoint or "").strip()
    with _lock:
        if key in _models:
            return _models[key]
    if key.startswith(HF_PREFIX) or key in shipped_names():
        model = load_checkpoint(key)  # outside the lock: a slow download must not stall other users
        with _lock:
            return _models.setdefault(key, model)  # a concurrent load of the same key: keep one
    if key.startswith(UPLOAD_PREFIX):
        raise ValueError(f"the uploaded model {key!r} is no longer in memory: upload the file again")
    raise ValueError(f"unknown checkpoint {key!r}: use <corpus>-<cell>, one of {', '.join(shipped_names())}")


def register_upload(path: str | Path) -> str:
    """Validate an uploaded checkpoint file and keep its model; returns the key to use it by."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    key = f"{UPLOAD_PREFIX}{digest[:16]}"
    model = load_checkpoint(Path(path))  # raises CheckpointError naming the problem
    with _lock:
        _models[key] = model
        uploads = [k for k in _models if k.startswith(UPLOAD_PREFIX)]
        for old in uploads[: max(0, len(uploads) - MAX_UPLOADS)]:
            del _models[old]
    return key


def start_char(model: CharModel) -> str:
    """Where an empty prompt starts: the corpus's first character, as training did."""
    corpus = corpus_of(model)
    if corpus is None:
        corpus = CORPORA.get(model.info.get("corpus", {}).get("name", ""))
    return corpus.text[0] if corpus is not None else model.vocab.chars[0]


def prepare_prompt(model: CharModel, prompt: str | None, lang: str = "en") -> tuple[str, list[str]]:
    """The prompt the model can read, and notes saying what was changed and why."""
    if prompt is not None and not isinstance(prompt, str):  # the API is JSON: a number can arrive
        raise ValueError(f"the prompt must be text, got {type(prompt).__name__}")
    text = prompt or ""
    notes = []
    unknown = model.vocab.unknown(text)
    if unknown:
        text = "".join(c for c in text if c in model.vocab)
        notes.append(say(lang, "unknown", chars=", ".join(quoted(c) for c in unknown[:20])))
    if not text:
        text = start_char(model)
        notes.append(say(lang, "nothing_left" if unknown else "empty", char=quoted(text)))
    if len(text) > MAX_PROMPT_READ:
        text = text[-MAX_PROMPT_READ:]
        notes.append(say(lang, "trimmed", n=MAX_PROMPT_READ))
    return text, notes


def next_chars(checkpoint: str, prompt: str | None, lang: str = "en") -> tuple[list[tuple[str, float]], list[str]]:
    """The top next characters after the prompt, and notes on how the prompt was read."""
    model = get_model(checkpoint)
    text, notes = prepare_prompt(model, prompt, lang)
    return next_char_probs(model, text)[:TOP], notes


@dataclass(frozen=True)
class Request:
    length: int
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int | None


def check_request(length, temperature, top_k, top_p, seed) -> Request:
    """Bounds for a public page: clear ValueErrors, and 0 / 1 / -1 meaning "off"."""

    def number(name: str, value, kind=float):
        if value is None or isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {value!r}")
        try:
            result = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if kind is float and result != result:
            raise ValueError(f"{name} must be a number, got NaN")
        if kind is int and result != value:
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return result

    length = number("length", length, int)
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be a whole number from 1 to {MAX_LENGTH}, got {length!r}")
    temperature = number("temperature", temperature)
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be from 0 (greedy) to {MAX_TEMPERATURE:g}, got {temperature:g}")
    k = None if top_k in (None, 0) else number("top_k", top_k, int)
    if k is not None and k < 1:
        raise ValueError(f"top_k must be 0 (off) or at least 1, got {top_k!r}")
    p = None if top_p is None else number("top_p", top_p)
    if p is not None and not 0 < p <= 1:
        raise ValueError(f"top_p must be above 0 and at most 1 (1 = off), got {top_p!r}")
    s = None if seed in (None, -1) else number("seed", seed, int)
    if s is not None and not 0 <= s < 2**63:
        raise ValueError(f"seed must be -1 (random) or a whole number from 0, got {seed!r}")
    return Request(length, temperature, k, None if p == 1 else p, s)


def stream(checkpoint: str, prompt: str | None, request: Request, lang: str = "en") -> tuple[str, list[str], Iterator[Step]]:
    """The prompt as read, notes, and the steps of its continuation (lazily generated)."""
    model = get_model(checkpoint)
    text, notes = prepare_prompt(model, prompt, lang)
    steps = generate(model, text, request.length, request.temperature, request.top_k, request.top_p, request.seed)
    return text, notes, steps


def step_record(step: Step) -> dict:
    """One generated step as JSON: what was written, and both distributions' top characters."""
    return {
        "char": step.char,
        "prob": step.prob,  # the model's probability of it
        "drawn_prob": float(step.dist[step.index]),  # its probability in the distribution sampled from
        # always TOP entries, zeros included: Gradio 6.31 streams each yield as a diff of the last,
        # and its diff garbles a nested list that shrinks by two or more items
        "top": [[c, p] for c, p in step.top(TOP)],
        "model_top": [[c, p] for c, p in step.top(TOP, model=True)],
    }


def compare(corpus: str, prompt: str | None, length: int, lang: str = "en") -> list[dict]:
    """The same prompt through the corpus's RNN, LSTM and GRU, greedy."""
    request = check_request(length, 0.0, None, None, None)
    results = []
    for cell in CELLS:
        checkpoint = f"{corpus}-{cell}"
        text, notes, steps = stream(checkpoint, prompt, request, lang)
        pairs, _ = next_chars(checkpoint, text, lang)
        results.append({"cell": cell, "next": pairs, "text": "".join(s.char for s in steps), "notes": notes})
    return results


def training_text(checkpoint: str) -> str | None:
    """The text exactly as training read it (each line ending in a newline for a corpus of lines)."""
    model = get_model(checkpoint)
    corpus = corpus_of(model) or CORPORA.get(model.info.get("corpus", {}).get("name", ""))
    return "".join(corpus.sequences()) if corpus is not None else None


def history(checkpoint: str) -> dict:
    """The recorded training history: loss curve and prediction strings."""
    return get_model(checkpoint).info.get("history", {})


def warm_up(checkpoint: str = "goethe-lstm") -> None:
    """Load torch and one model so the first visitor does not wait for them.

    The app serves tiny models to many users at once: one intra-op thread per call beats
    several threads fighting over two cores (measured up to 100x slower in the lab).
    """
    import torch

    torch.set_num_threads(1)
    next_chars(checkpoint, DEFAULT_PROMPTS["goethe"])


MAX_INSIDE = 160  # characters shown in the inside views; a longer prompt shows its end


def inside(checkpoint: str, prompt: str | None, lang: str = "en"):
    """Everything the model computes while reading the prompt (charmodels.explain.trace)."""
    from .explain import trace

    model = get_model(checkpoint)
    text, notes = prepare_prompt(model, prompt, lang)
    if len(text) > MAX_INSIDE:
        text = text[-MAX_INSIDE:]
        notes.append(say(lang, "trimmed", n=MAX_INSIDE))
    return trace(model, text), model.config.cell, notes


def saliencies(checkpoints: list[str], prompt: str | None, lang: str = "en") -> list[dict]:
    """For each model: its next-character prediction and how much each prompt character drove it (occlusion)."""
    from .explain import saliency

    results = []
    for checkpoint in checkpoints:
        model = get_model(checkpoint)
        text, _ = prepare_prompt(model, prompt, lang)
        text = text[-MAX_INSIDE:]
        found = saliency(model, text)
        results.append(
            {"checkpoint": checkpoint, "chars": list(text), "target": found.target, "prob": found.target_prob,
             "scores": found.scores.tolist(), "method": found.method}
        )
    return results


# ---- training a user's own text (charmodels.jobs), addressable by id so a Stop button can end it ----

_trainings: OrderedDict[str, object] = OrderedDict()
MAX_TRAININGS_KEPT = 16


def start_training(text: str, name: str, cell: str, hidden_size, steps, lines: bool = False):
    """Start a TrainingJob (checked up front, refused at once when the slot is taken); returns (id, job)."""
    import uuid

    from .jobs import TrainingJob

    job = TrainingJob(text, cell, hidden_size, steps, name=(name or "mytext").strip(), lines=lines)
    job_id = uuid.uuid4().hex
    with _lock:
        _trainings[job_id] = job
        while len(_trainings) > MAX_TRAININGS_KEPT:
            _trainings.popitem(last=False)
    return job_id, job


def stop_training(job_id: str | None) -> None:
    """Ask a training to end; its model so far is still saved and offered."""
    with _lock:
        job = _trainings.get(job_id or "")
    if job is not None:
        job.stop()


# ---- the long-term-dependency lab (charmodels.lab): shipped results and a live re-run of one point ----

LAB_MAX_GAP = 80
LAB_MAX_STEPS = 2000
LAB_TIME_LIMIT = 60.0  # seconds a live lab run may take; the model so far is then measured


def lab_results() -> dict:
    """The shipped grids: name -> {"note", "config", "means"}; "main" is the plain recipe."""
    from .lab import load_results

    data = load_results()
    grids = {"main": data["main"], **data.get("variants", {})}
    return {name: {"note": grid["config"].get("note", name), "config": grid["config"], "means": grid["means"]}
            for name, grid in grids.items()}


def _every_nth(points: list, keep: int = 400) -> list:
    """At most about `keep` evenly spaced points, the last one always included."""
    stride = max(1, -(-len(points) // keep))
    return points[::stride] + ([points[-1]] if points and (len(points) - 1) % stride else [])


def lab_run(cell: str, gap, steps, seed, forget_bias: bool, curriculum: bool, interval: float = 0.3):
    """Train one lab point in a thread; yields (steps so far, [(step, loss)], result or None) until it ends."""
    import queue
    import time

    from .lab import LabConfig, run_point

    gap, steps, seed = int(gap), int(steps), int(seed)
    if not 1 <= gap <= LAB_MAX_GAP or not 1 <= steps <= LAB_MAX_STEPS:
        raise ValueError(f"the live lab takes gaps 1-{LAB_MAX_GAP} and 1-{LAB_MAX_STEPS} steps")
    config = LabConfig(cell=cell, gap=gap, steps=steps, seed=seed,
                       forget_bias=1.0 if forget_bias and cell == "lstm" else None, curriculum=bool(curriculum))
    losses: queue.SimpleQueue = queue.SimpleQueue()
    done: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    started = time.monotonic()

    def on_step(step: int, loss: float) -> bool:
        losses.put((step, loss))
        return not stop.is_set() and time.monotonic() - started < LAB_TIME_LIMIT

    def work() -> None:
        try:
            done.put(run_point(config, on_step))
        except Exception as error:  # handed to the caller's thread, raised there
            done.put(error)

    threading.Thread(target=work, daemon=True).start()
    curve: list[tuple[int, float]] = []
    try:
        while True:
            time.sleep(interval)
            while not losses.empty():
                curve.append(losses.get())
            if not done.empty():
                result = done.get()
                if isinstance(result, Exception):
                    raise result
                yield len(curve), _every_nth(curve), result
                return
            yield len(curve), _every_nth(curve), None
    finally:
        stop.set()  # the page went away or the run was cancelled: end the thread's training too
